// Every state-changing control call is acknowledged only once what it changed is durable:
// the journal's fdatasync is held (through the JournalEnv seam) and the call must not
// return until it is let go. The issue: cancel and retry answered before their records
// reached the disk, so a crash right after could undo an acknowledged call.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "analytics/registry.h"
#include "broker/control_service.h"
#include "broker/dispatcher.h"
#include "broker/journal.h"
#include "broker/scheduler.h"
#include "common/metrics.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kChunk = 1000;

// FaultEnv::before_sync: while held, every fdatasync of the journal waits for Release().
class HeldSync {
 public:
  std::function<void()> Hook() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!hold_) return;
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_; });
    };
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  // True once a sync is being held (10 s at most).
  bool WaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(10), [this] { return held_ > 0; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  ~HeldSync() { Release(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int held_ = 0;
};

class ControlDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(analytics::RegisterBuiltins(&analytics_));
    catalog_.AddStream(TestUuid(1), 0, kChunk - 1);  // one task
    env_.before_sync = held_.Hook();
    JournalOptions journal_options;
    journal_options.dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> journal,
                         Journal::Open(journal_options, &clock_, &env_));
    ASSERT_OK_AND_ASSIGN(scheduler_, Scheduler::Create(SchedulerOptions(), &clock_, &catalog_,
                                                       std::move(journal)));
  }

  // Hands the scheduler to a dispatcher whose loop runs on its own thread.
  void StartLoop() {
    DispatcherOptions options;
    options.listen = "tcp://127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(dispatcher_, Dispatcher::Create(options, &clock_, std::move(scheduler_),
                                                         &registry_));
    loop_ = std::thread([this] { EXPECT_OK(dispatcher_->Run()); });
    service_ = std::make_unique<BrokerControlService>(ControlServiceOptions(), dispatcher_.get(),
                                                      &analytics_);
  }

  void TearDown() override {
    held_.Release();
    if (dispatcher_) dispatcher_->Stop();
    if (loop_.joinable()) loop_.join();
  }

  JobId Submit() {
    JobSpec spec;
    spec.collection = "c";
    spec.chunk = kChunk;
    spec.analytic = "stats";
    spec.max_attempts = 1;
    spec.task_timeout = std::chrono::nanoseconds(seconds(30)).count();
    Result<JobId> id = scheduler_->SubmitJob(spec, [](const Status& s) { EXPECT_OK(s); });
    EXPECT_OK(scheduler_->SyncJournal());
    return id.ok() ? *id : 0;
  }

  // Runs `call` on a thread with every journal sync held: it must still be waiting once
  // a sync is held, and answer OK once the sync is let go.
  void ExpectAnsweredOnlyWhenDurable(const std::function<grpc::Status()>& call) {
    held_.Hold();
    std::future<grpc::Status> answer = std::async(std::launch::async, call);
    ASSERT_TRUE(held_.WaitHeld());
    EXPECT_EQ(answer.wait_for(milliseconds(300)), std::future_status::timeout)
        << "acknowledged before its journal record was durable";
    held_.Release();
    ASSERT_EQ(answer.wait_for(seconds(10)), std::future_status::ready);
    const grpc::Status status = answer.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  TempDir dir_;
  SystemClock clock_;
  FaultEnv env_;
  HeldSync held_;
  FakeStreamCatalog catalog_;
  metrics::Registry registry_;
  analytics::Registry analytics_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<BrokerControlService> service_;
  std::thread loop_;
};

TEST_F(ControlDurabilityTest, CancelIsAnsweredOnlyOnceDurable) {
  const JobId id = Submit();
  StartLoop();
  ExpectAnsweredOnlyWhenDurable([&] {
    grpc::ServerContext context;
    v1::CancelJobRequest request;
    request.set_job_id(id);
    v1::Job response;
    return service_->CancelJob(&context, &request, &response);
  });
}

TEST_F(ControlDurabilityTest, RetryIsAnsweredOnlyOnceDurable) {
  const JobId id = Submit();
  // The job's one task fails for good: a dead letter to retry.
  HelloMsg hello;
  hello.worker_id = "w";
  hello.threads = 1;
  hello.analytics = {"stats"};
  scheduler_->OnWorkerHello(hello);
  ASSERT_OK(scheduler_->OnWorkerCredit("w", 1));
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 5 && tasks.empty(); ++i) {
    scheduler_->Expand();
    ASSERT_OK(scheduler_->SyncJournal());
    tasks = scheduler_->NextDispatch("w");
  }
  ASSERT_EQ(tasks.size(), 1u);
  DoneMsg done;
  done.items.push_back(DoneItem{TaskRef{tasks[0].key, tasks[0].attempt}, ErrorClass::kPermanent,
                                "bad chunk"});
  ASSERT_EQ(scheduler_->OnWorkerDone("w", done).accepted, 1u);
  ASSERT_OK(scheduler_->SyncJournal());
  StartLoop();
  ExpectAnsweredOnlyWhenDurable([&] {
    grpc::ServerContext context;
    v1::RetryJobRequest request;
    request.set_job_id(id);
    v1::Job response;
    return service_->RetryJob(&context, &request, &response);
  });
}

}  // namespace
}  // namespace btrq::broker
