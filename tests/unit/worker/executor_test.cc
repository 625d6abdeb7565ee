// The executor: one outcome per task (result, classified error, or cancelled), run on its
// own threads with a fake source per thread and a registry of test analytics.

#include "worker/executor.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/mutex.h"
#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr auto kWait = std::chrono::seconds(10);

// Ten points delivered in batches of two, or `error` instead.
class FakeSource final : public TaskSource {
 public:
  FakeSource(Status error, bool down, const std::atomic<bool>* cancelled)
      : error_(std::move(error)), down_(down), cancelled_(cancelled) {}
  Status ReadRaw(int64_t start, int64_t, uint64_t, const analytics::RawSink& sink) override {
    if (!error_.ok()) return error_;
    const analytics::RawSink guarded = CancellableRawSink(sink, cancelled_);
    for (int64_t i = 0; i < 10; i += 2) {
      const btrdb::RawPoint batch[2] = {{start + i, 1.0}, {start + i + 1, 2.0}};
      BTRQ_RETURN_IF_ERROR(guarded(batch));
    }
    version_read_ = 42;
    return Status::OK();
  }
  Status ReadAligned(int64_t, int64_t, uint64_t, uint8_t, const analytics::StatSink&) override {
    return Status::Unimplemented("aligned");
  }
  Status ReadWindows(int64_t, int64_t, uint64_t, uint64_t, const analytics::StatSink&) override {
    return Status::Unimplemented("windows");
  }
  uint64_t version_read() const override { return version_read_; }
  bool dependency_down() const override { return down_ && !error_.ok(); }

 private:
  Status error_;
  bool down_;
  const std::atomic<bool>* cancelled_;
  uint64_t version_read_ = 0;
};

// Shared by the test and every provider it makes.
struct SourceWorld {
  Status error;  // returned by every read when not OK
  bool down = false;  // ... as a source that could not reach BTrDB
  std::atomic<int> providers_made{0};
};

class FakeProvider final : public SourceProvider {
 public:
  explicit FakeProvider(SourceWorld* world) : world_(world) {}
  std::unique_ptr<TaskSource> Open(const TaskSpec&, const std::atomic<bool>* cancelled) override {
    return std::make_unique<FakeSource>(world_->error, world_->down, cancelled);
  }

 private:
  SourceWorld* world_;
};

// A latch the test opens; analytics wait on it.
class Gate {
 public:
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  void MarkEntered() {
    MutexLock lock(&mu_);
    ++entered_;
    cv_.SignalAll();
  }
  void WaitOpen() {
    MutexLock lock(&mu_);
    while (!open_) cv_.Wait(&mu_);
  }
  bool WaitEntered(int n) {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (entered_ < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      cv_.WaitFor(&mu_, std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ BTRQ_GUARDED_BY(mu_) = false;
  int entered_ BTRQ_GUARDED_BY(mu_) = 0;
};

// sum: reads the raw points, returns their count and sum; advances the fake clock by
// 5ms so the duration is exact.
class SumAnalytic final : public analytics::Analytic {
 public:
  explicit SumAnalytic(testing::FakeClock* clock) : clock_(clock) {}
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource& source,
                     analytics::RunCounters* counters) const override {
    double sum = 0;
    int64_t n = 0;
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const btrdb::RawPoint> batch) {
                                          for (const auto& p : batch) sum += p.value;
                                          n += static_cast<int64_t>(batch.size());
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          return Status::OK();
                                        }));
    clock_->Advance(std::chrono::milliseconds(5));
    return Fields{{"n", n}, {"sum", sum}};
  }

 private:
  testing::FakeClock* clock_;
};

// gate: waits for the gate before returning.
class GateAnalytic final : public analytics::Analytic {
 public:
  explicit GateAnalytic(Gate* gate) : gate_(gate) {}
  Result<Fields> Run(const TaskSpec&, analytics::PointSource&,
                     analytics::RunCounters*) const override {
    gate_->MarkEntered();
    gate_->WaitOpen();
    return Fields{{"ok", int64_t{1}}};
  }

 private:
  Gate* gate_;
};

