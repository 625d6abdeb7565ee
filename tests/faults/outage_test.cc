// A passing outage of a dependency (BTrDB, the sink) pauses the work it blocks and never
// burns a task's attempts (issue #14, section 2): jobs with the default max_attempts
// (3) end done, with no dead letter and the results of an undisturbed run.

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/fault_fixture.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

constexpr Millis kLongJobTimeout{300'000};

class OutageTest : public FaultTest {
 protected:
  // QualityJob() with the default max_attempts, plus `extra`.
  std::vector<std::string> DefaultAttemptsJob(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = QualityJob();
    auto it = std::find(args.begin(), args.end(), "--max-attempts");
    if (it != args.end()) args.erase(it, it + 2);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Keeps the fault for `outage` while watching the job (polled twice a second; the
  // broker stays up, so every poll answers): returns the most dead letters seen.
  Result<int64_t> HoldOutage(JobId job, Millis outage) {
    int64_t dead = 0;
    const auto until = std::chrono::steady_clock::now() + outage;
    while (std::chrono::steady_clock::now() < until) {
      BTRQ_ASSIGN_OR_RETURN(testing::Json j, cluster_->Job(job));
      dead = std::max(dead, Count(j, "dead"));
      std::this_thread::sleep_for(Millis(500));
    }
    return dead;
  }

  // The total check against the baseline (or, without one, the generator's truth):
  // every task done, none dead.
  void ExpectDoneLikeTheBaselineOrTruth(JobId job) {
    CheckOptions options;
    if (!baseline_.empty()) options.baseline = &baseline_;
    ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, kLongJobTimeout, options));
    EXPECT_TRUE(check.ok()) << check.Summary();
    EXPECT_EQ(check.results, check.tasks) << check.Summary();
    EXPECT_EQ(check.dead, 0u) << check.Summary();
    ASSERT_OK_AND_ASSIGN(testing::Json end, cluster_->Job(job));
    EXPECT_EQ(end["state"].AsString(), "done");
  }
};

// The review's case: btrdb-lite killed and restarted after 6 s dead-lettered 6 of 8
// tasks, each failing at once while its worker's reconnect backed off.
TEST_F(OutageTest, BtrdbRestartedAfterSixSecondsBurnsNoAttempts) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(DefaultAttemptsJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Kill(Role::kBtrdb));
  ASSERT_OK_AND_ASSIGN(int64_t dead, HoldOutage(job, Millis(6'000)));
  EXPECT_EQ(dead, 0) << "tasks dead-lettered while BTrDB was away";
  ASSERT_OK(cluster_->Restart(Role::kBtrdb));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, kLongJobTimeout));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks) << check.Summary();
  EXPECT_EQ(check.dead, 0u) << check.Summary();
}

// The review's case: the sink stopped for longer than the lease cap (2 x task_timeout)
// and two attempts; every result reached the sink once it resumed, yet the broker had
// dead-lettered the tasks and dropped their DONEs as stale.
TEST_F(OutageTest, SinkStoppedPastTheLeaseCapLosesNoTask) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job,
                       cluster_->Submit(DefaultAttemptsJob(
                           {"--task-timeout", "2s", "--max-attempts", "2"})));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Signal(Role::kSink, 0, SIGSTOP));
  auto dead = HoldOutage(job, Millis(15'000));
  ASSERT_OK(cluster_->Signal(Role::kSink, 0, SIGCONT));
  ASSERT_OK(dead);
  EXPECT_EQ(*dead, 0) << "tasks dead-lettered while the sink was stopped";
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, kLongJobTimeout));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks) << check.Summary();
  EXPECT_EQ(check.dead, 0u) << check.Summary();
}

// Issue #14: with btrdb-lite stopped (SIGSTOP), each executor's read hung until the
// stream's deadline (5 min), holding every slot: the workers never noticed the outage.
// With btrdb.read_idle_timeout a stalled read is cancelled as an outage: its task goes
// back unattempted during the freeze, and the job ends done once BTrDB resumes.
TEST_F(OutageTest, FrozenBtrdbPastTheReadIdleTimeoutFreesTheSlotsAndBurnsNoAttempts) {
  ClusterOptions options;
  options.env = {"BTRQ_BTRDB_READ_IDLE_TIMEOUT=2s"};
  ASSERT_OK(Boot(options));
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(DefaultAttemptsJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGSTOP));
  // Frozen for up to 20 s: the stalled reads are handed back within the idle timeout
  // (plus the watchdog's slack), not at the stream's deadline.
  double handed_back = 0;
  const auto until = std::chrono::steady_clock::now() + Millis(20'000);
  while (handed_back == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(Millis(250));
    handed_back = cluster_->Metric(Role::kBroker, "btrq_tasks_total{status=\"handed_back\"}")
                      .value_or(0);
  }
  ASSERT_OK_AND_ASSIGN(testing::Json frozen, cluster_->Job(job));
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGCONT));
  EXPECT_GT(handed_back, 0) << "no stalled read was handed back while BTrDB was frozen";
  EXPECT_EQ(Count(frozen, "dead"), 0);
  ExpectDoneLikeTheBaselineOrTruth(job);
}

// Outsider scenario (issue #14): the sink stopped while results await its ACK, then
// killed and restarted. The workers resend; the new sink ACKs them with valid receipts,
// and the job ends done with one result per task.
TEST_F(OutageTest, SinkRestartedWhileResultsAwaitTheirAckEndsDoneExactlyOnce) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(DefaultAttemptsJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Signal(Role::kSink, 0, SIGSTOP));
  ASSERT_OK_AND_ASSIGN(int64_t dead, HoldOutage(job, Millis(3'000)));  // results pile up
  ASSERT_OK(cluster_->Kill(Role::kSink));
  ASSERT_OK(cluster_->Restart(Role::kSink));
  EXPECT_EQ(dead, 0);
  ExpectDoneLikeTheBaselineOrTruth(job);
  // Every DONE "ok" the broker got carried a receipt it could verify.
  EXPECT_EQ(cluster_->Metric(Role::kBroker, "btrq_bad_messages_total{reason=\"bad_receipt\"}")
                .value_or(0.0),
            0.0);
}

TEST_F(OutageTest, BtrdbDownForAMinuteMidJobEndsDoneLikeAnUndisturbedRun) {
  ASSERT_OK(Boot());
  ASSERT_OK(TakeBaseline(DefaultAttemptsJob()));
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(DefaultAttemptsJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Kill(Role::kBtrdb));
  ASSERT_OK_AND_ASSIGN(int64_t dead, HoldOutage(job, Millis(60'000)));
  EXPECT_EQ(dead, 0);
  ASSERT_OK(cluster_->Restart(Role::kBtrdb));
  ExpectDoneLikeTheBaselineOrTruth(job);
}

// task_timeout 10 s: the minute's outage is three times the lease cap.
TEST_F(OutageTest, SinkStoppedForAMinuteMidJobEndsDoneLikeAnUndisturbedRun) {
  ASSERT_OK(Boot());
  const std::vector<std::string> args = DefaultAttemptsJob({"--task-timeout", "10s"});
  ASSERT_OK(TakeBaseline(args));
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(args));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Signal(Role::kSink, 0, SIGSTOP));
  auto dead = HoldOutage(job, Millis(60'000));
  ASSERT_OK(cluster_->Signal(Role::kSink, 0, SIGCONT));
  ASSERT_OK(dead);
  EXPECT_EQ(*dead, 0);
  ExpectDoneLikeTheBaselineOrTruth(job);
}

}  // namespace
}  // namespace btrq::faults
