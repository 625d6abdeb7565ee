// What counts as an attempt (scheduler.h, Attempts): an outage of BTrDB or the sink
// spends none, a failure of the task itself does, and a task whose worker said it
// finished is never dead-lettered.

#include <gtest/gtest.h>

#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;
using std::chrono::seconds;

constexpr int64_t kChunk = 10;

class SchedulerOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.AddStream(TestUuid(1), 0, 3 * kChunk - 1);
    Start(SchedulerOptions());
  }

  // A scheduler with `options` (seed, heartbeat and liveness set here) and workers w1, w2.
  void Start(SchedulerOptions options) {
    options.seed = 1;
    options.heartbeat_interval = seconds(1);
    options.liveness = 3;
    ASSERT_OK_AND_ASSIGN(sched_, Scheduler::Create(options, &clock_, &catalog_, nullptr));
    for (const char* id : {"w1", "w2"}) {
      HelloMsg hello;
      hello.worker_id = id;
      hello.analytics = {"count"};
      sched_->OnWorkerHello(hello);
    }
  }

  // A scheduler that takes a Tick over 2 s after the last for a stall of its own, and
  // the job below (max_attempts 1, task_timeout 10 s).
  void StartWithStallThreshold() {
    SchedulerOptions options;
    options.stall_threshold = seconds(2);
    Start(options);
    Submit(/*max_attempts=*/1, /*task_timeout=*/10'000'000'000);
  }

  // A job of three tasks, all dispatched to w1.
  void Submit(uint32_t max_attempts, int64_t task_timeout = 10'000'000'000) {
    JobSpec spec;
    spec.collection = "c";
    spec.chunk = kChunk;
    spec.analytic = "count";
    spec.max_attempts = max_attempts;
    spec.task_timeout = task_timeout;
    ASSERT_OK_AND_ASSIGN(job_, sched_->SubmitJob(spec, [](const Status&) {}));
    sched_->Expand();
    tasks_ = Dispatch("w1");
    ASSERT_EQ(tasks_.size(), 3u);
  }

  std::vector<TaskSpec> Dispatch(const std::string& worker) {
    EXPECT_OK(sched_->OnWorkerCredit(worker, 100));
    return sched_->NextDispatch(worker);
  }

  static TaskRef Ref(const TaskSpec& t) { return TaskRef{t.key, t.attempt}; }

  DoneOutcome Done(const std::string& worker, const TaskSpec& t,
                   ErrorClass error = ErrorClass::kNone, bool dependency_down = false) {
    DoneItem item;
    item.task = Ref(t);
    item.error = error;
    item.message = error == ErrorClass::kNone ? "" : "unreachable";
    item.dependency_down = dependency_down;
    return sched_->OnWorkerDone(worker, DoneMsg{{item}});
  }

  void Heartbeat(const std::string& worker, std::vector<TaskRef> running,
                 std::vector<TaskRef> awaiting_ack, std::vector<TaskRef> queued = {}) {
    HeartbeatMsg hb;
    hb.running = std::move(running);
    hb.awaiting_ack = std::move(awaiting_ack);
    hb.queued = std::move(queued);
    ASSERT_OK(sched_->OnWorkerHeartbeat(worker, hb).status());
  }

  // `n` seconds of both workers heartbeating nothing, with a Tick each second.
  void Idle(int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(seconds(1));
      Heartbeat("w1", {}, {});
      Heartbeat("w2", {}, {});
      sched_->Tick();
    }
  }

  JobInfo Job() {
    auto info = sched_->GetJob(job_);
    EXPECT_OK(info.status());
    return info.ok() ? *info : JobInfo();
  }

  FakeClock clock_;
  FakeStreamCatalog catalog_;
  std::unique_ptr<Scheduler> sched_;
  JobId job_ = 0;
  std::vector<TaskSpec> tasks_;
};

