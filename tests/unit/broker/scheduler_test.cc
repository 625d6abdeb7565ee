// The scheduler: jobs, credit, priorities, leases, retries, dead letters, workers.

#include "broker/scheduler.h"

#include <gtest/gtest.h>

#include "tests/unit/broker/scheduler_fixture.h"

namespace btrq::broker {
namespace {

TEST_F(SchedulerTest, JobRunsToDoneWithExactCounts) {
  AddStreams(2, 3);
  Start();
  const JobId id = Submit(Spec());
  EXPECT_EQ(id, 1u);
  Hello("w1");
  const std::vector<TaskKey> done = RunAll("w1");
  EXPECT_EQ(done.size(), 6u);
  const JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kDone);
  EXPECT_EQ(info.counts.total, 6u);
  EXPECT_TRUE(info.counts.total_final);
  EXPECT_EQ(info.counts.done, 6u);
  EXPECT_EQ(info.counts.pending, 0u);
  EXPECT_EQ(info.counts.in_flight, 0u);
  EXPECT_GT(info.finished_wall_ns, 0);
  EXPECT_EQ(sched_->Workers()[0].done, 6u);
}

TEST_F(SchedulerTest, InvalidSpecIsRejectedWithoutAnId) {
  Start();
  JobSpec bad = Spec();
  bad.chunk = 0;
  auto r = sched_->SubmitJob(bad, nullptr);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument));
  AddStreams(1, 1);
  EXPECT_EQ(Submit(Spec()), 1u);
}

TEST_F(SchedulerTest, CreditIsNeverExceeded) {
  AddStreams(1, 20);
  Start();
  Submit(Spec());
  Hello("w1", {"quality"}, /*credit=*/3);
  EXPECT_EQ(Dispatch("w1").size(), 3u);
  EXPECT_TRUE(Dispatch("w1").empty());
  ASSERT_OK(sched_->OnWorkerCredit("w1", 2));
  EXPECT_EQ(Dispatch("w1", 1).size(), 1u);  // max_n below the credit
  EXPECT_EQ(Dispatch("w1").size(), 1u);
  EXPECT_TRUE(Dispatch("w1").empty());
  EXPECT_EQ(sched_->Workers()[0].in_flight, 5u);
  EXPECT_EQ(sched_->Workers()[0].credit, 0u);
}

TEST_F(SchedulerTest, WorkerGetsOnlyAnalyticsItAnnounced) {
  AddStreams(1, 2);
  Start();
  const JobId quality = Submit(Spec("quality"));
  const JobId stats = Submit(Spec("stats"));
  Hello("w-stats", {"stats"});
  for (const TaskSpec& t : Dispatch("w-stats")) EXPECT_EQ(t.key.job, stats);
  EXPECT_EQ(Info(quality).counts.in_flight, 0u);
  EXPECT_EQ(Info(stats).counts.in_flight, 2u);
  Hello("w-none", {});
  EXPECT_TRUE(Dispatch("w-none").empty());
}

TEST_F(SchedulerTest, PriorityFirstThenFairBetweenEqualJobs) {
  AddStreams(1, 10);
  Start();
  const JobId a = Submit(Spec());
  const JobId b = Submit(Spec());
  JobSpec urgent = Spec();
  urgent.priority = 10;
  const JobId c = Submit(urgent);
  Hello("w1", {"quality"}, 16);
  std::vector<JobId> order;
  for (const TaskSpec& t : Dispatch("w1")) order.push_back(t.key.job);
  ASSERT_EQ(order.size(), 16u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], c);
  for (int i = 10; i < 16; i += 2) {
    EXPECT_NE(order[i], order[i + 1]);
    EXPECT_TRUE(order[i] == a || order[i] == b);
  }
}

