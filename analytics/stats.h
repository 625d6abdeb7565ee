#pragma once

// `stats`: count, min, max, mean and stddev over the task's range, from the server's
// statistical windows only (no raw points are read), which is far cheaper than `quality`
// where statistics suffice.
//
// Params (at most one of):
//   pointwidth  integer 0..63: AlignedWindows of 2^pointwidth ns. BTrDB aligns the range
//               down to multiples of 2^pointwidth, so the windows cover
//               [start & ~(2^pw - 1), end & ~(2^pw - 1)): exact for the task only when the
//               chunk boundaries are multiples of 2^pw.
//   window      a duration (integer ns, or "1h", "10m", ...) > 0: Windows of that width from
//               the task's start; a last partial window (when the width does not divide the
//               range) is not covered.
// With neither, one Windows call with width = end - start: exact for the whole range.
//
// Fields, in this order:
//   count       int64, points in the covered windows;
//   windows     int64, windows with count > 0;
//   window_ns   int64, the window width used;
//   min, max, mean, stddev  double, over all points of the covered windows; stddev is the
//               population one, combined from each window's (count, mean, stddev) with
//               Chan's pairwise formula (so it assumes the server's stddev is the
//               population one, as btrdb-lite's is, and is 0 where a server leaves stddev
//               0); absent when count is 0.

#include <memory>
#include <string_view>

#include "analytics/analytic.h"

namespace btrq::analytics {

inline constexpr std::string_view kStatsName = "stats";

Result<std::unique_ptr<Analytic>> NewStats(const Fields& params);

}  // namespace btrq::analytics
