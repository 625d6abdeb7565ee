// The worker through outages of its dependencies, against fake broker and sink ROUTERs
// and a source whose BTrDB the test switches off and on: tasks that cannot reach BTrDB go
// back unattempted and the worker pauses, probing one task at a time; while the sink is
// silent it takes no tasks and names its finished tasks apart in heartbeats.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/worker/fake_router.h"
#include "tests/support/status_matchers.h"
#include "worker/worker.h"

namespace btrq::worker {
namespace {

using ::btrq::testing::AckAll;
using ::btrq::testing::All;
using ::btrq::testing::CountOf;
using ::btrq::testing::FakeRouter;
using ::btrq::testing::MetricValue;
using ::btrq::testing::Received;
using ::btrq::testing::ResponderReset;
using namespace std::chrono_literals;

constexpr char kId[] = "w-outage";

// Five points per read, or UNAVAILABLE while `down` (as a source that cannot connect).
class SwitchedSource final : public TaskSource {
 public:
  explicit SwitchedSource(const std::atomic<bool>* down) : down_(down) {}
  Status ReadRaw(int64_t start, int64_t, uint64_t, const analytics::RawSink& sink) override {
    if (down_->load()) {
      failed_ = true;
      return Status::Unavailable("BTrDB server unavailable: connection refused");
    }
    const btrdb::RawPoint batch[5] = {{start, 1}, {start + 1, 1}, {start + 2, 1},
                                      {start + 3, 1}, {start + 4, 1}};
    return sink(batch);
  }
  Status ReadAligned(int64_t, int64_t, uint64_t, uint8_t, const analytics::StatSink&) override {
    return Status::Unimplemented("aligned");
  }
  Status ReadWindows(int64_t, int64_t, uint64_t, uint64_t, const analytics::StatSink&) override {
    return Status::Unimplemented("windows");
  }
  uint64_t version_read() const override { return 1; }
  bool dependency_down() const override { return failed_; }

 private:
  const std::atomic<bool>* down_;
  bool failed_ = false;
};

class SwitchedProvider final : public SourceProvider {
 public:
  explicit SwitchedProvider(const std::atomic<bool>* down) : down_(down) {}
  std::unique_ptr<TaskSource> Open(const TaskSpec&, const std::atomic<bool>*) override {
    return std::make_unique<SwitchedSource>(down_);
  }

 private:
  const std::atomic<bool>* down_;
};

TaskSpec Task(int64_t start) {
  TaskSpec t;
  t.key.job = 9;
  t.key.stream.bytes[0] = 1;
  t.key.start = start;
  t.end = start + 100;
  t.analytic = "count";
  return t;
}

std::vector<DoneItem> DoneItemsOf(const std::vector<Received>& log) {
  std::vector<DoneItem> out;
  for (const DoneMsg& m : All<DoneMsg>(log)) out.insert(out.end(), m.items.begin(), m.items.end());
  return out;
}

std::vector<uint32_t> Credits(const std::vector<Received>& log) {
  std::vector<uint32_t> out;
  for (const CreditMsg& c : All<CreditMsg>(log)) out.push_back(c.credit);
  return out;
}

class WorkerOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(analytics::RegisterBuiltins(&registry_));
    ASSERT_OK(broker_.Start());
    ASSERT_OK(sink_.Start());
    broker_.SetAutoHeartbeat(25ms);
    config_.worker.broker = broker_.endpoint();
    config_.worker.sink = sink_.endpoint();
    config_.worker.threads = 2;
    config_.worker.heartbeat_interval = 50'000'000;
    config_.liveness = 10;  // 500ms of silence
    config_.resend_initial = 200'000'000;
    config_.resend_max = 400'000'000;
    config_.worker_id = kId;
  }

  void TearDown() override {
    if (worker_) {
      worker_->Shutdown();
      worker_->Shutdown();
      EXPECT_EQ(run_.wait_for(20s), std::future_status::ready);
      if (run_.valid()) run_.get().IgnoreError();
      worker_.reset();
    }
    broker_.Stop();
    sink_.Stop();
  }

