// The scheduler with its journal: durability before dispatch, crash and replay,
// compaction, a full disk.

#include "broker/scheduler.h"

#include <gtest/gtest.h>

#include "tests/unit/broker/scheduler_fixture.h"

namespace btrq::broker {
namespace {

TEST_F(SchedulerTest, NothingIsDispatchedBeforeTheJobAndItsPinsAreDurable) {
  AddStreams(1, 2);
  Start(/*with_journal=*/true);
  Hello("w1");
  bool durable = false;
  ASSERT_OK_AND_ASSIGN(JobId id, sched_->SubmitJob(Spec(), [&](const Status& s) { durable = s.ok(); }));
  sched_->Expand();
  EXPECT_TRUE(sched_->NextDispatch("w1").empty());
  EXPECT_FALSE(durable);
  EXPECT_EQ(catalog_.list_calls(), 0);
  ASSERT_OK(PollJournalAfterInterval());
  EXPECT_TRUE(durable);
  sched_->Expand();  // lists and pins; the pin is not durable yet
  EXPECT_TRUE(sched_->NextDispatch("w1").empty());
  ASSERT_OK(PollJournalAfterInterval());
  sched_->Expand();
  EXPECT_EQ(sched_->NextDispatch("w1").size(), 2u);
  EXPECT_EQ(Info(id).state, JobState::kRunning);
}

TEST_F(SchedulerTest, CrashAndReplayLosesNothingAndCountsNothingTwice) {
  AddStreams(2, 10);  // 20 tasks
  Start(true);
  const JobId id = Submit(Spec());
  Hello("w1");
  std::vector<TaskSpec> batch = Dispatch("w1", 12);
  ASSERT_EQ(batch.size(), 12u);
  std::set<TaskKey> done_before;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(Done("w1", batch[i]).accepted, 1u);
    done_before.insert(batch[i].key);
  }
  ASSERT_EQ(Done("w1", batch[7], ErrorClass::kPermanent, "poison").accepted, 1u);
  ASSERT_EQ(Done("w1", batch[8], ErrorClass::kTransient, "flaky").accepted, 1u);
  // batch[9..11] are in flight at the crash.
  ASSERT_OK(sched_->SyncJournal());
  const JobInfo before = Info(id);
  EXPECT_EQ(before.counts.done, 7u);
  EXPECT_EQ(before.counts.dead, 1u);
  EXPECT_EQ(before.counts.retried, 1u);
  EXPECT_EQ(before.counts.in_flight, 3u);

  Start(true);  // crash: the old scheduler is dropped without any clean shutdown
  const JobInfo after = Info(id);
  EXPECT_EQ(after.state, JobState::kRunning);
  EXPECT_EQ(after.counts.total, 20u);
  EXPECT_EQ(after.counts.done, 7u);
  EXPECT_EQ(after.counts.dead, 1u);
  EXPECT_EQ(after.counts.retried, 1u);
  EXPECT_EQ(after.counts.in_flight, 0u);
  EXPECT_EQ(after.counts.pending, 12u);

  // The rest runs exactly once: nothing done is redone, nothing is missing.
  Hello("w1");
  std::map<TaskKey, uint32_t> attempts;
  for (;;) {
    std::vector<TaskSpec> b = Dispatch("w1", 5);
    if (b.empty()) break;
    for (const TaskSpec& t : b) {
      EXPECT_EQ(done_before.count(t.key), 0u);
      EXPECT_NE(t.key, batch[7].key);  // the dead letter stays dead
      EXPECT_TRUE(attempts.emplace(t.key, t.attempt).second);
      EXPECT_EQ(Done("w1", t).accepted, 1u);
    }
  }
  EXPECT_EQ(attempts.size(), 12u);
  EXPECT_EQ(attempts.at(batch[8].key), 2u);  // its failed attempt 1 was remembered
  EXPECT_EQ(attempts.at(batch[9].key), 1u);  // the crash did not cost it an attempt
  const JobInfo end = Info(id);
  EXPECT_EQ(end.state, JobState::kDoneWithFailures);
  EXPECT_EQ(end.counts.done, 19u);
  EXPECT_EQ(end.counts.dead, 1u);

