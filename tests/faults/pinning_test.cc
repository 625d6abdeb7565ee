// A result is a pure function of what was pinned (docs/design.md, "Reliability
// contract"): a broker restarted while BTrDB is away, or BTrDB stopped mid-job, may delay
// a job but never change a result, and never stalls the broker's loop (control calls,
// heartbeats to the workers).

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/faults/fault_fixture.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr Millis kPoll{100};

// Polls the broker's metric until it is at least `min`.
Status WaitForMetric(Cluster* cluster, const std::string& name, double min, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Result<double> v = cluster->Metric(Role::kBroker, name);
    if (v.ok() && *v >= min) return Status::OK();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded(name + " did not reach " + std::to_string(min) +
                                      "; last: " +
                                      (v.ok() ? std::to_string(*v) : v.status().ToString()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

// The reproduction: kill -9 of the broker after every stream is pinned, restarted
// while BTrDB is stopped. The quality tasks' rate/min/max come from the pins in the
// journal, not from BTrDB at dispatch, so every result equals the undisturbed run's.
TEST_F(FaultTest, BrokerRestartedWhileBtrdbIsStoppedChangesNoResult) {
  ASSERT_OK(Boot());
  ASSERT_OK(TakeBaseline());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));  // every stream pinned, and the pins durable

  ASSERT_OK(cluster_->Kill(Role::kBroker));
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGSTOP));
  // The workers' running reads now hang on the stopped BTrDB (up to their stream deadline)
  // and hold every slot, so a worker offers no credit: only fresh workers show whether the
  // broker dispatches without BTrDB. Restarted, they have every slot free.
  for (size_t i = 0; i < cluster_->workers(); ++i) ASSERT_OK(cluster_->Kill(Role::kWorker, i));
  ASSERT_OK(cluster_->Restart(Role::kBroker));
  for (size_t i = 0; i < cluster_->workers(); ++i) ASSERT_OK(cluster_->Restart(Role::kWorker, i));
  // Tasks go out while BTrDB is still stopped (their workers then wait on BTrDB too).
  const Status dispatched = WaitForMetric(cluster_.get(), "btrq_tasks_inflight", 1,
                                          Millis(90'000));
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGCONT));
  ASSERT_OK(dispatched);

  CheckOptions options;
  options.baseline = &baseline_;
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, Millis(180'000), options));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  EXPECT_EQ(check.dead, 0u);
}

// BTrDB stopped (SIGSTOP: calls hang until their deadline) while the broker still pins a
// job's streams: the control API answers within a second, the workers hear the broker's
// heartbeats (none reconnects for silence), a job submitted meanwhile is accepted and
// expands once BTrDB is back, and both jobs' results are right.
TEST_F(FaultTest, BtrdbStoppedMidJobLeavesTheBrokerResponsive) {
  ClusterOptions options;
  options.btrdb_call_timeout = Millis(20'000);  // longer than any answer we wait for
  GenerateSpec spec;
  spec.streams = 400;  // pinned a few at a time ahead of the cursor: pinning outlasts the
  spec.duration = "30m";  // fault
  ASSERT_OK(Boot(options, spec));
  ASSERT_OK_AND_ASSIGN(JobId first, cluster_->Submit(QualityJob()));
  ASSERT_OK(cluster_->WaitForJob(
      first,
      [](const testing::Json& j) {
        return JobEnded(j) || (Count(j, "done") > 0 && !j["counts"]["total_final"].AsBool());
      },
      Millis(60'000)));
  ASSERT_OK_AND_ASSIGN(testing::Json before, cluster_->Job(first));
  ASSERT_FALSE(JobEnded(before)) << "the job ended before BTrDB could be stopped";

  // The broker pins all the time now: its next BTrDB call hangs.
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGSTOP));
  ASSERT_OK_AND_ASSIGN(CliRun jobs, cluster_->Cli({"--timeout", "1s", "jobs"}));
  std::vector<std::string> submit = {"--timeout", "1s", "submit", "-q"};
  for (const std::string& a : QualityJob()) submit.push_back(a);
  ASSERT_OK_AND_ASSIGN(CliRun second_run, cluster_->Cli(submit));
  ASSERT_OK_AND_ASSIGN(CliRun again, cluster_->Cli({"--timeout", "1s", "jobs"}));
  ASSERT_OK(cluster_->Signal(Role::kBtrdb, 0, SIGCONT));

  EXPECT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_EQ(again.exit_code, 0) << again.err;
  ASSERT_EQ(second_run.exit_code, 0) << second_run.err;
  std::string id = second_run.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  ASSERT_OK_AND_ASSIGN(JobId second, ParseJobId(id));

  for (JobId job : {first, second}) {
    ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, Millis(180'000)));
    EXPECT_TRUE(check.ok()) << "job " << job << ": " << check.Summary();
    EXPECT_EQ(check.results, check.tasks) << "job " << job;
  }
  EXPECT_THAT(cluster_->LogTail(1'000'000), Not(HasSubstr("nothing from the broker")));
}

}  // namespace
}  // namespace btrq::faults
