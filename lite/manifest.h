#pragma once

// The generator's manifest: one JSON document describing every generated stream, its
// injected defects and the ground truth of `quality` (whole stream and per chunk), so a
// job's results can be checked exactly. Pure: returns text, writes nothing.
//
// Layout (times in integer ns since the epoch; doubles with 17 significant digits):
//   {"format": "btrq-generate-manifest/1", "seed", "collection", "start", "duration_ns",
//    "rate_hz", "defects", "chunk_ns", "stuck_min", "gap_factor", "nonfinite_note",
//    "kinds": {"voltage": {"unit", "min", "max"}, ...},
//    "streams": [{"uuid", "collection", "name", "unit", "kind", "rate_hz", "period_ns",
//                 "start", "end", "min", "max", "clean",
//                 "defects": [{"type", "slot", "start", "end", "length", "value",
//                              "boundary"}],
//                 "injected": {"gaps", "duplicates", "stuck", "spikes"},
//                 "truth": {<QualityTruth fields>},
//                 "chunks": [{"start", "end", <QualityTruth fields>}]}]}
// QualityTruth fields: count, duplicates, unique, expected, gaps, nonfinite,
// out_of_range, longest_stuck, stuck_runs, stuck_points, missing_seconds, completeness,
// score, and min/max of the values when there are any.

#include <string>
#include <string_view>
#include <vector>

#include "lite/generator.h"

namespace btrq::lite {

// REQUIRES: truths[i] belongs to plans[i].
std::string ManifestJson(const GeneratorOptions& options, const std::vector<StreamPlan>& plans,
                         const std::vector<StreamTruth>& truths);

}  // namespace btrq::lite
