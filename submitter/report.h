#pragma once

// What `btrq demo` prints once its job has finished: the summary (chunks, points, time,
// throughput), the worst streams and chunks of a scored (quality) job with the reasons,
// and the outcome of the ground-truth check. Pure functions of their inputs, like render.h.

#include <string>
#include <vector>

#include "btrq/v1/control.pb.h"
#include "results/stored_result.h"
#include "submitter/ground_truth.h"

namespace btrq::submitter {

struct DemoReportInput {
  const v1::Job* job = nullptr;  // the finished job
  const std::vector<results::StoredResult>* results = nullptr;
  const Manifest* manifest = nullptr;  // names the streams; null: their UUIDs
  // The demo's own measure from submit to the end, for a job without broker timestamps.
  double follow_seconds = 0;
  int workers = 1;
  int threads = 1;  // per worker
};

// "\nSummary\n..." and, when any result has a score, "\nWorst streams ..." and
// "\nWorst chunks ...". REQUIRES: job and results set.
std::string RenderDemoSummary(const DemoReportInput& in);

// "\nGround truth\n" and the outcome: all chunks matched, or how many did and the first
// problems.
std::string RenderTruthCheck(const TruthCheck& check, size_t chunk_count);

// Why a chunk (or a stream's totals) lost score, worst first:
// "12.3 s missing in 3 gaps, 2 duplicates"; "-" when nothing is wrong.
std::string WhyScoreLost(const Fields& fields);

// `v` with `digits` decimals ("12.3"), as printf's %.*f.
std::string Fixed(double v, int digits);

}  // namespace btrq::submitter
