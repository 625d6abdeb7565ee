#pragma once

// The demo's check of a `quality` job against the generator's ground truth: the manifest
// that `btrdb-lite generate --manifest` writes (its layout: lite/manifest.h) holds, per
// stream and chunk, what the analytic must find; every result is compared with it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "results/stored_result.h"

namespace btrq::submitter {

// One chunk's truth: each compared field (see kTruthInts/kTruthDoubles in the .cc).
struct TruthChunk {
  int64_t end = 0;
  std::map<std::string, double> fields;
};

struct ManifestStream {
  std::string name;  // "sensor03/voltage"
  std::string kind;
  std::map<int64_t, TruthChunk> chunks;  // by start
};

struct Manifest {
  int64_t stuck_min = 10;
  double gap_factor = 2;
  std::map<std::string, ManifestStream> streams;  // by UUID text
  size_t chunk_count = 0;
};

// The parts of the manifest the check needs. InvalidArgument for malformed JSON or a
// missing field, naming where ("streams[2].chunks[5]: no count").
Result<Manifest> ParseManifest(std::string_view json);
// ParseManifest of the file at `path`; errors name the path.
Result<Manifest> LoadManifest(const std::string& path);

// What CheckTruth found.
struct TruthCheck {
  size_t matched = 0;  // results equal to their chunk's truth
  // One line per difference, in result order, then chunks without a result:
  // "sensor03/voltage 2024-01-01T12:00:00Z: gaps 2 (truth 3)".
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Compares every result with the truth of its chunk: integers exactly, doubles to a
// relative 1e-9. A result without a chunk and a chunk without a result are problems too.
TruthCheck CheckTruth(const Manifest& manifest, const std::vector<results::StoredResult>& results);

// The numeric field `name` (int64 or double) of `fields`; nullopt when missing or text.
std::optional<double> FieldNumber(const Fields& fields, std::string_view name);


}  // namespace btrq::submitter
