#pragma once

// Results as text, shared by the sink and the CLI (`btrq results --format jsonl|csv`).
// Both formats work on StoredResult; a client holding btrq.v1.Result converts with
// ResultFromProto (results/result_proto.h) first.
//
// Fixed columns, in order: job, stream (UUID text), start, end (int64 ns), version,
// status (always "done": only finished tasks have results), attempt, worker. The
// analytic's fields follow, flattened. A field whose name equals a fixed column is
// written as "field_<name>" so that no key appears twice.

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

#include "results/stored_result.h"

namespace btrq::results {

// Appends one JSON object and '\n' to `*out`. Integers are JSON integers; doubles use
// the shortest text that round-trips, NaN and ±Inf become null; strings are escaped
// (control characters as \uXXXX, invalid UTF-8 replaced by U+FFFD).
void AppendJsonLine(const StoredResult& result, std::string* out);
std::string ToJsonLine(const StoredResult& result);

// CSV per RFC 4180: CRLF line ends, a field is quoted when it holds a comma, a quote,
// CR or LF (quotes doubled). Doubles as in JSON, NaN as "nan", ±Inf as "inf"/"-inf".
// A text cell starting with = + - @ TAB or CR gets a ' in front (no spreadsheet formula).
class CsvWriter {
 public:
  // At most this many field columns (the fixed ones aside), so that a set of results
  // with ever new field names costs bounded memory.
  static constexpr size_t kMaxCsvFieldColumns = 4096;

  // The fixed columns only; AddColumnsOf adds the field columns.
  CsvWriter();
  // The columns are the fixed ones plus the union of the field names in `results`, in
  // order of first appearance (up to kMaxCsvFieldColumns).
  explicit CsvWriter(const std::vector<StoredResult>& results);

  // Adds a column for each field name of `result` not seen yet. Call for every result
  // before the header: fields of a result whose names have no column are left out, and
  // columns a result lacks are empty. ResourceExhausted past kMaxCsvFieldColumns.
  Status AddColumnsOf(const StoredResult& result);

  const std::vector<std::string>& columns() const { return columns_; }

  // Appends the header line.
  void AppendHeader(std::string* out) const;
  // Appends one row.
  void AppendRow(const StoredResult& result, std::string* out) const;

 private:
  std::vector<std::string> columns_;       // fixed columns, then field columns
  std::vector<std::string> field_names_;   // the fields' own names, per field column
  std::unordered_set<std::string> seen_;   // field_names_, for lookup
};

// The name a field is written under (adds "field_" when it clashes with a fixed column).
std::string ExportFieldName(std::string_view name);

}  // namespace btrq::results