  // Ids continue after a restart.
  AddStreams(1, 1);
  EXPECT_EQ(Submit(Spec()), id + 1);
}

TEST_F(SchedulerTest, FinishedJobsAndCancellationsSurviveReplay) {
  AddStreams(1, 4);
  Start(true);
  const JobId done = Submit(Spec());
  Hello("w1");
  RunAll("w1");
  const JobId cancelled = Submit(Spec());
  ASSERT_EQ(Dispatch("w1", 1).size(), 1u);
  ASSERT_OK(sched_->CancelJob(cancelled).status());
  const JobId poisoned = Submit(Spec());
  RunAll("w1", [](const TaskSpec& t) { return t.key.start != 0; });
  ASSERT_OK(sched_->SyncJournal());
  Start(true);
  EXPECT_EQ(Info(done).state, JobState::kDone);
  EXPECT_EQ(Info(done).counts.done, 4u);
  EXPECT_EQ(Info(cancelled).state, JobState::kCancelled);
  EXPECT_EQ(Info(cancelled).counts.cancelled, 4u);
  EXPECT_EQ(Info(poisoned).state, JobState::kDoneWithFailures);
  // A dead letter can still be retried after the restart.
  ASSERT_OK_AND_ASSIGN(size_t n, sched_->RetryJob(poisoned));
  EXPECT_EQ(n, 1u);
  Hello("w1");
  RunAll("w1");
  EXPECT_EQ(Info(poisoned).state, JobState::kDone);
  EXPECT_EQ(Info(poisoned).counts.done, 4u);
  EXPECT_EQ(Info(poisoned).counts.retried, 1u);
}

TEST_F(SchedulerTest, CompactionThenReplayKeepsTheSameState) {
  AddStreams(3, 30);  // 90 tasks
  Start(true);
  const JobId finished = Submit(Spec());
  Hello("w1");
  RunAll("w1");
  const JobId id = Submit(Spec());
  std::vector<TaskSpec> batch = Dispatch("w1", 40);
  ASSERT_EQ(batch.size(), 40u);
  // Complete every other one: the done set has gaps.
  for (size_t i = 0; i < batch.size(); i += 2) ASSERT_EQ(Done("w1", batch[i]).accepted, 1u);
  ASSERT_EQ(Done("w1", batch[1], ErrorClass::kPermanent, "poison").accepted, 1u);
  ASSERT_EQ(Done("w1", batch[3], ErrorClass::kTransient, "flaky").accepted, 1u);
  ASSERT_OK(sched_->SyncJournal());
  const uint64_t before_bytes = sched_->journal()->file_bytes();
  ASSERT_OK(sched_->Compact());
  EXPECT_LT(sched_->journal()->file_bytes(), before_bytes);
  const JobInfo before = Info(id);

  Start(true);
  const JobInfo after = Info(id);
  EXPECT_EQ(after.counts.total, before.counts.total);
  EXPECT_EQ(after.counts.done, before.counts.done);
  EXPECT_EQ(after.counts.dead, before.counts.dead);
  EXPECT_EQ(after.counts.retried, before.counts.retried);
  EXPECT_EQ(Info(finished).state, JobState::kDone);
  EXPECT_EQ(Info(finished).counts.done, 90u);
  Hello("w1");
  std::set<TaskKey> seen;
  for (const TaskKey& k : RunAll("w1")) EXPECT_TRUE(seen.insert(k).second);
  EXPECT_EQ(seen.size(), 90u - 20u - 1u);
  EXPECT_EQ(Info(id).counts.done, 89u);
  EXPECT_EQ(Info(id).state, JobState::kDoneWithFailures);
  EXPECT_EQ(Submit(Spec()), id + 1);
}

TEST_F(SchedulerTest, FullDiskRefusesTheJobWithAClearError) {
  AddStreams(1, 1);
  Start(true);
  env_.fail_writes = true;
  Status durable;
  ASSERT_OK_AND_ASSIGN(JobId id, sched_->SubmitJob(Spec(), [&](const Status& s) { durable = s; }));
  EXPECT_EQ(PollJournalAfterInterval().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(durable.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(sched_->GetJob(id).status().code(), StatusCode::kNotFound);
  env_.fail_writes = false;
  const JobId next = Submit(Spec());
  EXPECT_GT(next, id);
  Start(true);
  EXPECT_EQ(sched_->GetJob(id).status().code(), StatusCode::kNotFound);
  EXPECT_OK(sched_->GetJob(next));
}

TEST_F(SchedulerTest, StatsReportQueueDepthAndOldestReadyAge) {
  AddStreams(1, 8);
  Start();
  Submit(Spec());
  sched_->Expand();
  clock_.Advance(seconds(3));
  const SchedulerStats s = sched_->Stats();
  EXPECT_EQ(s.ready, 8u);
  EXPECT_EQ(s.oldest_ready_age, seconds(3));
  EXPECT_EQ(s.live_jobs, 1u);
  ASSERT_TRUE(sched_->NextWakeup() == std::nullopt);
}

}  // namespace
}  // namespace btrq::broker