TEST_F(SchedulerOutageTest, DependencyDownIsRequeuedWithoutSpendingAnAttempt) {
  Submit(/*max_attempts=*/1);
  EXPECT_EQ(Done("w1", tasks_[1]).accepted, 1u);
  EXPECT_EQ(Done("w1", tasks_[2]).accepted, 1u);
  TaskSpec task = tasks_[0];
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Done("w1", task, ErrorClass::kTransient, /*dependency_down=*/true).accepted, 1u);
    EXPECT_EQ(Job().counts.dead, 0u) << "hand-back " << i;
    Idle(60);  // past the retry backoff
    std::vector<TaskSpec> again = Dispatch("w1");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].key, task.key);
    EXPECT_EQ(again[0].attempt, 1u) << "the same attempt: none was spent";
    task = again[0];
  }
  EXPECT_EQ(Done("w1", task).accepted, 1u);
  EXPECT_EQ(Job().state, JobState::kDone);
  EXPECT_EQ(Job().counts.dead, 0u);
  EXPECT_EQ(sched_->Stats().handed_back_total, 3u);
}

TEST_F(SchedulerOutageTest, ATransientFailureOfTheTaskStillSpendsAnAttempt) {
  Submit(/*max_attempts=*/1);
  ASSERT_EQ(Done("w1", tasks_[0], ErrorClass::kTransient).accepted, 1u);
  EXPECT_EQ(Job().counts.dead, 1u);
}

TEST_F(SchedulerOutageTest, AFinishedTasksLeaseOutlivesTheCapWhileItsResultAwaitsTheSink) {
  Submit(/*max_attempts=*/1, /*task_timeout=*/10'000'000'000);
  // The sink is away for a minute: task 0's result waits for its ACK, task 1 runs on (a
  // hung executor: the cap, 2 x task_timeout, still applies to it).
  for (int s = 2; s <= 60; s += 2) {
    clock_.Advance(seconds(2));
    Heartbeat("w1", {Ref(tasks_[1])}, {Ref(tasks_[0])});
    sched_->Tick();
  }
  EXPECT_EQ(Job().counts.dead, 2u) << "tasks 1 (capped) and 2 (never heartbeated)";
  ASSERT_EQ(Done("w1", tasks_[0]).accepted, 1u) << "its lease is still held";
  EXPECT_EQ(Job().counts.done, 1u);
  EXPECT_EQ(Job().state, JobState::kDoneWithFailures);
}

TEST_F(SchedulerOutageTest, ADoneOfATakenBackAttemptEndsTheTaskAndItsNewLease) {
  Submit(/*max_attempts=*/2);
  // w1 stays alive but its leases expire (say its results waited for the sink and it
  // predates awaiting_ack): all three go to w2 as attempt 2.
  Idle(11);
  Idle(60);  // past the retry backoff
  std::vector<TaskSpec> second = Dispatch("w2");
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].attempt, 2u);
  // w1's ACKed result of attempt 1 arrives: the sink holds it, so task 0 is done.
  ASSERT_EQ(Done("w1", tasks_[0]).accepted, 1u);
  EXPECT_EQ(Job().counts.done, 1u);
  EXPECT_EQ(Job().counts.in_flight, 2u) << "w2's lease of task 0 ended with it";
  EXPECT_EQ(sched_->Stats().late_done_total, 1u);
  // w2's own DONE of it is now stale; the other two end normally, nothing is dead.
  EXPECT_EQ(Done("w2", second[0]).accepted, 0u);
  EXPECT_EQ(Done("w2", second[1]).accepted, 1u);
  EXPECT_EQ(Done("w2", second[2]).accepted, 1u);
  EXPECT_EQ(Job().state, JobState::kDone);
  EXPECT_EQ(Job().counts.done, 3u);
  EXPECT_EQ(Job().counts.dead, 0u);
  // And a DONE for an attempt nobody took back is still refused.
  EXPECT_EQ(Done("w2", tasks_[1]).accepted, 0u);
}

TEST_F(SchedulerOutageTest, ALateDoneWhileTheTaskWaitsInTheQueueKeepsItFromRunningAgain) {
  Submit(/*max_attempts=*/3);
  Idle(11);
  ASSERT_EQ(Done("w1", tasks_[0]).accepted, 1u);
  Idle(60);
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 2u);
  for (const TaskSpec& t : again) {
    EXPECT_NE(t.key, tasks_[0].key);
    EXPECT_EQ(Done("w2", t).accepted, 1u);
  }
  EXPECT_EQ(Job().state, JobState::kDone);
}

