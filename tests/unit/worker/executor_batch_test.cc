// Batches of tasks on one thread, the finished queue, and analytics cached per params.

#include "worker/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/worker/executor_fixture.h"

namespace btrq::worker {
namespace {

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
