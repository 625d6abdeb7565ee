#include "btrdb/lite/manifest.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace btrq::lite {
namespace {

// A minimal streaming JSON writer. Members are written with a key (inside an object) or
// without (inside an array); the caller keeps the structure balanced and commas are
// inserted automatically.
class JsonWriter {
 public:
  void BeginObject(std::string_view key = {}) { Open(key, '{'); }
  void EndObject() { Close('}'); }
  void BeginArray(std::string_view key = {}) { Open(key, '['); }
  void EndArray() { Close(']'); }

  void String(std::string_view key, std::string_view s) { Member(key, JsonQuote(s)); }
  void Int(std::string_view key, int64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%" PRId64, v);
    Member(key, buf);
  }
  // JSON has no NaN or infinity; the manifest never holds them, and writes 0 if it did.
  void Double(std::string_view key, double v) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", std::isfinite(v) ? v : 0.0);
    Member(key, buf);
  }
  void Bool(std::string_view key, bool b) { Member(key, b ? "true" : "false"); }

  std::string Take() { return std::move(out_); }

 private:
  void Member(std::string_view key, std::string_view text) {
    if (!first_) out_ += ',';
    first_ = false;
    if (!key.empty()) {
      out_ += JsonQuote(key);
      out_ += ':';
    }
    out_ += text;
  }
  void Open(std::string_view key, char bracket) {
    Member(key, std::string_view(&bracket, 1));
    first_ = true;
  }
  void Close(char bracket) {
    out_ += bracket;
    first_ = false;
  }

  std::string out_;
  bool first_ = true;
};

void WriteTruthFields(const QualityTruth& q, JsonWriter* w) {
  w->Int("count", q.count);
  w->Int("duplicates", q.duplicates);
  w->Int("unique", q.unique);
  w->Int("expected", q.expected);
  w->Int("gaps", q.gaps);
  w->Int("nonfinite", q.nonfinite);
  w->Int("out_of_range", q.out_of_range);
  w->Int("longest_stuck", q.longest_stuck);
  w->Int("stuck_runs", q.stuck_runs);
  w->Int("stuck_points", q.stuck_points);
  w->Double("missing_seconds", q.missing_seconds);
  w->Double("completeness", q.completeness);
  w->Double("score", q.score);
  if (q.has_finite) {
    w->Double("min", q.min);
    w->Double("max", q.max);
  }
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string ManifestJson(const GeneratorOptions& options, const std::vector<StreamPlan>& plans,
                         const std::vector<StreamTruth>& truths) {
  JsonWriter w;
  w.BeginObject();
  w.String("format", "btrq-generate-manifest/1");
  w.Int("seed", static_cast<int64_t>(options.seed));
  w.String("collection", options.collection);
  w.Int("start", options.start);
  w.Int("duration_ns", options.duration);
  w.Int("rate_hz", options.rate_hz);
  w.Bool("defects", options.defects);
  w.Int("chunk_ns", options.chunk);
  w.Int("stuck_min", options.stuck_min);
  w.Double("gap_factor", options.gap_factor);
  w.String("nonfinite_note", "nonfinite is always 0: BTrDB rejects NaN and infinite values (425)");
  w.BeginObject("kinds");
  for (const SensorKind kind : kAllKinds) {
    const KindInfo& info = GetKindInfo(kind);
    w.BeginObject(info.name);
    w.String("unit", info.unit);
    w.Double("min", info.min);
    w.Double("max", info.max);
    w.EndObject();
  }
  w.EndObject();

  w.BeginArray("streams");
  for (size_t i = 0; i < plans.size() && i < truths.size(); ++i) {
    const StreamPlan& p = plans[i];
    const StreamTruth& t = truths[i];
    const KindInfo& info = GetKindInfo(p.kind);
    w.BeginObject();
    w.String("uuid", p.uuid.ToString());
    w.String("collection", p.collection);
    w.String("name", p.name);
    w.String("unit", info.unit);
    w.String("kind", info.name);
    w.Int("rate_hz", p.rate_hz);
    w.Double("period_ns", p.period_ns());
    w.Int("start", p.first_time());
    w.Int("end", p.last_time());
    w.Double("min", info.min);
    w.Double("max", info.max);
    w.Bool("clean", p.clean());
    int64_t counts[4] = {0, 0, 0, 0};
    w.BeginArray("defects");
    for (const Defect& d : p.defects) {
      ++counts[static_cast<int>(d.type)];
      w.BeginObject();
      w.String("type", DefectTypeName(d.type));
      w.Int("slot", d.slot);
      w.Int("start", d.start);
      w.Int("end", d.end);
      w.Int("length", d.length);
      w.Double("value", d.value);
      w.Bool("boundary", d.boundary);
      w.EndObject();
    }
    w.EndArray();
    w.BeginObject("injected");
    w.Int("gaps", counts[static_cast<int>(DefectType::kGap)]);
    w.Int("duplicates", counts[static_cast<int>(DefectType::kDuplicate)]);
    w.Int("stuck", counts[static_cast<int>(DefectType::kStuck)]);
    w.Int("spikes", counts[static_cast<int>(DefectType::kSpike)]);
    w.EndObject();
    w.BeginObject("truth");
    WriteTruthFields(t.total, &w);
    w.EndObject();
    w.BeginArray("chunks");
    for (const QualityTruth& c : t.chunks) {
      w.BeginObject();
      w.Int("start", c.start);
      w.Int("end", c.end);
      WriteTruthFields(c, &w);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::string out = w.Take();
  out += '\n';
  return out;
}

}  // namespace btrq::lite
