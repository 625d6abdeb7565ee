// One fault at a time, injected into a real deployment while a job runs, then the total
// check over every task: none lost, none duplicated, every result equal to the ground
// truth. The reliability contract (docs/design.md) is the specification.

#include <signal.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "tests/faults/fault_fixture.h"
#include "tests/faults/netns.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

using ::testing::HasSubstr;

constexpr Millis kJobTimeout{120'000};

TEST_F(FaultTest, UndisturbedRunMatchesTheGroundTruth) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  EXPECT_EQ(check.dead, 0u);
}

TEST_F(FaultTest, WorkerKilledWithSigkillLosesNothing) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Kill(Role::kWorker, 0));
  // Its leases go back to the queue once the broker declares it dead; a restarted worker
  // is a new worker.
  ASSERT_OK(cluster_->Restart(Role::kWorker, 0));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
}

TEST_F(FaultTest, BrokerKilledWithSigkillRecoversAndEveryoneReconnects) {
  ASSERT_OK(Boot());
  // The CLI follows the job through the broker's death and restart on its own.
  std::vector<std::string> args = {"submit", "-q", "--wait"};
  for (const std::string& a : QualityJob()) args.push_back(a);
  ASSERT_OK_AND_ASSIGN(auto watcher, cluster_->SpawnCli(args));
  ASSERT_OK_AND_ASSIGN(std::string id_line, watcher->WaitForLine("^[0-9]+$", Millis(30'000)));
  ASSERT_OK_AND_ASSIGN(JobId job, ParseJobId(id_line));
  ASSERT_OK(WaitForProgress(job, 0.25));

  ASSERT_OK(cluster_->Kill(Role::kBroker));
  ASSERT_OK(cluster_->Restart(Role::kBroker));
  // Workers reconnect by themselves (REJECT "unknown worker" -> HELLO).
  ASSERT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(30'000)));

  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job, kJobTimeout));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  ASSERT_OK_AND_ASSIGN(int code, watcher->Wait(Millis(60'000)));
  EXPECT_EQ(code, 0) << watcher->Stderr();
}

TEST_F(FaultTest, SinkKilledWithSigkillKeepsEveryAcknowledgedResult) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK_AND_ASSIGN(double stored_before, cluster_->Metric(Role::kSink,
                                                              "btrq_sink_results_total"));
  ASSERT_OK(cluster_->Kill(Role::kSink));
  // Workers keep their unacknowledged results and stop taking tasks meanwhile; the
  // broker's done count only ever counts ACKed results, so the check below finds any
  // ACKed result the sink lost.
  ASSERT_OK(cluster_->Restart(Role::kSink));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  EXPECT_GT(stored_before, 0);
}

TEST_F(FaultTest, BtrdbKilledAndRestartedTasksRetryAsTransientAndFinish) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->Kill(Role::kBtrdb));
  // While it is away every running task fails with UNAVAILABLE: transient, retried.
  ASSERT_OK(cluster_->WaitForJob(
      job, [](const testing::Json& j) { return Count(j, "retried") > 0 || JobEnded(j); },
      Millis(30'000)));
  ASSERT_OK(cluster_->Restart(Role::kBtrdb));  // same --data-dir: the data is back
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  EXPECT_EQ(check.dead, 0u);
  EXPECT_GT(check.retried, 0u);
}

TEST_F(FaultTest, StoppedWorkerIsDeclaredDeadAndItsLateResultsAreDeduplicated) {
  ASSERT_OK(Boot());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(10'000)));
  ASSERT_OK(cluster_->Signal(Role::kWorker, 0, SIGSTOP));
  // Silent for heartbeat_interval x liveness: dead, its tasks requeued with attempt + 1.
  ASSERT_OK(cluster_->WaitForFewerWorkers(cluster_->workers(), Millis(20'000)));
  // It wakes up with tasks the others have taken over: its results and DONEs are late.
  ASSERT_OK(cluster_->Signal(Role::kWorker, 0, SIGCONT));
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  // And it rejoins.
  EXPECT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(30'000)));
  auto duplicates = cluster_->Metric(Role::kSink, "btrq_sink_duplicates_total");
  std::cout << "[ faults   ] sink duplicates dropped: "
            << (duplicates.ok() ? std::to_string(*duplicates) : duplicates.status().ToString())
            << std::endl;
}

// A hung executor on a live worker: the worker keeps heartbeating the task, so only the
// lease's hard cap (kMaxLeaseTimeouts x task_timeout after dispatch) takes it back.
TEST_F(FaultTest, HungExecutorOnALiveWorkerIsTakenBackByItsLease) {
  GenerateSpec spec;
  spec.streams = 3;
  spec.duration = "4h";
  ASSERT_OK(Boot(ClusterOptions(), spec, Millis(0)));
  const std::string stream = truth_.streams.front();
  const int64_t first_chunk = truth_.chunks.lower_bound({stream, INT64_MIN})->first.second;
  const std::string pid_file = cluster_->dir() + "/hung.pid";
  const std::string script = cluster_->dir() + "/count_or_hang.sh";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\n"
        << "# Counts the points of a task; attempt 1 of one chunk hangs instead.\n"
        << "read -r ctx\n"
        << "case \"$ctx\" in\n"
        << "  *'\"stream\":\"" << stream << "\",\"start\":" << first_chunk
        << ",'*'\"attempt\":1,'*)\n"
        << "    echo $$ > " << pid_file << "\n"
        << "    exec sleep 3600 ;;\n"
        << "esac\n"
        << "n=$(wc -l | tr -d ' ')\n"
        << "echo \"{\\\"n\\\":$n}\"\n";
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  // An exec job is refused while no connected worker allows its program.
  ASSERT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(10'000)));

  ASSERT_OK_AND_ASSIGN(
      JobId job, cluster_->Submit({"--collection", spec_.collection, "--prefix", "--chunk",
                                   spec_.chunk, "--analytic", "exec", "--param",
                                   "command=/bin/sh " + script, "--param", "timeout=1h",
                                   "--task-timeout", "2s", "--max-attempts", "10"}));
  CheckOptions options;
  options.truth_fields = {{"n", "count"}};
  auto check = Finish(job, Millis(60'000), options);
  // The hung command is ours to end, whatever the outcome.
  std::ifstream pid_in(pid_file);
  pid_t hung = 0;
  ASSERT_TRUE(pid_in >> hung) << "the hanging task never ran";
  ::kill(hung, SIGKILL);
  ASSERT_OK(check);
  EXPECT_TRUE(check->ok()) << check->Summary();
  EXPECT_EQ(check->results, check->tasks);
  EXPECT_GE(check->retried, 1u);
  size_t repeated = 0;
  ASSERT_OK_AND_ASSIGN(auto results, FetchResults(cluster_.get(), job, &repeated));
  const ChunkKey hung_key{stream, first_chunk};
  EXPECT_GE(results[hung_key]["attempt"].AsNumber(), 2);
}

// A worker cut off from everything (its network link down: packets dropped, no reset)
// while it holds tasks, and reconnected after the broker has given them to others.
TEST_F(FaultTest, WorkerCutOffFromTheBrokerByTheNetworkLosesNothing) {
  auto ns = NetworkNamespace::Create();
  if (!ns.ok()) {
    GTEST_SKIP() << "cannot make a network namespace with a veth link here (needs root and "
                    "iproute2): "
                 << ns.status().ToString();
  }
  ClusterOptions options;
  options.data_host = (*ns)->host_address();
  const std::vector<std::string> prefix = (*ns)->ExecPrefix();
  options.worker_prefix = [prefix](size_t i) {
    return i == 0 ? prefix : std::vector<std::string>{};
  };
  ASSERT_OK(Boot(options));
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(WaitForProgress(job, 0.2));
  ASSERT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(10'000)));
  ASSERT_OK((*ns)->Cut());
  ASSERT_OK(cluster_->WaitForFewerWorkers(cluster_->workers(), Millis(20'000)));
  ASSERT_OK((*ns)->Heal());
  ASSERT_OK_AND_ASSIGN(TotalCheck check, Finish(job));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.results, check.tasks);
  EXPECT_OK(cluster_->WaitForWorkers(cluster_->workers(), Millis(30'000)));
  // The namespace goes after the processes in it.
  cluster_.reset();
}

}  // namespace
}  // namespace btrq::faults
