// Randomised fault schedules against a real deployment, checked in total against the
// ground truth and an undisturbed run of the same job. The seed is printed; set
// BTRQ_FAULT_SEED to replay one. BTRQ_SOAK_SECONDS=N runs repeated randomised jobs for N
// seconds (run the test binary directly: ctest's timeout is for the bounded suite).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>

#include "tests/faults/fault_fixture.h"
#include "tests/faults/schedule.h"
#include "tests/support/status_matchers.h"

namespace btrq::faults {
namespace {

class RandomScheduleTest : public FaultTest {
 protected:
  // One job under a random schedule: its check, and the faults injected.
  Result<TotalCheck> RunOnce(std::mt19937_64* rng, size_t faults, size_t* injected) {
    BTRQ_ASSIGN_OR_RETURN(JobId job, cluster_->Submit(QualityJob()));
    ScheduleOptions options;
    options.faults = faults;
    BTRQ_ASSIGN_OR_RETURN(std::vector<InjectedFault> done,
                          RunSchedule(cluster_.get(), job, options, rng));
    *injected = done.size();
    CheckOptions check;
    check.baseline = &baseline_;
    return Finish(job, Millis(120'000), check);
  }
};

TEST_F(RandomScheduleTest, RandomFaultsLoseAndDuplicateNothing) {
  const uint64_t seed = FaultSeed();
  std::cout << "[ schedule ] seed " << seed << " (replay: BTRQ_FAULT_SEED=" << seed << ")"
            << std::endl;
  RecordProperty("fault_seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK(Boot());
  ASSERT_OK(TakeBaseline());
  size_t injected = 0;
  ASSERT_OK_AND_ASSIGN(TotalCheck check, RunOnce(&rng, 4, &injected));
  EXPECT_TRUE(check.ok()) << "seed " << seed << ": " << check.Summary();
  EXPECT_EQ(check.results, check.tasks) << "seed " << seed;
  EXPECT_GT(injected, 0u) << "the job ended before any fault";
}

TEST_F(RandomScheduleTest, Soak) {
  const char* env = std::getenv("BTRQ_SOAK_SECONDS");
  if (env == nullptr || std::atoi(env) <= 0) {
    GTEST_SKIP() << "set BTRQ_SOAK_SECONDS=N to run randomised jobs for N seconds";
  }
  const auto budget = std::chrono::seconds(std::atoi(env));
  const uint64_t seed = FaultSeed();
  std::cout << "[ soak     ] seed " << seed << ", " << budget.count() << " s" << std::endl;
  std::mt19937_64 rng(seed);
  ASSERT_OK(Boot());
  ASSERT_OK(TakeBaseline());
  const auto start = std::chrono::steady_clock::now();
  size_t runs = 0, faults = 0, tasks = 0, lost = 0, duplicated = 0, mismatched = 0;
  while (std::chrono::steady_clock::now() - start < budget) {
    size_t injected = 0;
    const size_t n = std::uniform_int_distribution<size_t>(2, 6)(rng);
    ASSERT_OK_AND_ASSIGN(TotalCheck check, RunOnce(&rng, n, &injected));
    ++runs;
    faults += injected;
    tasks += check.tasks;
    lost += check.lost;
    duplicated += check.duplicated;
    mismatched += check.mismatched;
    EXPECT_TRUE(check.ok()) << "run " << runs << ": " << check.Summary();
    std::cout << "[ soak     ] run " << runs << ": faults " << injected << ", tasks "
              << check.tasks << ", lost " << check.lost << ", duplicated " << check.duplicated
              << std::endl;
  }
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ soak     ] seed " << seed << ": " << elapsed.count() << " s, runs " << runs
            << ", faults injected " << faults << ", tasks " << tasks << ", lost " << lost
            << ", duplicated " << duplicated << ", mismatched " << mismatched << std::endl;
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(mismatched, 0u);
}

}  // namespace
}  // namespace btrq::faults
