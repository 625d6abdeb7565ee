// Randomised fault schedules against a real deployment, checked in total against the
// ground truth and an undisturbed run of the same job. The seed is printed; set
// BTRQ_FAULT_SEED to replay one. BTRQ_SOAK_SECONDS=N runs rounds of the mixed schedule
// for N seconds (run the test binary directly: ctest's timeout is for the bounded suite)
// and prints the figures.
//
// The mixed schedule (issue #14, section 7): two normal jobs and a poison job run while
// every fault kind of schedule.h lands, each chosen and timed by the seeded generator.
// The normal jobs use the DEFAULT max_attempts: the faults are process deaths,
// dependency outages and hostile peers, never a task's fault, so a dead letter there is
// a failure. The poison job ends with every task dead-lettered with its reason; and at
// the end every worker still takes tasks.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "tests/faults/fault_fixture.h"
#include "tests/faults/schedule.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

// The normal jobs' lease: the broker's SIGSTOP outlasts it; longer than a BTrDB call's
// deadline (btrdb_call_timeout, 5 s), so a call that waits for it is no lost lease.
constexpr Millis kTaskTimeout{6'000};
constexpr Millis kJobTimeout{300'000};
// Every BTrDB call waits this long: undisturbed, a normal job takes about 13 s, so two
// of them outlast a schedule of every kind.
constexpr Millis kBtrdbDelay{200};
// The poison job's tasks all fail: its command exits with this status.
constexpr const char* kPoisonExit = "exit 3";

void PrintSeed(const char* what, uint64_t seed) {
  std::cout << "[ " << what << " ] seed " << seed << " (replay: BTRQ_FAULT_SEED=" << seed << ")"
            << std::endl;
}

// What one round of the mixed schedule did and found.
struct Round {
  std::vector<InjectedFault> faults;
  std::vector<TotalCheck> normal;  // one per normal job
  std::vector<std::string> cancelled_problems;  // of the job cancelled before the faults
  size_t poison_tasks = 0;
  size_t poison_dead = 0;
  std::vector<std::string> poison_problems;
};

class RandomScheduleTest : public FaultTest {
 protected:
  // `quality` over all the data with the default max_attempts.
  std::vector<std::string> NormalJob() const {
    return {"--collection", spec_.collection, "--prefix", "--chunk", spec_.chunk,
            "--analytic", "quality", "--task-timeout",
            std::to_string(kTaskTimeout.count()) + "ms"};
  }
  // An exec job whose every task fails: few, large chunks.
  std::vector<std::string> PoisonJob() const {
    return {"--collection", spec_.collection, "--prefix", "--chunk", "4h", "--analytic", "exec",
            "--param", std::string("command=[\"/bin/sh\", \"-c\", \"") + kPoisonExit + "\"]"};
  }

  // A few keys of `job`, for the hostile peers to forge frames for.
  std::vector<TaskKey> Targets(JobId job) const {
    std::vector<TaskKey> keys;
    for (const auto& [key, chunk] : truth_.chunks) {
      Result<Uuid> uuid = Uuid::Parse(key.first);
      if (uuid.ok()) keys.push_back(TaskKey{job, *uuid, key.second});
      if (keys.size() == 4) break;
    }
    return keys;
  }

  Result<Round> RunRound(ScheduleOptions options, std::mt19937_64* rng);
  Status CheckPoison(JobId job, Round* round);
  // Every registered worker (as many as the cluster runs) takes tasks of a last job.
  void ExpectEveryWorkerTakesTasks();
};

Result<Round> RandomScheduleTest::RunRound(ScheduleOptions options, std::mt19937_64* rng) {
  Round round;
  BTRQ_ASSIGN_OR_RETURN(JobId first, cluster_->Submit(NormalJob()));
  BTRQ_ASSIGN_OR_RETURN(JobId poison, cluster_->Submit(PoisonJob()));
  BTRQ_ASSIGN_OR_RETURN(JobId second, cluster_->Submit(NormalJob()));
  // A job cancelled before the faults: the cancel, once acknowledged, survives them all.
  BTRQ_ASSIGN_OR_RETURN(JobId cancelled, cluster_->Submit(NormalJob()));
  BTRQ_RETURN_IF_ERROR(WaitForProgress(first, 0.02).status());
  BTRQ_ASSIGN_OR_RETURN(CliRun cancel, cluster_->Cli({"cancel", std::to_string(cancelled)}));
  if (cancel.exit_code != 0) return Status::Internal("btrq cancel: " + cancel.err);
  options.task_timeout = kTaskTimeout;
  options.targets = Targets(first);
  for (const TaskKey& k : Targets(second)) options.targets.push_back(k);
  BTRQ_ASSIGN_OR_RETURN(round.faults, RunSchedule(cluster_.get(), {first, second}, options, rng));
  const auto faults_over = std::chrono::steady_clock::now();
  CheckOptions check;
  check.baseline = &baseline_;
  for (JobId job : {first, second}) {
    BTRQ_RETURN_IF_ERROR(cluster_->WaitForJobEnd(job, kJobTimeout).status());
    // How much room the jobs left: a schedule of every kind must land while they run.
    std::cout << "[ schedule ] job " << job << " ended "
              << std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() -
                                                    faults_over).count()
              << " ms after the last fault" << std::endl;
    BTRQ_ASSIGN_OR_RETURN(TotalCheck c, Finish(job, kJobTimeout, check));
    BTRQ_ASSIGN_OR_RETURN(testing::Json end, cluster_->Job(job));
    if (end["state"].AsString() != "done") {
      c.problems.push_back("job " + std::to_string(job) + " ended " + end["state"].AsString());
    }
    round.normal.push_back(std::move(c));
  }
  BTRQ_RETURN_IF_ERROR(CheckPoison(poison, &round));
  // Cancelled early, it may have expanded nothing: its counts must add up, nothing run.
  BTRQ_ASSIGN_OR_RETURN(testing::Json end, cluster_->Job(cancelled));
  const int64_t ended = Count(end, "done") + Count(end, "dead") + Count(end, "cancelled");
  if (end["state"].AsString() != "cancelled" || ended != Count(end, "total") ||
      Count(end, "pending") != 0 || Count(end, "in_flight") != 0) {
    round.cancelled_problems.push_back(
        "the cancelled job " + std::to_string(cancelled) + " ended " +
        end["state"].AsString() + " with total " + std::to_string(Count(end, "total")) +
        ", ended " + std::to_string(ended) + ", pending " +
        std::to_string(Count(end, "pending")) + ", in flight " +
        std::to_string(Count(end, "in_flight")));
  }
  return round;
}

Status RandomScheduleTest::CheckPoison(JobId job, Round* round) {
  BTRQ_ASSIGN_OR_RETURN(testing::Json end, cluster_->WaitForJobEnd(job, kJobTimeout));
  BTRQ_ASSIGN_OR_RETURN(CliRun show, cluster_->Cli({"show", std::to_string(job), "--json",
                                                    "--dead-limit", "1000000"}));
  if (show.exit_code != 0) return Status::Unavailable("btrq show: " + show.err);
  BTRQ_ASSIGN_OR_RETURN(testing::Json shown, testing::Json::Parse(show.out));
  round->poison_tasks = static_cast<size_t>(Count(end, "total"));
  round->poison_dead = shown["dead_letters"].size();
  const auto problem = [round](std::string p) { round->poison_problems.push_back(std::move(p)); };
  if (end["state"].AsString() != "done_with_failures") {
    problem("poison job ended " + end["state"].AsString());
  }
  if (Count(end, "done") != 0 || round->poison_dead != round->poison_tasks) {
    problem("poison job: " + std::to_string(round->poison_dead) + " dead letters of " +
            std::to_string(round->poison_tasks) + " tasks, " +
            std::to_string(Count(end, "done")) + " done");
  }
  // Its own failure is the reason, except where a fault took the last attempt (a lease
  // taken back from a dead worker counts, so that a task that kills workers ends too).
  size_t own = 0;
  for (const testing::Json& d : shown["dead_letters"].elements()) {
    if (d["error"].AsString().empty()) problem("poison dead letter without an error");
    if (d["error"].AsString().find("exited with status 3") != std::string::npos) ++own;
  }
  if (round->poison_dead > 0 && 2 * own < round->poison_dead) {
    problem("poison dead letters with the command's status: " + std::to_string(own) + " of " +
            std::to_string(round->poison_dead));
  }
  return Status::OK();
}

void RandomScheduleTest::ExpectEveryWorkerTakesTasks() {
  const size_t n = cluster_->workers();
  ASSERT_OK(cluster_->WaitForWorkers(n, Millis(30'000)));
  const auto done_by_worker = [this]() -> Result<std::map<std::string, double>> {
    BTRQ_ASSIGN_OR_RETURN(CliRun run, cluster_->Cli({"workers", "--json"}));
    BTRQ_ASSIGN_OR_RETURN(testing::Json doc, testing::Json::Parse(run.out));
    std::map<std::string, double> done;
    for (const testing::Json& w : doc["workers"].elements()) {
      done[w["id"].AsString()] = w["tasks_done"].AsNumber();
    }
    return done;
  };
  ASSERT_OK_AND_ASSIGN(auto before, done_by_worker());
  // Many small tasks: each worker's first credit alone takes some.
  ASSERT_OK_AND_ASSIGN(JobId last, cluster_->Submit({"--collection", spec_.collection, "--prefix",
                                                     "--chunk", "1h", "--analytic", "noop"}));
  ASSERT_OK_AND_ASSIGN(testing::Json end, cluster_->WaitForJobEnd(last, Millis(120'000)));
  EXPECT_EQ(end["state"].AsString(), "done");
  ASSERT_OK_AND_ASSIGN(auto after, done_by_worker());
  EXPECT_EQ(after.size(), n) << "workers registered at the end";
  for (const auto& [id, done] : after) {
    EXPECT_GT(done, before.count(id) ? before[id] : 0) << "worker " << id << " took no task";
  }
  // Idle, each worker has given back all its credit and holds no lease: none leaked.
  const double credit = 2.0 * cluster_->options().worker_threads;
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + Millis(30'000);
  for (;;) {
    ASSERT_OK_AND_ASSIGN(CliRun run, cluster_->Cli({"workers", "--json"}));
    ASSERT_OK_AND_ASSIGN(testing::Json doc, testing::Json::Parse(run.out));
    bool idle = doc["workers"].size() == n;
    seen.clear();
    for (const testing::Json& w : doc["workers"].elements()) {
      idle = idle && w["credit"].AsNumber() == credit && w["in_flight"].AsNumber() == 0;
      seen += " " + w["id"].AsString() + ": credit " + std::to_string(w["credit"].AsNumber()) +
              ", in flight " + std::to_string(w["in_flight"].AsNumber()) + ";";
    }
    if (idle) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "workers not idle with all their credit (" << credit << " each):" << seen;
    std::this_thread::sleep_for(Millis(200));
  }
}

// Prints a round's outcome; true when it is clean.
bool ExpectClean(const Round& round, const std::string& what) {
  bool clean = true;
  for (const TotalCheck& c : round.normal) {
    EXPECT_TRUE(c.ok()) << what << ": " << c.Summary();
    EXPECT_EQ(c.results, c.tasks) << what << ": " << c.Summary();
    EXPECT_EQ(c.dead, 0u) << what << ": dead letters in a normal job: " << c.Summary();
    clean = clean && c.ok() && c.results == c.tasks && c.dead == 0;
  }
  for (const std::string& p : round.poison_problems) ADD_FAILURE() << what << ": " << p;
  for (const std::string& p : round.cancelled_problems) ADD_FAILURE() << what << ": " << p;
  return clean && round.poison_problems.empty() && round.cancelled_problems.empty();
}

TEST_F(RandomScheduleTest, RandomFaultsLoseAndDuplicateNothing) {
  const uint64_t seed = FaultSeed();
  PrintSeed("schedule", seed);
  RecordProperty("fault_seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK(Boot());
  ASSERT_OK(TakeBaseline());
  ASSERT_OK_AND_ASSIGN(JobId job, cluster_->Submit(QualityJob()));
  ScheduleOptions options;
  options.min_dependency = Millis(0);
  options.max_dependency = options.max_outage;
  options.overlap = 0;
  ASSERT_OK_AND_ASSIGN(std::vector<InjectedFault> done,
                       RunSchedule(cluster_.get(), {job}, options, &rng));
  CheckOptions check;
  check.baseline = &baseline_;
  ASSERT_OK_AND_ASSIGN(TotalCheck result, Finish(job, Millis(120'000), check));
  EXPECT_TRUE(result.ok()) << "seed " << seed << ": " << result.Summary();
  EXPECT_EQ(result.results, result.tasks) << "seed " << seed;
  EXPECT_GT(done.size(), 0u) << "the job ended before any fault";
}

// The bounded run of CI: every kind once, in the seed's order.
TEST_F(RandomScheduleTest, MixedFaultsKeepThePromise) {
  const uint64_t seed = FaultSeed();
  PrintSeed("mixed   ", seed);
  RecordProperty("fault_seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK(Boot(ClusterOptions(), GenerateSpec(), kBtrdbDelay));
  ASSERT_OK(TakeBaseline(NormalJob()));
  ScheduleOptions options;
  options.kinds = AllFaultKinds();
  options.every_kind = true;
  options.faults = kFaultKinds;
  ASSERT_OK_AND_ASSIGN(Round round, RunRound(options, &rng));
  EXPECT_EQ(round.faults.size(), kFaultKinds) << "the jobs ended before every fault landed";
  ExpectClean(round, "seed " + std::to_string(seed));
  ExpectEveryWorkerTakesTasks();
}

TEST_F(RandomScheduleTest, Soak) {
  const char* env = std::getenv("BTRQ_SOAK_SECONDS");
  if (env == nullptr || std::atoi(env) <= 0) {
    GTEST_SKIP() << "set BTRQ_SOAK_SECONDS=N to run the mixed schedule for N seconds";
  }
  const auto budget = std::chrono::seconds(std::atoi(env));
  const uint64_t seed = FaultSeed();
  PrintSeed("soak    ", seed);
  std::mt19937_64 rng(seed);
  ASSERT_OK(Boot(ClusterOptions(), GenerateSpec(), kBtrdbDelay));
  ASSERT_OK(TakeBaseline(NormalJob()));
  const auto start = std::chrono::steady_clock::now();
  FaultTally tally;
  size_t runs = 0, tasks = 0, lost = 0, duplicated = 0, mismatched = 0, dead = 0, failed = 0;
  while (std::chrono::steady_clock::now() - start < budget) {
    ScheduleOptions options;
    options.kinds = AllFaultKinds();
    options.faults = std::uniform_int_distribution<size_t>(4, 10)(rng);
    ASSERT_OK_AND_ASSIGN(Round round, RunRound(options, &rng));
    ++runs;
    tally.Add(round.faults);
    for (const TotalCheck& c : round.normal) {
      tasks += c.tasks;
      lost += c.lost;
      duplicated += c.duplicated;
      mismatched += c.mismatched;
      dead += c.dead;
    }
    if (!ExpectClean(round, "run " + std::to_string(runs))) ++failed;
    std::cout << "[ soak     ] run " << runs << ": " << round.faults.size() << " faults, "
              << (failed ? "failures so far " + std::to_string(failed) : "clean so far")
              << std::endl;
  }
  ExpectEveryWorkerTakesTasks();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ soak     ] seed " << seed << ": " << elapsed.count() << " s, runs " << runs
            << ", faults " << tally.total() << " (" << tally.ToString() << "), tasks " << tasks
            << ", lost " << lost << ", duplicated " << duplicated << ", mismatched "
            << mismatched << ", dead letters " << dead << ", failed runs " << failed
            << std::endl;
}

}  // namespace
}  // namespace btrq::faults