// batches: waits for the gate after the first batch, so a cancel lands mid-read.
class BatchesAnalytic final : public analytics::Analytic {
 public:
  explicit BatchesAnalytic(Gate* gate) : gate_(gate) {}
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource& source,
                     analytics::RunCounters* counters) const override {
    bool first = true;
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const btrdb::RawPoint> batch) {
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          if (first) {
                                            first = false;
                                            gate_->MarkEntered();
                                            gate_->WaitOpen();
                                          }
                                          return Status::OK();
                                        }));
    return Fields{{"ok", int64_t{1}}};
  }

 private:
  Gate* gate_;
};

class ThrowingAnalytic final : public analytics::Analytic {
 public:
  Result<Fields> Run(const TaskSpec&, analytics::PointSource&,
                     analytics::RunCounters*) const override {
    throw std::runtime_error("boom");
  }
};

TaskSpec MakeTask(JobId job, int64_t start, std::string analytic, uint64_t version = 0) {
  TaskSpec t;
  t.key.job = job;
  t.key.stream.bytes[15] = 7;
  t.key.start = start;
  t.attempt = 2;
  t.end = start + 1000;
  t.version = version;
  t.analytic = std::move(analytic);
  return t;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(registry_.Register("sum", [this](const Fields& params) -> Result<std::unique_ptr<analytics::Analytic>> {
      ++sum_factory_calls_;
      for (const auto& [name, value] : params) {
        if (name != "scale") return Status::InvalidArgument("sum: unknown param '" + name + "'");
      }
      return std::unique_ptr<analytics::Analytic>(std::make_unique<SumAnalytic>(&clock_));
    }));
    ASSERT_OK(registry_.Register("gate", [this](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<GateAnalytic>(&gate_));
    }));
    ASSERT_OK(registry_.Register("batches", [this](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(
          std::make_unique<BatchesAnalytic>(&gate_));
    }));
    ASSERT_OK(registry_.Register("throws", [](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<ThrowingAnalytic>());
    }));
  }

  void TearDown() override {
    gate_.Open();
    if (executor_) executor_->Stop();
  }

  void Start(uint32_t threads) {
    ExecutorOptions options;
    options.threads = threads;
    auto made = Executor::Create(
        options, &registry_,
        [this] {
          ++world_.providers_made;
          return std::unique_ptr<SourceProvider>(std::make_unique<FakeProvider>(&world_));
        },
        &clock_, [this] {
          MutexLock lock(&mu_);
          ++notifications_;
          cv_.SignalAll();
        });
    ASSERT_OK(made);
    executor_ = std::move(made).value();
  }

  // Takes outcomes until `n` have arrived; fails the test after kWait.
  std::vector<TaskOutcome> Await(size_t n) {
    std::vector<TaskOutcome> out;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (out.size() < n) {
      for (TaskOutcome& o : executor_->TakeFinished()) out.push_back(std::move(o));
      if (out.size() >= n) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "only " << out.size() << " of " << n << " outcomes arrived";
        break;
      }
      MutexLock lock(&mu_);
      cv_.WaitFor(&mu_, std::chrono::milliseconds(20));
    }
    return out;
  }

  // Waits until `done()` holds; false after kWait. Outcomes are left in the executor.
  template <typename Pred>
  bool WaitUntil(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      MutexLock lock(&mu_);
      cv_.WaitFor(&mu_, std::chrono::milliseconds(5));
    }
    return true;
  }

  int notifications() {
    MutexLock lock(&mu_);
    return notifications_;
  }

  testing::FakeClock clock_;
  analytics::Registry registry_;
  SourceWorld world_;
  Gate gate_;
  std::atomic<int> sum_factory_calls_{0};
  Mutex mu_;
  CondVar cv_;
  int notifications_ BTRQ_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Executor> executor_;
};

