// The executor: one outcome per task (result, classified error, or cancelled), run on its
// own threads with a fake source per thread and a registry of test analytics.
// Single tasks: outcomes and their classification, the analytic cache, cancel and stop.

#include "worker/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/worker/executor_fixture.h"

namespace btrq::worker {
namespace {

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

}  // namespace
}  // namespace btrq::worker
