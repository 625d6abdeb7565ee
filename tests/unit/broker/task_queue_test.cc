#include "broker/task_queue.h"

#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"

namespace btrq::broker {
namespace {

using btrq::testing::TestUuid;

QueuedTask T(JobId job, int64_t start, SteadyTime since = SteadyTime{}) {
  return QueuedTask{TaskKey{job, TestUuid(1), start}, 0, 1, since};
}

std::vector<JobId> PopJobs(TaskQueue& q, int n) {
  std::vector<JobId> out;
  for (int i = 0; i < n; ++i) {
    auto t = q.Pop({});
    if (!t) break;
    out.push_back(t->key.job);
  }
  return out;
}

TEST(TaskQueue, HigherPriorityFirstThenRoundRobinBetweenEqualJobs) {
  TaskQueue q;
  q.AddJob(1, 0);
  q.AddJob(2, 0);
  q.AddJob(3, 5);
  for (int i = 0; i < 4; ++i) q.Push(1, T(1, i));
  for (int i = 0; i < 2; ++i) q.Push(2, T(2, i));
  for (int i = 0; i < 2; ++i) q.Push(3, T(3, i));
  EXPECT_EQ(PopJobs(q, 8), (std::vector<JobId>{3, 3, 1, 2, 1, 2, 1, 1}));
  EXPECT_EQ(q.ready_total(), 0u);
}

TEST(TaskQueue, FifoWithinAJob) {
  TaskQueue q;
  q.AddJob(1, 0);
  for (int i = 0; i < 3; ++i) q.Push(1, T(1, i));
  EXPECT_EQ(q.Pop({})->key.start, 0);
  EXPECT_EQ(q.Pop({})->key.start, 1);
}

TEST(TaskQueue, AcceptFilterSkipsJobsWithoutLosingTheirTasks) {
  TaskQueue q;
  q.AddJob(1, 9);
  q.AddJob(2, 0);
  q.Push(1, T(1, 0));
  q.Push(2, T(2, 0));
  auto t = q.Pop([](JobId j) { return j == 2; });
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->key.job, 2u);
  EXPECT_FALSE(q.Pop([](JobId j) { return j == 2; }).has_value());
  EXPECT_EQ(q.ready(1), 1u);
}

TEST(TaskQueue, DelayedTasksWaitUntilDue) {
  TaskQueue q;
  q.AddJob(1, 0);
  const SteadyTime t0{Nanos(1000)};
  q.PushDelayed(1, T(1, 0), t0 + Nanos(50));
  EXPECT_EQ(q.delayed(1), 1u);
  EXPECT_EQ(q.PromoteDue(t0), 0u);
  EXPECT_FALSE(q.Pop({}).has_value());
  EXPECT_EQ(q.NextDelayedAt(), t0 + Nanos(50));
  EXPECT_EQ(q.PromoteDue(t0 + Nanos(50)), 1u);
  auto t = q.Pop({});
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->ready_since, t0 + Nanos(50));
}

TEST(TaskQueue, RemoveJobDropsReadyAndDelayedTasks) {
  TaskQueue q;
  q.AddJob(1, 0);
  q.AddJob(2, 0);
  q.Push(1, T(1, 0));
  q.PushDelayed(1, T(1, 1), SteadyTime{Nanos(10)});
  q.Push(2, T(2, 0));
  EXPECT_EQ(q.RemoveJob(1), 2u);
  EXPECT_EQ(q.ready_total(), 1u);
  EXPECT_EQ(q.delayed_total(), 0u);
  // Re-adding the id does not resurrect the old delayed entry.
  q.AddJob(1, 0);
  EXPECT_EQ(q.PromoteDue(SteadyTime{Nanos(100)}), 0u);
  EXPECT_EQ(PopJobs(q, 5), (std::vector<JobId>{2}));
}

TEST(TaskQueue, OldestReadySinceAcrossJobs) {
  TaskQueue q;
  q.AddJob(1, 0);
  q.AddJob(2, 0);
  EXPECT_FALSE(q.OldestReadySince().has_value());
  q.Push(1, T(1, 0, SteadyTime{Nanos(30)}));
  q.Push(2, T(2, 0, SteadyTime{Nanos(20)}));
  EXPECT_EQ(q.OldestReadySince(), SteadyTime{Nanos(20)});
}

}  // namespace
}  // namespace btrq::broker
