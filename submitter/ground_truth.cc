#include "submitter/ground_truth.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <variant>

#include "common/file_util.h"
#include "common/json_reader.h"
#include "common/number_format.h"
#include "common/time_util.h"

namespace btrq::submitter {
namespace {

// The quality fields compared with the truth: integers exactly, doubles to 1e-9 relative.
// The doubles are optional (min and max exist only when a chunk has values).
constexpr const char* kTruthInts[] = {"count",        "duplicates",    "unique",
                                      "expected",     "gaps",          "nonfinite",
                                      "out_of_range", "longest_stuck", "stuck_runs"};
constexpr const char* kTruthDoubles[] = {"missing_seconds", "completeness", "score", "min", "max"};

constexpr int kMaxDepth = 32;

// Keys and array indices from the root, e.g. {"streams", "3", "chunks", "0", "count"}.
using JsonPath = std::vector<std::string>;
// Called with every string and number of the document (as text); other values are skipped.
using ScalarFn = std::function<Status(const JsonPath& path, std::string_view text)>;

// Reads one JSON value at the cursor, reporting its scalars to `fn`. Only the few fields
// the check needs are kept, so no document tree is built.
Status WalkValue(JsonCursor* in, JsonPath* path, int depth, const ScalarFn& fn) {
  if (depth > kMaxDepth) return in->Error("nested too deeply");
  in->SkipSpace();
  const char open = in->Peek();
  if (open == '"') {
    BTRQ_ASSIGN_OR_RETURN(std::string text, in->String());
    return fn(*path, text);
  }
  if (open != '{' && open != '[') {
    if (in->ConsumeWord("true") || in->ConsumeWord("false") || in->ConsumeWord("null")) {
      return Status::OK();
    }
    BTRQ_ASSIGN_OR_RETURN(std::string_view number, in->Number());
    return fn(*path, number);
  }
  const bool object = open == '{';
  const char close = object ? '}' : ']';
  in->Consume(open);
  in->SkipSpace();
  if (in->Consume(close)) return Status::OK();
  for (size_t i = 0;; ++i) {
    std::string key = std::to_string(i);
    if (object) {
      in->SkipSpace();
      BTRQ_ASSIGN_OR_RETURN(key, in->String());
      in->SkipSpace();
      if (!in->Consume(':')) return in->Error("expected ':'");
    }
    path->push_back(std::move(key));
    BTRQ_RETURN_IF_ERROR(WalkValue(in, path, depth + 1, fn));
    path->pop_back();
    in->SkipSpace();
    if (in->Consume(close)) return Status::OK();
    if (!in->Consume(',')) return in->Error(object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

// The manifest's text values, as found, before conversion.
struct RawStream {
  std::map<std::string, std::string> values;               // uuid, name, kind
  std::vector<std::map<std::string, std::string>> chunks;  // start, end, truth fields
};
struct RawManifest {
  std::map<std::string, std::string> values;  // stuck_min, gap_factor
  std::vector<RawStream> streams;
};

// Grows `v` to hold index `text` (a decimal array index from WalkValue).
template <typename T>
T& At(std::vector<T>* v, const std::string& text) {
  const size_t i = std::strtoull(text.c_str(), nullptr, 10);
  if (v->size() <= i) v->resize(i + 1);
  return (*v)[i];
}

Status Collect(const JsonPath& path, std::string_view text, RawManifest* m) {
  if (path.size() == 1) {
    m->values[path[0]] = std::string(text);
  } else if (path.size() == 3 && path[0] == "streams") {
    At(&m->streams, path[1]).values[path[2]] = std::string(text);
  } else if (path.size() == 5 && path[0] == "streams" && path[2] == "chunks") {
    At(&At(&m->streams, path[1]).chunks, path[3])[path[4]] = std::string(text);
  }
  return Status::OK();
}

Result<std::string> Take(const std::map<std::string, std::string>& values, const std::string& key,
                         const std::string& where) {
  auto it = values.find(key);
  if (it == values.end()) return Status::InvalidArgument(where + "no " + key);
  return it->second;
}

Result<int64_t> TakeInt(const std::map<std::string, std::string>& values, const std::string& key,
                        const std::string& where) {
  BTRQ_ASSIGN_OR_RETURN(std::string text, Take(values, key, where));
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(where + key + " is not an integer: " + text);
  }
  return v;
}

Result<double> TakeDouble(const std::map<std::string, std::string>& values, const std::string& key,
                          const std::string& where) {
  BTRQ_ASSIGN_OR_RETURN(std::string text, Take(values, key, where));
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    return Status::InvalidArgument(where + key + " is not a number: " + text);
  }
  return v;
}

Result<TruthChunk> ConvertChunk(const std::map<std::string, std::string>& raw,
                                const std::string& where) {
  TruthChunk chunk;
  BTRQ_ASSIGN_OR_RETURN(chunk.end, TakeInt(raw, "end", where));
  for (const char* f : kTruthInts) {
    BTRQ_ASSIGN_OR_RETURN(int64_t v, TakeInt(raw, f, where));
    chunk.fields[f] = static_cast<double>(v);
  }
  for (const char* f : kTruthDoubles) {
    if (raw.count(f) == 0) continue;
    BTRQ_ASSIGN_OR_RETURN(chunk.fields[f], TakeDouble(raw, f, where));
  }
  return chunk;
}

Result<Manifest> Convert(const RawManifest& raw) {
  Manifest m;
  BTRQ_ASSIGN_OR_RETURN(m.stuck_min, TakeInt(raw.values, "stuck_min", ""));
  BTRQ_ASSIGN_OR_RETURN(m.gap_factor, TakeDouble(raw.values, "gap_factor", ""));
  for (size_t i = 0; i < raw.streams.size(); ++i) {
    const RawStream& s = raw.streams[i];
    const std::string where = "streams[" + std::to_string(i) + "]: ";
    ManifestStream stream;
    BTRQ_ASSIGN_OR_RETURN(std::string uuid, Take(s.values, "uuid", where));
    BTRQ_ASSIGN_OR_RETURN(stream.name, Take(s.values, "name", where));
    BTRQ_ASSIGN_OR_RETURN(stream.kind, Take(s.values, "kind", where));
    for (size_t j = 0; j < s.chunks.size(); ++j) {
      const std::string at = "streams[" + std::to_string(i) + "].chunks[" + std::to_string(j) + "]: ";
      BTRQ_ASSIGN_OR_RETURN(int64_t start, TakeInt(s.chunks[j], "start", at));
      BTRQ_ASSIGN_OR_RETURN(stream.chunks[start], ConvertChunk(s.chunks[j], at));
      ++m.chunk_count;
    }
    m.streams[uuid] = std::move(stream);
  }
  return m;
}

bool Close(double got, double want) {
  if (got == want) return true;
  return std::fabs(got - want) <= 1e-9 * std::max(std::fabs(got), std::fabs(want));
}

// "count 5 (truth 6), min missing (truth 1.5)"; empty when every field matches.
std::string Differences(const TruthChunk& truth, const Fields& fields) {
  std::string diffs;
  for (const auto& [field, want] : truth.fields) {
    const std::optional<double> got = FieldNumber(fields, field);
    if (got && Close(*got, want)) continue;
    diffs += (diffs.empty() ? "" : ", ") + field + " " +
             (got ? FormatDouble(*got) : std::string("missing")) + " (truth " + FormatDouble(want) + ")";
  }
  return diffs;
}

}  // namespace

Result<Manifest> ParseManifest(std::string_view json) {
  RawManifest raw;
  JsonCursor in(json);
  JsonPath path;
  BTRQ_RETURN_IF_ERROR(WalkValue(&in, &path, 0, [&raw](const JsonPath& p, std::string_view text) {
    return Collect(p, text, &raw);
  }));
  in.SkipSpace();
  if (!in.AtEnd()) return in.Error("text after the document");
  return Convert(raw);
}

Result<Manifest> LoadManifest(const std::string& path) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return Status::InvalidArgument("cannot read the manifest " + path);
  Result<Manifest> m = ParseManifest(*text);
  if (!m.ok()) return m.status().WithContext("the manifest " + path);
  return m;
}

TruthCheck CheckTruth(const Manifest& manifest, const std::vector<results::StoredResult>& results) {
  TruthCheck check;
  std::map<std::string, std::map<int64_t, bool>> seen;
  for (const results::StoredResult& r : results) {
    const std::string uuid = r.result.task.key.stream.ToString();
    const int64_t start = r.result.task.key.start;
    auto s = manifest.streams.find(uuid);
    const std::string where =
        (s != manifest.streams.end() ? s->second.name : uuid) + " " + FormatTimestamp(start, 0);
    if (s == manifest.streams.end() || !s->second.chunks.count(start)) {
      check.problems.push_back(where + ": a result the manifest has no chunk for");
      continue;
    }
    seen[uuid][start] = true;
    const std::string diffs = Differences(s->second.chunks.at(start), r.result.fields);
    if (diffs.empty()) {
      ++check.matched;
    } else {
      check.problems.push_back(where + ": " + diffs);
    }
  }
  for (const auto& [uuid, stream] : manifest.streams) {
    for (const auto& [start, chunk] : stream.chunks) {
      if (!seen[uuid].count(start)) {
        check.problems.push_back(stream.name + " " + FormatTimestamp(start, 0) + ": no result");
      }
    }
  }
  return check;
}

std::optional<double> FieldNumber(const Fields& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key != name) continue;
    if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&value)) return *d;
    return std::nullopt;
  }
  return std::nullopt;
}


}  // namespace btrq::submitter