TEST_F(SchedulerTest, WindowBoundsMaterialisedTasksOfAHugeJob) {
  catalog_.AddStream(TestUuid(1), 0, 10'000'000 * kChunk - 1);  // 10M chunks
  options_.window_per_job = 512;
  Start();
  const JobId id = Submit(Spec());
  sched_->Expand();
  EXPECT_EQ(Info(id).counts.total, 10'000'000u);
  EXPECT_LE(sched_->Stats().ready, 512u);
  Hello("w1", {"quality"}, 300);
  EXPECT_EQ(Dispatch("w1").size(), 300u);
  sched_->Expand();
  EXPECT_LE(sched_->Stats().ready, 512u);
  EXPECT_EQ(Info(id).counts.pending, 10'000'000u - 300u);
}

TEST_F(SchedulerTest, ExpiredLeaseRequeuesWithNextAttemptAfterBackoff) {
  AddStreams(1, 1);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1");
  std::vector<TaskSpec> first = Dispatch("w1");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 1u);
  clock_.Advance(seconds(11));
  ASSERT_OK(sched_->OnWorkerHeartbeat("w1", {}));  // alive, but not running it
  TickOutcome tick = sched_->Tick();
  EXPECT_EQ(tick.expired_leases, 1u);
  EXPECT_TRUE(Dispatch("w1").empty());  // waiting for the backoff (100 ms)
  EXPECT_EQ(Info(id).counts.retried, 1u);
  clock_.Advance(milliseconds(100));
  std::vector<TaskSpec> second = Dispatch("w1");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key, first[0].key);
  EXPECT_EQ(second[0].attempt, 2u);
  // A late failure of attempt 1 does not count; attempt 2's DONE does, once. (A late
  // "ok" of attempt 1 would end the task: scheduler_outage_test.cc.)
  DoneOutcome late = Done("w1", first[0], ErrorClass::kTransient, "late");
  ASSERT_EQ(late.rejected.size(), 1u);
  EXPECT_EQ(late.rejected[0].second, LeaseReject::kWrongAttempt);
  EXPECT_EQ(Done("w1", second[0]).accepted, 1u);
  EXPECT_EQ(Done("w1", second[0]).rejected[0].second, LeaseReject::kUnknownTask);
  EXPECT_EQ(Info(id).counts.done, 1u);
  EXPECT_EQ(Info(id).state, JobState::kDone);
}

TEST_F(SchedulerTest, HeartbeatRenewsLeases) {
  AddStreams(1, 1);
  Start();
  Submit(Spec());
  Hello("w1");
  std::vector<TaskSpec> t = Dispatch("w1");
  ASSERT_EQ(t.size(), 1u);
  HeartbeatMsg hb;
  hb.running.push_back(TaskRef{t[0].key, t[0].attempt});
  hb.running.push_back(TaskRef{TaskKey{9, TestUuid(9), 0}, 1});
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(2));  // 10 s in all: past the first lease deadline
    ASSERT_OK_AND_ASSIGN(HeartbeatOutcome out, sched_->OnWorkerHeartbeat("w1", hb));
    EXPECT_EQ(out.renewed, 1u);
    EXPECT_EQ(out.unknown, 1u);
    EXPECT_EQ(sched_->Tick().expired_leases, 0u);
  }
  EXPECT_EQ(sched_->Stats().in_flight, 1u);
}

TEST_F(SchedulerTest, TransientFailuresRetryUntilMaxAttemptsThenDeadLetter) {
  AddStreams(1, 1);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1");
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    clock_.Advance(seconds(1));  // past any backoff
    std::vector<TaskSpec> t = Dispatch("w1");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].attempt, attempt);
    EXPECT_EQ(Done("w1", t[0], ErrorClass::kTransient, "btrdb unavailable").accepted, 1u);
  }
  const JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kDoneWithFailures);
  EXPECT_EQ(info.counts.dead, 1u);
  EXPECT_EQ(info.counts.retried, 2u);
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetter> dead, sched_->DeadLetters(id));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attempt, 3u);
  EXPECT_NE(dead[0].error.find("btrdb unavailable"), std::string::npos);
}

