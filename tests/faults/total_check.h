#pragma once

// The total check of a finished job: every task of the job, read back from the sink
// (`btrq results`) and the broker (`btrq status`, `btrq show`), against the generator's
// manifest (the ground truth) and optionally an undisturbed run of the same job.
//
// A task key is (stream, chunk start). Each must end as exactly one of: one result in the
// sink, dead-lettered with an error, or cancelled. lost = keys with none of these;
// duplicated = keys with more than one result or dead letter, plus any excess of the
// broker's done count over the sink's results (the sink de-duplicates by key, so the
// broker's counts are checked too); mismatched = results whose values differ from the
// truth or from the undisturbed run.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "tests/faults/cluster.h"
#include "tests/support/json.h"

namespace btrq::faults {

// (stream UUID as canonical text, chunk start ns).
using ChunkKey = std::pair<std::string, int64_t>;

struct ManifestTruth {
  int64_t chunk_ns = 0;
  std::string collection;
  std::vector<std::string> streams;    // UUIDs, in manifest order
  std::map<ChunkKey, testing::Json> chunks;  // the truth of each chunk
};

// Reads a `btrdb-lite generate` manifest.
Result<ManifestTruth> LoadManifestTruth(const std::string& path);

// One result per key as `btrq results JOB` printed them; *repeated counts keys that came
// more than once.
Result<std::map<ChunkKey, testing::Json>> FetchResults(Cluster* cluster, JobId job,
                                                       size_t* repeated);

struct CheckOptions {
  // Result field -> manifest truth field compared (relative tolerance 1e-9). The default
  // fits the `quality` analytic.
  std::vector<std::pair<std::string, std::string>> truth_fields = {
      {"count", "count"},           {"duplicates", "duplicates"},
      {"unique", "unique"},         {"expected", "expected"},
      {"gaps", "gaps"},             {"nonfinite", "nonfinite"},
      {"out_of_range", "out_of_range"}, {"longest_stuck", "longest_stuck"},
      {"stuck_runs", "stuck_runs"}, {"completeness", "completeness"},
      {"score", "score"},           {"missing_seconds", "missing_seconds"}};
  // An undisturbed run's results: every field but job, attempt and worker must be equal.
  const std::map<ChunkKey, testing::Json>* baseline = nullptr;
};

struct TotalCheck {
  size_t tasks = 0;       // task keys of the job (from the manifest)
  size_t results = 0;     // keys with a result in the sink
  size_t dead = 0;        // keys dead-lettered
  size_t cancelled = 0;   // the broker's cancelled count
  size_t lost = 0;
  size_t duplicated = 0;
  size_t mismatched = 0;
  size_t unexpected = 0;  // results or dead letters for keys outside the job
  size_t retried = 0;     // the broker's count of retried attempts (information)
  std::vector<std::string> problems;  // the first few, readable

  bool ok() const {
    return lost == 0 && duplicated == 0 && mismatched == 0 && unexpected == 0 &&
           problems.empty();
  }
  std::string Summary() const;
};

// Runs the check; the job must have ended.
Result<TotalCheck> CheckJob(Cluster* cluster, JobId job, const ManifestTruth& truth,
                            const CheckOptions& options = CheckOptions());

}  // namespace btrq::faults