TEST(ClassifyErrorTest, TransientCodesRetryEverythingElseDeadLetters) {
  EXPECT_EQ(ClassifyError(Status::OK()), ErrorClass::kNone);
  EXPECT_EQ(ClassifyError(Status::Unavailable("down")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyError(Status::DeadlineExceeded("slow")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyError(Status::ResourceExhausted("busy")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyError(Status::Aborted("conflict")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyError(Status::InvalidArgument("bad")), ErrorClass::kPermanent);
  EXPECT_EQ(ClassifyError(Status::NotFound("no stream")), ErrorClass::kPermanent);
  EXPECT_EQ(ClassifyError(Status::Internal("bug")), ErrorClass::kPermanent);
}

TEST_F(ExecutorTest, RunsTheAnalyticAndReportsTheResult) {
  Start(2);
  executor_->Submit(MakeTask(3, 1000, "sum"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  const TaskOutcome& o = out[0];
  EXPECT_FALSE(o.cancelled);
  EXPECT_EQ(o.error, ErrorClass::kNone);
  EXPECT_EQ(o.task.key.job, 3u);
  EXPECT_EQ(o.task.attempt, 2u);
  const TaskResult& r = o.result;
  EXPECT_EQ(r.task, o.task);
  EXPECT_EQ(r.end, 2000);
  EXPECT_EQ(r.version, 42u) << "version 0 (latest) reports what the server answered";
  EXPECT_EQ(r.worker_id, "") << "the worker stamps its id when it sends the result";
  EXPECT_EQ(r.points_read, 10);
  EXPECT_EQ(r.duration_ns, 5'000'000);
  EXPECT_THAT(r.fields, ElementsAre(Pair("n", FieldValue(int64_t{10})),
                                    Pair("sum", FieldValue(15.0))));
}

TEST_F(ExecutorTest, APinnedVersionIsReportedAsPinned) {
  Start(1);
  executor_->Submit(MakeTask(3, 0, "sum", /*version=*/9));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].result.version, 9u);
}

TEST_F(ExecutorTest, TransientSourceErrorIsTransient) {
  world_.error = Status::Unavailable("btrdb down");
  Start(1);
  executor_->Submit(MakeTask(3, 0, "sum"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, ErrorClass::kTransient);
  EXPECT_THAT(out[0].status.message(), HasSubstr("btrdb down"));
}

TEST_F(ExecutorTest, TransientSourceErrorIsAFailedAttemptWhenBtrdbAnswered) {
  world_.error = Status::DeadlineExceeded("slow stream");
  Start(1);
  executor_->Submit(MakeTask(3, 0, "sum"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, ErrorClass::kTransient);
  EXPECT_FALSE(out[0].dependency_down);
}

// Whatever the analytic makes of the read's error (here: a permanent one), a task whose
// source could not reach BTrDB was not attempted.
TEST_F(ExecutorTest, UnreachableBtrdbIsDependencyDownWhateverTheAnalyticReturned) {
  world_.error = Status::InvalidArgument("wrapped by the analytic");
  world_.down = true;
  Start(1);
  executor_->Submit(MakeTask(3, 0, "sum"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].cancelled);
  EXPECT_TRUE(out[0].dependency_down);
  EXPECT_EQ(out[0].error, ErrorClass::kTransient);
  EXPECT_THAT(out[0].status.message(), HasSubstr("wrapped by the analytic"));
}

TEST_F(ExecutorTest, PermanentSourceErrorIsPermanent) {
  world_.error = Status::NotFound("no such stream");
  Start(1);
  executor_->Submit(MakeTask(3, 0, "sum"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, ErrorClass::kPermanent);
}

TEST_F(ExecutorTest, BadParamsAndUnknownAnalyticsArePermanent) {
  Start(1);
  TaskSpec bad = MakeTask(3, 0, "sum");
  bad.params = {{"colour", std::string("red")}};
  executor_->Submit(bad);
  executor_->Submit(MakeTask(3, 1000, "no-such-analytic"));
  std::vector<TaskOutcome> out = Await(2);
  ASSERT_EQ(out.size(), 2u);
  for (const TaskOutcome& o : out) {
    EXPECT_EQ(o.error, ErrorClass::kPermanent);
    EXPECT_EQ(o.status.code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(ExecutorTest, AnAnalyticThatThrowsIsPermanent) {
  Start(1);
  executor_->Submit(MakeTask(3, 0, "throws"));
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, ErrorClass::kPermanent);
  EXPECT_THAT(out[0].status.message(), HasSubstr("boom"));
}

TEST_F(ExecutorTest, AnalyticsAreCachedByNameAndParams) {
  Start(1);
  TaskSpec a = MakeTask(3, 0, "sum");
  a.params = {{"scale", 2.0}};
  TaskSpec b = MakeTask(3, 1000, "sum");
  b.params = {{"scale", 2.0}};
  TaskSpec c = MakeTask(3, 2000, "sum");
  c.params = {{"scale", 3.0}};
  executor_->Submit(a);
  executor_->Submit(b);
  executor_->Submit(c);
  EXPECT_EQ(Await(3).size(), 3u);
  EXPECT_EQ(sum_factory_calls_.load(), 2);
}

TEST_F(ExecutorTest, EachThreadMakesItsOwnSourceProvider) {
  Start(3);
  executor_->Submit(MakeTask(3, 0, "sum"));
  EXPECT_EQ(Await(1).size(), 1u);
  EXPECT_EQ(executor_->threads(), 3u);
  executor_->Stop();
  EXPECT_EQ(world_.providers_made.load(), 3);
}

TEST_F(ExecutorTest, ZeroThreadsMeansTwoPerHardwareThread) {
  Start(0);
  EXPECT_EQ(executor_->threads(), 2 * std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(executor_->threads(), DefaultThreads());
}

TEST_F(ExecutorTest, ActiveListsQueuedAndRunningTasks) {
  Start(1);
  const TaskSpec running = MakeTask(1, 0, "gate");
  const TaskSpec queued = MakeTask(1, 1000, "gate");
  executor_->Submit(running);
  executor_->Submit(queued);
  ASSERT_TRUE(gate_.WaitEntered(1));
  EXPECT_EQ(executor_->active_count(), 2u);
  EXPECT_EQ(executor_->running_count(), 1u);
  EXPECT_THAT(executor_->Active(),
              UnorderedElementsAre(TaskRef{running.key, running.attempt},
                                   TaskRef{queued.key, queued.attempt}));
  gate_.Open();
  EXPECT_EQ(Await(2).size(), 2u);
  EXPECT_EQ(executor_->active_count(), 0u);
}

TEST_F(ExecutorTest, CancelJobDropsItsQueuedTasksAtOnce) {
  Start(1);
  const TaskSpec running = MakeTask(1, 0, "gate");
  const TaskSpec other_job = MakeTask(2, 0, "gate");
  const TaskSpec same_job = MakeTask(1, 1000, "gate");
  executor_->Submit(running);
  ASSERT_TRUE(gate_.WaitEntered(1));
  executor_->Submit(other_job);
  executor_->Submit(same_job);

  EXPECT_EQ(executor_->CancelJob(2), 1u);
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
  EXPECT_EQ(out[0].task, (TaskRef{other_job.key, other_job.attempt}));

  gate_.Open();
  out = Await(2);
  ASSERT_EQ(out.size(), 2u);
  for (const TaskOutcome& o : out) {
    EXPECT_FALSE(o.cancelled);
    EXPECT_EQ(o.error, ErrorClass::kNone);
  }
}

TEST_F(ExecutorTest, CancelJobStopsARunningTaskAtItsNextBatch) {
  Start(1);
  executor_->Submit(MakeTask(5, 0, "batches"));
  ASSERT_TRUE(gate_.WaitEntered(1));
  EXPECT_EQ(executor_->CancelJob(5), 1u);
  gate_.Open();
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
  EXPECT_EQ(out[0].error, ErrorClass::kNone) << "a cancelled task reports no error";
}

TEST_F(ExecutorTest, StopCancelsQueuedTasksAndRefusesNewOnes) {
  Start(1);
  executor_->Submit(MakeTask(1, 0, "gate"));
  ASSERT_TRUE(gate_.WaitEntered(1));
  executor_->Submit(MakeTask(1, 1000, "gate"));
  std::thread stopper([this] { executor_->Stop(); });
  // Stop cancels the queued task at once; the running one ends when its gate opens.
  std::vector<TaskOutcome> out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
  gate_.Open();
  stopper.join();
  out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled) << "the gate analytic ignores cancellation, but its result "
                                   "is dropped once the task was cancelled";

  executor_->Submit(MakeTask(1, 2000, "sum"));
  out = Await(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
}

std::vector<TaskSpec> SumTasks(JobId job, int n, int64_t first_start = 0) {
  std::vector<TaskSpec> out;
  for (int i = 0; i < n; ++i) out.push_back(MakeTask(job, first_start + 1000 * i, "sum"));
  return out;
}

TEST_F(ExecutorTest, ABatchYieldsOneOutcomePerTask) {
  Start(2);
  std::vector<TaskSpec> batch = SumTasks(3, 50);
  std::set<TaskRef> submitted;
  for (const TaskSpec& t : batch) submitted.insert(TaskRef{t.key, t.attempt});
  executor_->SubmitBatch(std::move(batch));
  std::vector<TaskOutcome> out = Await(50);
  std::set<TaskRef> finished;
  for (const TaskOutcome& o : out) {
    EXPECT_EQ(o.error, ErrorClass::kNone);
    EXPECT_FALSE(o.cancelled);
    EXPECT_EQ(o.result.points_read, 10);
    finished.insert(o.task);
  }
  EXPECT_EQ(out.size(), 50u);
  EXPECT_EQ(finished, submitted) << "each task once";
  executor_->SubmitBatch({});  // nothing to do, no outcome
  EXPECT_TRUE(executor_->TakeFinished().empty());
}

TEST_F(ExecutorTest, ABatchRunsInOrderOnOneThread) {
  Start(1);
  executor_->SubmitBatch(SumTasks(3, 5));
  executor_->SubmitBatch(SumTasks(3, 5, /*first_start=*/5000));
  std::vector<int64_t> starts;
  for (const TaskOutcome& o : Await(10)) starts.push_back(o.task.key.start);
  EXPECT_THAT(starts, ElementsAre(0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000));
}

TEST_F(ExecutorTest, CancelJobDuringABatchDropsOnlyItsQueuedTasks) {
  Start(1);
  std::vector<TaskSpec> batch;
  batch.push_back(MakeTask(1, 0, "gate"));
  for (int i = 1; i <= 3; ++i) batch.push_back(MakeTask(2, 1000 * i, "gate"));
  for (int i = 4; i <= 5; ++i) batch.push_back(MakeTask(1, 1000 * i, "gate"));
  executor_->SubmitBatch(std::move(batch));
  ASSERT_TRUE(gate_.WaitEntered(1));

  EXPECT_EQ(executor_->CancelJob(2), 3u);
  std::vector<TaskOutcome> out = executor_->TakeFinished();
  ASSERT_EQ(out.size(), 3u) << "queued tasks are cancelled at once";
  for (const TaskOutcome& o : out) {
    EXPECT_TRUE(o.cancelled);
    EXPECT_EQ(o.task.key.job, 2u);
  }
  EXPECT_EQ(executor_->active_count(), 3u);

  gate_.Open();
  out = Await(3);
  ASSERT_EQ(out.size(), 3u);
  std::vector<int64_t> starts;
  for (const TaskOutcome& o : out) {
    EXPECT_FALSE(o.cancelled);
    EXPECT_EQ(o.task.key.job, 1u);
    starts.push_back(o.task.key.start);
  }
  EXPECT_THAT(starts, ElementsAre(0, 4000, 5000)) << "the rest keep their order";
}

TEST_F(ExecutorTest, StopCancelsQueuedBatchesAndTheRunningTask) {
  Start(1);
  std::vector<TaskSpec> first;
  first.push_back(MakeTask(1, 0, "batches"));
  for (int i = 1; i <= 4; ++i) first.push_back(MakeTask(1, 1000 * i, "sum"));
  executor_->SubmitBatch(std::move(first));
  ASSERT_TRUE(gate_.WaitEntered(1));
  executor_->SubmitBatch(SumTasks(2, 6, /*first_start=*/10'000));

  std::thread stopper([this] { executor_->Stop(); });
  std::vector<TaskOutcome> out = Await(10);
  ASSERT_EQ(out.size(), 10u) << "every queued task is cancelled at once";
  for (const TaskOutcome& o : out) EXPECT_TRUE(o.cancelled);
  gate_.Open();
  stopper.join();
  out = executor_->TakeFinished();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled) << "the running task stopped at its next batch";
  EXPECT_EQ(out[0].task.key.start, 0);
  EXPECT_EQ(executor_->active_count(), 0u);

  executor_->SubmitBatch(SumTasks(3, 4));
  out = executor_->TakeFinished();
  ASSERT_EQ(out.size(), 4u) << "a stopped executor refuses a batch with its outcomes";
  for (const TaskOutcome& o : out) EXPECT_TRUE(o.cancelled);
}

TEST_F(ExecutorTest, OnFinishedRunsOnlyWhenTheFinishedQueueBecomesNonEmpty) {
  Start(1);
  executor_->SubmitBatch(SumTasks(3, 5));
  ASSERT_TRUE(WaitUntil([this] { return executor_->active_count() == 0; }));
  EXPECT_EQ(notifications(), 1) << "the first outcome woke the consumer; the rest queued behind it";
  EXPECT_EQ(executor_->TakeFinished().size(), 5u);

  executor_->SubmitBatch(SumTasks(3, 2, /*first_start=*/5000));
  ASSERT_TRUE(WaitUntil([this] { return executor_->active_count() == 0; }));
  EXPECT_EQ(notifications(), 2) << "taken empty, so the next outcome wakes again";

  // Cancelled outcomes follow the same rule: none while outcomes wait untaken.
  executor_->SubmitBatch({MakeTask(4, 0, "gate"), MakeTask(4, 1000, "gate")});
  ASSERT_TRUE(gate_.WaitEntered(1));
  EXPECT_EQ(executor_->CancelJob(4), 2u);
  EXPECT_EQ(notifications(), 2) << "two outcomes were already waiting";
  EXPECT_EQ(executor_->TakeFinished().size(), 3u);
  gate_.Open();
  ASSERT_TRUE(WaitUntil([this] { return executor_->active_count() == 0; }));
  EXPECT_EQ(notifications(), 3);
  std::vector<TaskOutcome> out = executor_->TakeFinished();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
}

TEST_F(ExecutorTest, TakeFinishedIntoABufferReplacesItsContents) {
  Start(1);
  std::vector<TaskOutcome> buffer(3);
  executor_->Submit(MakeTask(3, 0, "sum"));
  ASSERT_TRUE(WaitUntil([this] { return executor_->active_count() == 0; }));
  executor_->TakeFinished(&buffer);
  ASSERT_EQ(buffer.size(), 1u);
  EXPECT_EQ(buffer[0].task.key.start, 0);
  executor_->TakeFinished(&buffer);
  EXPECT_TRUE(buffer.empty());
}

TEST_F(ExecutorTest, AnalyticsAlternatingBetweenParamsAreMadeOncePerParams) {
  Start(1);
  std::vector<TaskSpec> batch;
  for (int i = 0; i < 6; ++i) {
    TaskSpec t = MakeTask(3, 1000 * i, "sum");
    t.params = {{"scale", i % 2 == 0 ? 2.0 : 3.0}};
    batch.push_back(std::move(t));
  }
  executor_->SubmitBatch(std::move(batch));
  EXPECT_EQ(Await(6).size(), 6u);
  EXPECT_EQ(sum_factory_calls_.load(), 2);
}

TEST_F(ExecutorTest, ParamsThatDifferOnlyInTheSignOfZeroAreDifferentAnalytics) {
  Start(1);
  TaskSpec a = MakeTask(3, 0, "sum");
  a.params = {{"scale", 0.0}};
  TaskSpec b = MakeTask(3, 1000, "sum");
  b.params = {{"scale", -0.0}};
  executor_->SubmitBatch({a, b});
  EXPECT_EQ(Await(2).size(), 2u);
  EXPECT_EQ(sum_factory_calls_.load(), 2) << "the cache tells params apart bit for bit";
}

}  // namespace
}  // namespace btrq::worker
