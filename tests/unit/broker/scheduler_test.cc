#include "broker/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::StatusIs;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kChunk = 10;

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() {
    options_.window_per_job = 64;
    options_.heartbeat_interval = seconds(1);
    options_.liveness = 3;
    options_.retry_backoff = BackoffOptions{milliseconds(100), seconds(1), 2.0, Jitter::kNone};
    options_.seed = 1;
  }

  // A scheduler without a journal (durable at once) or with one in dir_.
  void Start(bool with_journal = false) {
    sched_.reset();
    std::unique_ptr<Journal> journal;
    if (with_journal) {
      JournalOptions jo;
      jo.dir = dir_.path();
      auto j = Journal::Open(jo, &clock_, &env_);
      ASSERT_OK(j);
      journal = std::move(*j);
    }
    auto s = Scheduler::Create(options_, &clock_, &catalog_, std::move(journal));
    ASSERT_OK(s);
    sched_ = std::move(*s);
    sched_->SetWakeup(wakeups_.Hook());
  }

  // The dispatcher loop's journal step once the sync interval has passed: hands the
  // buffer to the journal thread, waits for its wakeup, and collects the group (which
  // runs the durable callbacks here).
  Status PollJournalAfterInterval() {
    clock_.Advance(milliseconds(2));
    const uint64_t seen = wakeups_.count();
    Status s = sched_->PollJournal();
    if (!s.ok() || !sched_->journal()->group_in_flight()) return s;
    if (!wakeups_.WaitBeyond(seen)) return Status::DeadlineExceeded("the journal group never finished");
    return sched_->PollJournal();
  }

  // Streams 1..n with `chunks` chunks each: [0, chunks * kChunk).
  void AddStreams(uint32_t n, int64_t chunks) {
    for (uint32_t i = 1; i <= n; ++i) catalog_.AddStream(TestUuid(i), 0, chunks * kChunk - 1);
  }

  JobSpec Spec(std::string analytic = "quality") {
    JobSpec s;
    s.collection = "c";
    s.chunk = kChunk;
    s.analytic = std::move(analytic);
    s.max_attempts = 3;
    s.task_timeout = std::chrono::nanoseconds(seconds(10)).count();
    return s;
  }

  JobId Submit(const JobSpec& spec) {
    Status durable = Status::Internal("on_durable did not run");
    auto id = sched_->SubmitJob(spec, [&durable](const Status& s) { durable = s; });
    EXPECT_OK(id);
    if (sched_->journal() != nullptr) EXPECT_OK(PollJournalAfterInterval());
    EXPECT_OK(durable);
    return id.ok() ? *id : 0;
  }

  void Hello(const std::string& id, std::vector<std::string> analytics = {"quality"},
             uint32_t credit = 1000) {
    HelloMsg h;
    h.worker_id = id;
    h.host = "h";
    h.threads = 4;
    h.analytics = std::move(analytics);
    sched_->OnWorkerHello(h);
    if (credit > 0) ASSERT_OK(sched_->OnWorkerCredit(id, credit));
  }

  // Expands (making pins durable when journaling) and dispatches to `worker`.
  std::vector<TaskSpec> Dispatch(const std::string& worker, size_t max_n = SIZE_MAX) {
    sched_->Expand();
    if (sched_->journal() != nullptr) {
      EXPECT_OK(sched_->SyncJournal());
      sched_->Expand();
    }
    return sched_->NextDispatch(worker, max_n);
  }

  DoneOutcome Done(const std::string& worker, const TaskSpec& t,
                   ErrorClass error = ErrorClass::kNone, std::string message = "") {
    DoneMsg m;
    m.items.push_back(DoneItem{TaskRef{t.key, t.attempt}, error, std::move(message)});
    return sched_->OnWorkerDone(worker, m);
  }

  // Dispatches and completes everything `ok` says is fine (others fail permanently),
  // until nothing is left to dispatch. Returns the keys completed ok.
  std::vector<TaskKey> RunAll(const std::string& worker,
                              const std::function<bool(const TaskSpec&)>& ok = {}) {
    std::vector<TaskKey> done;
    for (;;) {
      std::vector<TaskSpec> batch = Dispatch(worker, 16);
      if (batch.empty()) break;
      for (const TaskSpec& t : batch) {
        const bool good = !ok || ok(t);
        EXPECT_EQ(Done(worker, t, good ? ErrorClass::kNone : ErrorClass::kPermanent, "bad chunk").accepted, 1u);
        if (good) done.push_back(t.key);
      }
      EXPECT_OK(sched_->OnWorkerCredit(worker, static_cast<uint32_t>(batch.size())));
    }
    return done;
  }

  JobInfo Info(JobId id) {
    auto info = sched_->GetJob(id);
    EXPECT_OK(info);
    return info.ok() ? *info : JobInfo{};
  }

  SchedulerOptions options_;
  FakeClock clock_;
  FakeStreamCatalog catalog_;
  TempDir dir_;
  FaultEnv env_;
  WakeupCounter wakeups_;
  std::unique_ptr<Scheduler> sched_;
};

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

// --- With the journal ---

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
