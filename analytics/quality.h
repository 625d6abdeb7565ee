#pragma once

// `quality`: a data-quality score of one chunk of one stream, exactly as defined in
// docs/design.md ("Analytics") and docs/analytics.md. Reads the chunk's raw points once,
// in batches, in a tight loop without per-point allocation.
//
// Definitions, over the task's points in time order:
//   [lo, hi)      the task's [start, end) clipped to the stream's [earliest, latest + P)
//                 as pinned at expansion (TaskSpec::stream_earliest/latest). An extent of
//                 {0, 0} (or latest < earliest) means "unknown": no clipping.
//   P             the nominal period in ns: `period_ns` if given, else 1e9 / `rate` (Hz),
//                 else the median of the positive intervals between consecutive points
//                 (the mean of the two middle ones for an even number). The broker puts the
//                 stream's `rate` annotation into the params as `rate`; the analytic only
//                 reads the params. Without any of them and with fewer than two distinct
//                 times, P is unknown: then expected = unique and gaps = 0.
//   count         points.
//   duplicates    points whose time equals the previous point's; unique = count - duplicates.
//   expected      round((hi - lo) / P), halves away from zero; 0 when hi <= lo. Exact
//                 integer arithmetic when P is a rational number of ns (period_ns, a median,
//                 an integer rate); long double for a fractional rate.
//   completeness  min(1, unique / expected); 1 when expected is 0.
//   gaps          intervals between consecutive distinct times longer than gap_factor * P
//                 (strictly: an interval of exactly gap_factor * P is not a gap).
//   missing_seconds  max(0, expected - unique) * P / 1e9.
//   nonfinite     NaN and +-Inf values.
//   out_of_range  finite values below `min` or above `max` (each bound only when given).
//   longest_stuck the longest run of consecutive points (in time order, duplicates
//                 included) whose values are equal by ==: NaN is never equal to anything,
//                 -0.0 equals 0.0. A lone point is a run of 1; 0 when there are no points.
//   stuck_runs    runs of at least `stuck_min` points; their points are the "points in
//                 stuck runs" of the score.
//   min, max, mean, stddev  of the finite values (stddev: population); absent when there
//                 are none. Mean and variance are accumulated in blocks of fixed size with
//                 Chan's combination, so they are numerically stable and bitwise
//                 independent of how the reader splits the points into batches.
//   score         completeness * max(0, 1 - (duplicates + nonfinite + out_of_range +
//                 points in stuck runs) / max(count, 1)).
// Fields, in this order: count, expected, completeness, gaps, missing_seconds, duplicates,
// unique, nonfinite, out_of_range, longest_stuck, stuck_runs, min, max, mean, stddev,
// score. Counts are int64, the rest double.
//
// Params: rate (Hz, > 0), period_ns (integer > 0; wins over rate), gap_factor (>= 1,
// default 2), min, max (finite, min <= max), stuck_min (integer >= 2, default 10).
//
// Errors: kInvalidArgument for bad params; kFailedPrecondition when the reader delivers
// points out of time order or outside [start, end) (a reader bug, never retried).

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "analytics/analytic.h"

namespace btrq::analytics {

inline constexpr std::string_view kQualityName = "quality";

struct QualityOptions {
  std::optional<double> rate_hz;
  std::optional<int64_t> period_ns;
  double gap_factor = 2;
  std::optional<double> min;
  std::optional<double> max;
  int64_t stuck_min = 10;
};

// Validates and reads the params above; unknown names are an error.
Result<QualityOptions> ParseQualityOptions(const Fields& params);

Result<std::unique_ptr<Analytic>> NewQuality(const Fields& params);

}  // namespace btrq::analytics
