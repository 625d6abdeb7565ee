// A worker against a fake broker that sends it TASK frames it cannot decode (issue #14,
// section 3): the worker runs what decodes, REFUSEs the rest by key, gets every slot back
// as credit, and keeps taking work.

#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/codec.h"
#include "lite/server.h"
#include "tests/integration/worker/fake_router.h"
#include "tests/support/status_matchers.h"
#include "worker/worker.h"

namespace btrq::worker {
namespace {

using ::btrq::testing::AckAll;
using ::btrq::testing::All;
using ::btrq::testing::CountOf;
using ::btrq::testing::CreditGranted;
using ::btrq::testing::FakeRouter;
using ::btrq::testing::Received;
using namespace std::chrono_literals;

constexpr char kWorkerId[] = "w-poison";

TaskSpec Noop(JobId job, int64_t start, Fields params = {}) {
  TaskSpec t;
  t.key = {job, Uuid::Random(), start};
  t.end = start + 1'000'000;
  t.analytic = "noop";
  t.params = std::move(params);
  return t;
}

bool Done(const std::vector<Received>& log, const TaskKey& key) {
  for (const DoneMsg& d : All<DoneMsg>(log)) {
    for (const DoneItem& item : d.items) {
      if (item.task.key == key) return true;
    }
  }
  return false;
}

std::vector<RefuseItem> Refused(const std::vector<Received>& log) {
  std::vector<RefuseItem> out;
  for (const RefuseMsg& m : All<RefuseMsg>(log)) out.insert(out.end(), m.items.begin(), m.items.end());
  return out;
}

class PoisonTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lite::ServerOptions lite_options;
    lite_options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(btrdb_, lite::Server::Start(lite_options));
    ASSERT_OK(analytics::RegisterBuiltins(&registry_));
    ASSERT_OK(broker_.Start());
    ASSERT_OK(sink_.Start());
    broker_.SetAutoHeartbeat(25ms);
    sink_.SetResponder(AckAll);
    WorkerConfig config;
    config.worker.broker = broker_.endpoint();
    config.worker.sink = sink_.endpoint();
    config.worker.threads = 2;  // credit 4
    config.worker.heartbeat_interval = 50'000'000;
    config.btrdb.endpoints = btrdb_->address();
    config.liveness = 10;
    config.resend_initial = 200'000'000;
    config.resend_max = 400'000'000;
    config.worker_id = kWorkerId;
    ASSERT_OK_AND_ASSIGN(worker_, Worker::Create(config, SystemClock::Default(),
                                                 WorkerDeps{&registry_, nullptr}));
    run_ = std::async(std::launch::async, [w = worker_.get()] { return w->Run(); });
    ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CreditGranted(log) >= 4; }));
  }

  void TearDown() override {
    if (worker_) {
      worker_->Shutdown();
      worker_->Shutdown();
      EXPECT_EQ(run_.wait_for(20s), std::future_status::ready);
      worker_.reset();
    }
    broker_.Stop();
    sink_.Stop();
    if (btrdb_) btrdb_->Shutdown();
  }

  // A normal task after the poison completes: the worker was not wedged.
  void ExpectANormalTaskCompletes(JobId job) {
    const TaskSpec next = Noop(job, 0);
    broker_.Send(FakeRouter::kLastPeer, Message(TaskMsg{{next}}));
    EXPECT_TRUE(broker_.WaitUntil([&](const auto& log) { return Done(log, next.key); }))
        << "a normal task after the poison never finished";
  }

  std::unique_ptr<lite::Server> btrdb_;
  analytics::Registry registry_;
  FakeRouter broker_;
  FakeRouter sink_;
  std::unique_ptr<Worker> worker_;
  std::future<Status> run_;
};

TEST_F(PoisonTaskTest, TasksItCannotDecodeAreRefusedByKeyAndTheirCreditComesBack) {
  Fields many;
  for (int i = 0; i < 4097; ++i) many.emplace_back("p" + std::to_string(i), int64_t{i});
  const TaskSpec good = Noop(1, 0);
  const TaskSpec big = Noop(2, 0, {{"x", std::string(1153433, 'x')}});
  const TaskSpec dup = Noop(2, 1'000'000, {{"a", int64_t{1}}, {"a", int64_t{2}}});
  const TaskSpec wide = Noop(2, 2'000'000, many);
  broker_.Send(FakeRouter::kLastPeer, Message(TaskMsg{{good, big, dup, wide}}));

  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return Refused(log).size() >= 3; }))
      << "no REFUSE for the tasks the worker could not decode";
  const std::vector<RefuseItem> refused = Refused(broker_.Log());
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[0].task, (TaskRef{big.key, 1}));
  EXPECT_EQ(refused[1].task, (TaskRef{dup.key, 1}));
  EXPECT_EQ(refused[2].task, (TaskRef{wide.key, 1}));
  EXPECT_NE(refused[1].reason.find("duplicate"), std::string::npos) << refused[1].reason;
  // The good task of the same frame runs; every slot comes back (4 at first, 4 used).
  EXPECT_TRUE(broker_.WaitUntil([&](const auto& log) { return Done(log, good.key); }));
  EXPECT_TRUE(broker_.WaitUntil([](const auto& log) { return CreditGranted(log) >= 8; }))
      << "the refused tasks' credit never came back";
  ExpectANormalTaskCompletes(3);
}

TEST_F(PoisonTaskTest, AFrameOverTheLimitStillRunsItsTasks) {
  // 256 tasks whose params add up to more than max_message_bytes (16 MiB): each task is
  // fine, the frame is not. Sent at once, beyond the credit: the worker counts the excess.
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 256; ++i) tasks.push_back(Noop(4, i * 1'000'000, {{"x", std::string(66'000, 'x')}}));
  const std::vector<TaskKey> keys = [&] {
    std::vector<TaskKey> k;
    for (const TaskSpec& t : tasks) k.push_back(t.key);
    return k;
  }();
  broker_.Send(FakeRouter::kLastPeer, Message(TaskMsg{std::move(tasks)}));
  EXPECT_TRUE(broker_.WaitUntil(
      [&](const auto& log) {
        for (const TaskKey& k : keys) {
          if (!Done(log, k)) return false;
        }
        return true;
      },
      60s))
      << "the tasks of an oversized frame were lost";
  EXPECT_TRUE(Refused(broker_.Log()).empty());
  ExpectANormalTaskCompletes(5);
}

TEST_F(PoisonTaskTest, AFrameWhoseTasksCannotBeCountedMakesItSayHelloAgain) {
  // Wait for a heartbeat first: re-HELLOs are at most one per heartbeat interval.
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<HeartbeatMsg>(log) >= 2; }));
  std::string frame = EncodeMessage(Message(TaskMsg{{Noop(6, 0)}}));
  frame.resize(frame.size() / 2);  // truncated: not walkable
  broker_.SendFrames(FakeRouter::kLastPeer, {frame});
  EXPECT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<HelloMsg>(log) >= 2; }))
      << "credit used by an unreadable frame would leak without a new HELLO";
  ExpectANormalTaskCompletes(7);
}

}  // namespace
}  // namespace btrq::worker