TEST_F(SchedulerTest, PoisonTaskIsDeadLetteredWhileTheOthersComplete) {
  AddStreams(1, 5);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1");
  const auto not_poison = [](const TaskSpec& t) { return t.key.start != 2 * kChunk; };
  EXPECT_EQ(RunAll("w1", not_poison).size(), 4u);
  const JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kDoneWithFailures);
  EXPECT_EQ(info.counts.done, 4u);
  EXPECT_EQ(info.counts.dead, 1u);
  EXPECT_EQ(info.counts.retried, 0u);  // permanent: no retries
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetter> dead, sched_->DeadLetters(id));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key.start, 2 * kChunk);
  EXPECT_EQ(dead[0].error, "bad chunk");

  // `retry` requeues it with a fresh attempt; this time it succeeds.
  ASSERT_OK_AND_ASSIGN(size_t n, sched_->RetryJob(id));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(Info(id).state, JobState::kRunning);
  std::vector<TaskSpec> again = Dispatch("w1");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key.start, 2 * kChunk);
  EXPECT_EQ(again[0].attempt, 1u);
  EXPECT_EQ(Done("w1", again[0]).accepted, 1u);
  const JobInfo after = Info(id);
  EXPECT_EQ(after.state, JobState::kDone);
  EXPECT_EQ(after.counts.done, 5u);
  EXPECT_EQ(after.counts.dead, 0u);
  EXPECT_EQ(sched_->RetryJob(id).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerTest, CancelMidJobDropsQueueAndLeasesAndNamesTheWorkers) {
  AddStreams(1, 20);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1", {"quality"}, 3);
  Hello("w2", {"quality"}, 2);
  std::vector<TaskSpec> t1 = Dispatch("w1");
  std::vector<TaskSpec> t2 = Dispatch("w2");
  ASSERT_EQ(t1.size() + t2.size(), 5u);
  EXPECT_EQ(Done("w1", t1[0]).accepted, 1u);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> holders, sched_->CancelJob(id));
  EXPECT_EQ(holders, (std::vector<std::string>{"w1", "w2"}));
  std::vector<CancelNotice> notices = sched_->TakeCancelNotices();
  EXPECT_EQ(notices.size(), 2u);
  const JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kCancelled);
  EXPECT_EQ(info.counts.done, 1u);
  EXPECT_EQ(info.counts.cancelled, 19u);
  EXPECT_EQ(info.counts.in_flight, 0u);
  EXPECT_EQ(sched_->Stats().ready, 0u);
  // Late results are not counted; nothing more is dispatched.
  EXPECT_EQ(Done("w1", t1[1]).rejected[0].second, LeaseReject::kUnknownTask);
  ASSERT_OK(sched_->OnWorkerCredit("w1", 10));
  EXPECT_TRUE(Dispatch("w1").empty());
  EXPECT_EQ(sched_->CancelJob(id).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sched_->CancelJob(77).status().code(), StatusCode::kNotFound);
}

TEST_F(SchedulerTest, ForgedAndStaleDonesAreRejectedWithAReason) {
  AddStreams(1, 2);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1");
  Hello("w2");
  std::vector<TaskSpec> t = Dispatch("w1", 1);
  ASSERT_EQ(t.size(), 1u);
  TaskSpec never = t[0];
  never.key.start = 12345 * kChunk;  // never dispatched
  EXPECT_EQ(Done("w1", never).rejected[0].second, LeaseReject::kUnknownTask);
  EXPECT_EQ(Done("w2", t[0]).rejected[0].second, LeaseReject::kWrongWorker);
  EXPECT_EQ(Done("intruder", t[0]).rejected[0].second, LeaseReject::kUnknownWorker);
  TaskSpec wrong = t[0];
  wrong.attempt = 7;
  EXPECT_EQ(Done("w1", wrong).rejected[0].second, LeaseReject::kWrongAttempt);
  EXPECT_EQ(Info(id).counts.done, 0u);
  EXPECT_EQ(Info(id).counts.in_flight, 1u);
  EXPECT_EQ(Done("w1", t[0]).accepted, 1u);
  const SchedulerStats s = sched_->Stats();
  EXPECT_EQ(s.rejected_done_total, 4u);
  EXPECT_EQ(s.rejected_by_reason.at(LeaseReject::kWrongWorker), 1u);
  EXPECT_EQ(Info(id).counts.done, 1u);
}