// A worker that dies with a finished task (its result awaiting the sink's ACK) costs that
// task nothing; one that dies with a task queued or running costs it an attempt, so a
// task that kills its worker every time still ends.
TEST_F(SchedulerOutageTest, AWorkerDyingSpendsAnAttemptOnlyOfTasksItHadNotFinished) {
  Submit(/*max_attempts=*/1);
  Heartbeat("w1", {Ref(tasks_[1]), Ref(tasks_[2])}, {Ref(tasks_[0])});
  clock_.Advance(seconds(4));  // silent past heartbeat_interval x liveness
  Heartbeat("w2", {}, {});
  const TickOutcome tick = sched_->Tick();
  ASSERT_EQ(tick.dead_workers, std::vector<std::string>{"w1"});
  EXPECT_EQ(Job().counts.dead, 2u);
  EXPECT_EQ(sched_->Stats().unacked_rerun_total, 1u);
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key, tasks_[0].key);
  EXPECT_EQ(again[0].attempt, 1u);
  // The "dead" worker was only stopped: its ACKed DONE, sent before it says HELLO again,
  // still ends the task.
  ASSERT_EQ(Done("w1", tasks_[0]).accepted, 1u);
  EXPECT_EQ(Job().state, JobState::kDoneWithFailures);
  EXPECT_EQ(Job().counts.done, 1u);
  EXPECT_EQ(Job().counts.in_flight, 0u);
}

// Issue #14: tasks a worker had received but not started were charged when it died. The
// broker knows what the last heartbeat said: listed queued, a task never ran there.
TEST_F(SchedulerOutageTest, AWorkerDyingSpendsNoAttemptOfTasksItsLastHeartbeatListedQueued) {
  Submit(/*max_attempts=*/1);
  Heartbeat("w1", {Ref(tasks_[0])}, {}, {Ref(tasks_[1]), Ref(tasks_[2])});
  clock_.Advance(seconds(4));  // silent past heartbeat_interval x liveness
  Heartbeat("w2", {}, {});
  ASSERT_EQ(sched_->Tick().dead_workers, std::vector<std::string>{"w1"});
  EXPECT_EQ(Job().counts.dead, 1u);  // the one it was running
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 2u);
  for (const TaskSpec& t : again) {
    EXPECT_NE(t.key, tasks_[0].key);
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(Done("w2", t).accepted, 1u);
  }
  EXPECT_EQ(Job().state, JobState::kDoneWithFailures);
  EXPECT_EQ(Job().counts.done, 2u);
}

// A task that kills its worker just after a heartbeat listed it queued is free only a
// few times: it still runs out of attempts.
TEST_F(SchedulerOutageTest, TasksListedQueuedOnEveryLostWorkerStillEnd) {
  Submit(/*max_attempts=*/1);
  std::vector<TaskSpec> held = tasks_;
  for (int lost = 1; lost <= 10 && Job().counts.dead == 0; ++lost) {
    std::vector<TaskRef> queued;
    for (const TaskSpec& t : held) queued.push_back(Ref(t));
    Heartbeat("w1", {}, {}, queued);
    EXPECT_EQ(sched_->OnWorkerLost("w1", "gone"), held.size());
    HelloMsg hello;
    hello.worker_id = "w1";
    hello.analytics = {"count"};
    sched_->OnWorkerHello(hello);
    held = Dispatch("w1");
    if (Job().counts.dead == 0) {
      ASSERT_EQ(held.size(), 3u) << lost;
      EXPECT_LE(lost, 3) << "free take-backs are bounded";
    }
  }
  EXPECT_EQ(Job().counts.dead, 3u);
}

// BYE hands tasks back on purpose (a drain past its deadline, a second SIGTERM): they
// were cancelled, not failed.
TEST_F(SchedulerOutageTest, TasksHandedBackWithByeSpendNoAttempt) {
  Submit(/*max_attempts=*/1);
  EXPECT_EQ(sched_->OnWorkerBye("w1"), 3u);
  EXPECT_EQ(Job().counts.dead, 0u);
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 3u);
  for (const TaskSpec& t : again) {
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(Done("w2", t).accepted, 1u);
  }
  EXPECT_EQ(Job().state, JobState::kDone);
}

