#pragma once

// The fixture of the fault-injection tests: a cluster with synthetic data loaded and its
// ground truth read, helpers to submit the `quality` job over all of it, to wait until it
// is part-way through (so that a fault lands while it runs) and to finish with the total
// check. On failure the tail of every process's log is printed.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/faults/cluster.h"
#include "tests/faults/total_check.h"

namespace btrq::faults {

class FaultTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Starts the cluster, loads `spec`'s data and reads its manifest; then paces every
  // BTrDB call by `delay` so the job takes a few seconds.
  Status Boot(const ClusterOptions& options = ClusterOptions(),
              const GenerateSpec& spec = GenerateSpec(), Millis delay = Millis(40));

  // The `quality` job over the generated streams, chunked as the manifest, with room
  // for many transient failures (faults are not the tasks' fault).
  std::vector<std::string> QualityJob() const;

  // Polls until done + dead >= fraction * total. FailedPrecondition if the job ended
  // first (the fault would not land while it runs).
  Result<testing::Json> WaitForProgress(JobId job, double fraction);

  // Waits for the job's end and runs the total check; prints its summary.
  Result<TotalCheck> Finish(JobId job, Millis timeout = Millis(120'000),
                            const CheckOptions& options = CheckOptions());

  // Runs QualityJob() undisturbed once and keeps its results in baseline_: what every
  // faulted run must equal. Internal when that run is not clean.
  Status TakeBaseline();

  std::unique_ptr<Cluster> cluster_;
  GenerateSpec spec_;
  ManifestTruth truth_;
  std::map<ChunkKey, testing::Json> baseline_;
};

// Integer value of a JSON number member.
inline int64_t Count(const testing::Json& job, const char* name) {
  return static_cast<int64_t>(job["counts"][name].AsNumber());
}

}  // namespace btrq::faults