  void StartWorker() {
    WorkerDeps deps;
    deps.registry = &registry_;
    deps.sources = [this] { return std::make_unique<SwitchedProvider>(&btrdb_down_); };
    ASSERT_OK_AND_ASSIGN(worker_, Worker::Create(config_, SystemClock::Default(), deps));
    run_ = std::async(std::launch::async, [w = worker_.get()] { return w->Run(); });
    ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<CreditMsg>(log) >= 1; }));
  }

  void Send(std::vector<TaskSpec> tasks) { broker_.Send(FakeRouter::kLastPeer, Message(TaskMsg{std::move(tasks)})); }

  std::atomic<bool> btrdb_down_{false};
  analytics::Registry registry_;
  FakeRouter broker_;
  FakeRouter sink_;
  WorkerConfig config_;
  std::unique_ptr<Worker> worker_;
  std::future<Status> run_;
};

TEST_F(WorkerOutageTest, BtrdbDownHandsTasksBackUnattemptedAndProbesUntilItAnswers) {
  sink_.SetResponder([](const Received& r) { return AckAll(r); });
  btrdb_down_ = true;
  StartWorker();
  ASSERT_EQ(Credits(broker_.Log()), std::vector<uint32_t>{4});
  Send({Task(0), Task(100), Task(200), Task(300)});
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return DoneItemsOf(log).size() >= 4; }));
  for (const DoneItem& d : DoneItemsOf(broker_.Log())) {
    EXPECT_EQ(d.error, ErrorClass::kTransient);
    EXPECT_TRUE(d.dependency_down) << "not attempted: no attempt to spend";
  }
  EXPECT_EQ(MetricValue(worker_->MetricsText(), "btrq_worker_paused{dependency=\"btrdb\"}"), 1);
  EXPECT_EQ(MetricValue(worker_->MetricsText(), "btrq_worker_tasks_total{status=\"handed_back\"}"), 4);

  // Paused: the four freed slots come back as one credit, a probe, a second later.
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<CreditMsg>(log) >= 2; }));
  EXPECT_EQ(Credits(broker_.Log()), (std::vector<uint32_t>{4, 1}));
  Send({Task(400)});  // still down: back again, and the next probe waits longer
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return DoneItemsOf(log).size() >= 5; }));
  EXPECT_TRUE(DoneItemsOf(broker_.Log()).back().dependency_down);

  btrdb_down_ = false;
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<CreditMsg>(log) >= 3; }));
  EXPECT_EQ(Credits(broker_.Log()).back(), 1u);
  Send({Task(500)});  // the probe that finds BTrDB back
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) {
    const std::vector<DoneItem> done = DoneItemsOf(log);
    return done.size() >= 6 && done.back().error == ErrorClass::kNone;
  }));
  // Resumed: every slot's credit again.
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) {
    uint32_t total = 0;
    for (uint32_t c : Credits(log)) total += c;
    return total == 4 + 1 + 1 + 4;
  }));
  EXPECT_EQ(MetricValue(worker_->MetricsText(), "btrq_worker_paused{dependency=\"btrdb\"}"), 0);
}

TEST_F(WorkerOutageTest, ASilentSinkStopsCreditAndHeartbeatsNameTheResultsItOwes) {
  std::atomic<bool> acking{false};
  const ResponderReset reset({&sink_});
  sink_.SetResponder([&acking](const Received& r) {
    return acking ? AckAll(r) : std::vector<Message>{};
  });
  StartWorker();
  Send({Task(0), Task(100)});
  // Both finish; their results wait for the ACK, named apart from running tasks.
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) {
    const std::vector<HeartbeatMsg> hbs = All<HeartbeatMsg>(log);
    return !hbs.empty() && hbs.back().awaiting_ack.size() == 2 && hbs.back().running.empty();
  }));
  // Silent past its liveness: the worker pauses.
  ASSERT_TRUE(broker_.WaitUntil([this](const auto&) {
    return MetricValue(worker_->MetricsText(), "btrq_worker_paused{dependency=\"sink\"}") == 1;
  }));
  // Two more tasks finish meanwhile: their slots' credit is withheld.
  const size_t credits = CountOf<CreditMsg>(broker_.Log());
  Send({Task(200), Task(300)});
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) {
    const std::vector<HeartbeatMsg> hbs = All<HeartbeatMsg>(log);
    return !hbs.empty() && hbs.back().awaiting_ack.size() == 4;
  }));
  EXPECT_EQ(CountOf<CreditMsg>(broker_.Log()), credits);
  acking = true;
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return DoneItemsOf(log).size() >= 4; }));
  ASSERT_TRUE(broker_.WaitUntil(
      [credits](const auto& log) { return CountOf<CreditMsg>(log) > credits; }));
  EXPECT_EQ(MetricValue(worker_->MetricsText(), "btrq_worker_paused{dependency=\"sink\"}"), 0);
}

}  // namespace
}  // namespace btrq::worker
