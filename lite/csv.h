#pragma once

// The rows of BTrDB's GenerateCSV over btrdb-lite's streams, without gRPC types: a header
// ("timestamp", then one column per stream, or five per stream for window queries:
// _min, _mean, _max, _count, _stddev) and one row per timestamp in time order, with an
// empty cell where a stream has no point or window there.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lite/stream_data.h"

namespace btrq::lite {

enum class CsvKind { kAlignedWindows, kWindows, kRaw };

// One stream's column(s): its data at `version`, headed by `label`.
struct CsvColumn {
  std::shared_ptr<const StreamData> data;
  uint64_t version = 0;
  std::string label;
};

struct CsvQuery {
  CsvKind kind = CsvKind::kRaw;
  int64_t start = 0;  // REQUIRES: a valid range, start < end
  int64_t end = 0;
  // The point width (aligned windows, in [0, 63]) or the window width in ns (windows, > 0).
  uint64_t window_size = 0;
  std::vector<CsvColumn> columns;
};

// The header row of `query`.
std::vector<std::string> CsvHeader(const CsvQuery& query);

// Hands every row of `query` to `row` in time order until it returns false; stops early
// when `cancelled` turns true.
void CsvRows(const CsvQuery& query, const std::function<bool()>& cancelled,
             const std::function<bool(const std::vector<std::string>&)>& row);

}  // namespace btrq::lite
