#include "results/export.h"

#include <array>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "common/json_writer.h"
#include "common/number_format.h"

namespace btrq::results {

namespace {

constexpr std::array<std::string_view, 8> kFixedColumns = {
    "job", "stream", "start", "end", "version", "status", "attempt", "worker"};
constexpr std::string_view kStatusDone = "done";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Calls emit(piece) for the valid parts of `s`, with U+FFFD for each invalid byte.
template <typename Emit>
void ForEachUtf8(std::string_view s, Emit emit) {
  while (!s.empty()) {
    const size_t n = Utf8SequenceLength(s, 0);
    if (n == 0) {
      emit(kReplacement);
      s.remove_prefix(1);
    } else {
      emit(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
}

template <typename T>
void AppendNumber(T v, std::string* out) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, ec == std::errc() ? end : buf);
}

void AppendJsonValue(const FieldValue& v, std::string* out) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    AppendNumber(*i, out);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d)) {
      AppendDouble(out, *d);
    } else {
      out->append("null");
    }
  } else {
    AppendJsonQuoted(out, std::get<std::string>(v));
  }
}

bool IsFixedColumn(std::string_view name) {
  for (std::string_view c : kFixedColumns) {
    if (c == name) return true;
  }
  return false;
}

void AppendCsvCell(std::string_view text, std::string* out) {
  const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos;
  if (quote) out->push_back('"');
  // A spreadsheet runs a text cell that starts like a formula: a single quote in front
  // makes it text (OWASP's advice for CSV injection). Our numbers never go through here.
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
    out->push_back('\'');
  }
  ForEachUtf8(text, [out](std::string_view piece) {
    if (piece == "\"") {
      out->append("\"\"");
    } else {
      out->append(piece);
    }
  });
  if (quote) out->push_back('"');
}

void AppendCsvValue(const FieldValue& v, std::string* out) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    AppendNumber(*i, out);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (std::isnan(*d)) {
      out->append("nan");
    } else if (std::isinf(*d)) {
      out->append(*d > 0 ? "inf" : "-inf");
    } else {
      AppendDouble(out, *d);
    }
  } else {
    AppendCsvCell(std::get<std::string>(v), out);
  }
}

}  // namespace

std::string ExportFieldName(std::string_view name) {
  return IsFixedColumn(name) ? "field_" + std::string(name) : std::string(name);
}

void AppendJsonLine(const StoredResult& stored, std::string* out) {
  const TaskResult& r = stored.result;
  out->append("{\"job\":");
  AppendNumber(r.task.key.job, out);
  out->append(",\"stream\":\"");
  out->append(r.task.key.stream.ToString());
  out->append("\",\"start\":");
  AppendNumber(r.task.key.start, out);
  out->append(",\"end\":");
  AppendNumber(r.end, out);
  out->append(",\"version\":");
  AppendNumber(r.version, out);
  out->append(",\"status\":\"");
  out->append(kStatusDone);
  out->append("\",\"attempt\":");
  AppendNumber(r.task.attempt, out);
  out->append(",\"worker\":");
  AppendJsonQuoted(out, r.worker_id);
  for (const auto& [name, value] : r.fields) {
    out->push_back(',');
    AppendJsonQuoted(out, ExportFieldName(name));
    out->push_back(':');
    AppendJsonValue(value, out);
  }
  out->append("}\n");
}

std::string ToJsonLine(const StoredResult& result) {
  std::string out;
  AppendJsonLine(result, &out);
  return out;
}

CsvWriter::CsvWriter() : columns_(kFixedColumns.begin(), kFixedColumns.end()) {}

CsvWriter::CsvWriter(const std::vector<StoredResult>& results) : CsvWriter() {
  for (const StoredResult& s : results) {
    if (!AddColumnsOf(s).ok()) break;
  }
}

Status CsvWriter::AddColumnsOf(const StoredResult& result) {
  for (const auto& field : result.result.fields) {
    if (seen_.contains(field.first)) continue;
    if (field_names_.size() >= kMaxCsvFieldColumns) {
      return Status::ResourceExhausted("more than " + std::to_string(kMaxCsvFieldColumns) +
                                       " distinct field names; use --format jsonl");
    }
    seen_.insert(field.first);
    field_names_.push_back(field.first);
    columns_.push_back(ExportFieldName(field.first));
  }
  return Status::OK();
}

void CsvWriter::AppendHeader(std::string* out) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendCsvCell(columns_[i], out);
  }
  out->append("\r\n");
}

void CsvWriter::AppendRow(const StoredResult& stored, std::string* out) const {
  const TaskResult& r = stored.result;
  AppendNumber(r.task.key.job, out);
  out->push_back(',');
  out->append(r.task.key.stream.ToString());
  out->push_back(',');
  AppendNumber(r.task.key.start, out);
  out->push_back(',');
  AppendNumber(r.end, out);
  out->push_back(',');
  AppendNumber(r.version, out);
  out->push_back(',');
  out->append(kStatusDone);
  out->push_back(',');
  AppendNumber(r.task.attempt, out);
  out->push_back(',');
  AppendCsvCell(r.worker_id, out);
  if (field_names_.empty()) {
    out->append("\r\n");
    return;
  }
  // Place each field under its column; fields are few, so a small map per row is cheap.
  std::unordered_map<std::string_view, const FieldValue*> by_name;
  by_name.reserve(r.fields.size());
  for (const auto& [name, value] : r.fields) by_name.emplace(name, &value);
  for (const std::string& name : field_names_) {
    out->push_back(',');
    auto it = by_name.find(name);
    if (it != by_name.end()) AppendCsvValue(*it->second, out);
  }
  out->append("\r\n");
}

}  // namespace btrq::results