// Lost without a BYE (its process died: unreachable), a worker's unfinished tasks are
// charged, so a task that kills every worker it runs on still ends.
TEST_F(SchedulerOutageTest, TasksOfAWorkerLostWithoutByeSpendAnAttempt) {
  Submit(/*max_attempts=*/1);
  EXPECT_EQ(sched_->OnWorkerLost("w1", "gone"), 3u);
  EXPECT_EQ(Job().counts.dead, 3u);
}

// Found by the mixed schedule (seed 2757278608): a worker that reconnected (its broker
// link went silent) lost the TASK frames still on its old connection; their leases, held
// by a live worker that never named them, expired after task_timeout and each cost an
// attempt. Its first heartbeat on the new connection says what it holds: the rest were
// lost in transit and go back at once, free.
TEST_F(SchedulerOutageTest, TasksLostOnAReconnectGoBackFreeAtTheNextHeartbeat) {
  Submit(/*max_attempts=*/1);
  HelloMsg hello;
  hello.worker_id = "w1";
  hello.analytics = {"count"};
  sched_->OnWorkerHello(hello);
  sched_->OnWorkerReconnect("w1");
  // Task 0 runs, task 1's result awaits the sink; task 2's frame never arrived.
  Heartbeat("w1", {Ref(tasks_[0])}, {Ref(tasks_[1])});
  EXPECT_EQ(Job().counts.in_flight, 2u);
  std::vector<TaskSpec> again = Dispatch("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key, tasks_[2].key);
  EXPECT_EQ(again[0].attempt, 1u) << "no attempt spent";
  for (const TaskSpec& t : {tasks_[0], tasks_[1]}) EXPECT_EQ(Done("w1", t).accepted, 1u);
  EXPECT_EQ(Done("w2", again[0]).accepted, 1u);
  EXPECT_EQ(Job().state, JobState::kDone);
  // Only the first heartbeat after the reconnect counts: later ones change nothing.
  Heartbeat("w1", {}, {});
  EXPECT_EQ(Job().counts.dead, 0u);
}

// A broker stopped (SIGSTOP, swapped out) past every lease and every worker's liveness
// heard nobody because it was not listening: on its next Tick the time it was away is
// not charged, and the heartbeats waiting in its socket keep every lease.
TEST_F(SchedulerOutageTest, ABrokerStalledPastEveryLeaseChargesNoAttemptAndKillsNoWorker) {
  StartWithStallThreshold();
  Idle(1);
  Heartbeat("w1", {Ref(tasks_[0]), Ref(tasks_[1]), Ref(tasks_[2])}, {});
  sched_->Tick();
  clock_.Advance(seconds(30));  // stopped: no Tick, nothing received
  const TickOutcome resumed = sched_->Tick();
  EXPECT_EQ(resumed.expired_leases, 0u);
  EXPECT_TRUE(resumed.dead_workers.empty());
  EXPECT_EQ(resumed.stalled, seconds(30));
  // Then what waited in its socket arrives, and the job goes on.
  Heartbeat("w1", {Ref(tasks_[0]), Ref(tasks_[1]), Ref(tasks_[2])}, {});
  Heartbeat("w2", {}, {});
  for (const TaskSpec& t : tasks_) EXPECT_EQ(Done("w1", t).accepted, 1u);
  EXPECT_EQ(Job().state, JobState::kDone);
  EXPECT_EQ(Job().counts.dead, 0u);
  EXPECT_EQ(Job().counts.retried, 0u);
}

// What a stall is not: time that passes while the broker ticks, as it does every loop
// turn, still expires leases and declares silent workers dead.
TEST_F(SchedulerOutageTest, LeasesStillExpireWhileTheBrokerTicks) {
  StartWithStallThreshold();
  std::vector<std::string> dead_workers;
  for (int s = 0; s < 12; ++s) {
    clock_.Advance(seconds(1));
    Heartbeat("w2", {}, {});
    const TickOutcome tick = sched_->Tick();
    EXPECT_EQ(tick.stalled, seconds(0));
    dead_workers.insert(dead_workers.end(), tick.dead_workers.begin(), tick.dead_workers.end());
  }
  EXPECT_EQ(dead_workers, std::vector<std::string>{"w1"});
  EXPECT_EQ(Job().counts.dead, 3u) << "w1's tasks, charged when it was declared dead";
}

}  // namespace
}  // namespace btrq::broker