TEST_F(SchedulerTest, SilentWorkerIsDeclaredDeadAndItsTasksGoToOthers) {
  AddStreams(1, 3);
  Start();
  const JobId id = Submit(Spec());
  Hello("w1");
  std::vector<TaskSpec> lost = Dispatch("w1");
  ASSERT_EQ(lost.size(), 3u);
  Hello("w2", {"quality"}, 0);
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(seconds(1));
    ASSERT_OK(sched_->OnWorkerHeartbeat("w2", {}));
    const TickOutcome tick = sched_->Tick();
    if (i < 2) {
      EXPECT_TRUE(tick.dead_workers.empty()) << i;
    }
    if (i == 3) {
      EXPECT_EQ(tick.dead_workers, (std::vector<std::string>{"w1"}));
    }
  }
  EXPECT_EQ(sched_->Workers().size(), 1u);
  EXPECT_EQ(Info(id).counts.in_flight, 0u);
  ASSERT_OK(sched_->OnWorkerCredit("w2", 10));
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 3u);
  for (const TaskSpec& t : again) EXPECT_EQ(t.attempt, 2u);
  EXPECT_EQ(sched_->OnWorkerCredit("w1", 1).code(), StatusCode::kNotFound);
  for (const TaskSpec& t : again) EXPECT_EQ(Done("w2", t).accepted, 1u);
  EXPECT_EQ(Info(id).state, JobState::kDone);
}

TEST_F(SchedulerTest, ByeHandsTasksBack) {
  AddStreams(1, 2);
  Start();
  Submit(Spec());
  Hello("w1");
  ASSERT_EQ(Dispatch("w1").size(), 2u);
  EXPECT_EQ(sched_->OnWorkerBye("w1"), 2u);
  EXPECT_EQ(sched_->Stats().ready, 2u);
  EXPECT_EQ(sched_->Stats().in_flight, 0u);
}

TEST_F(SchedulerTest, TransientCatalogErrorsRetryPermanentOnesFailTheJob) {
  AddStreams(1, 2);
  Start();
  catalog_.FailListing(Status::Unavailable("btrdb restarting"));
  const JobId id = Submit(Spec());
  sched_->Expand();
  EXPECT_EQ(catalog_.list_calls(), 1);
  sched_->Expand();  // too early to try again
  EXPECT_EQ(catalog_.list_calls(), 1);
  clock_.Advance(options_.expand_retry);
  Hello("w1");
  EXPECT_EQ(Dispatch("w1").size(), 2u);
  EXPECT_EQ(Info(id).state, JobState::kRunning);

  catalog_.FailPin(Status::InvalidArgument("stream has no such version"));
  const JobId bad = Submit(Spec());
  sched_->Expand();
  const JobInfo info = Info(bad);
  EXPECT_EQ(info.state, JobState::kFailed);
  EXPECT_NE(info.error.find("no such version"), std::string::npos);
}

TEST_F(SchedulerTest, JobWithoutDataIsDoneAtOnce) {
  catalog_.AddEmptyStream(TestUuid(1));
  Start();
  const JobId id = Submit(Spec());
  sched_->Expand();
  EXPECT_EQ(Info(id).state, JobState::kDone);
  EXPECT_EQ(Info(id).counts.total, 0u);
}

}  // namespace
}  // namespace btrq::broker
