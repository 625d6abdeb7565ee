#include "lite/manifest.h"

#include "common/json_writer.h"

namespace btrq::lite {
namespace {

void WriteTruthFields(const QualityTruth& q, JsonWriter* w) {
  w->Key("count").Int(q.count);
  w->Key("duplicates").Int(q.duplicates);
  w->Key("unique").Int(q.unique);
  w->Key("expected").Int(q.expected);
  w->Key("gaps").Int(q.gaps);
  w->Key("nonfinite").Int(q.nonfinite);
  w->Key("out_of_range").Int(q.out_of_range);
  w->Key("longest_stuck").Int(q.longest_stuck);
  w->Key("stuck_runs").Int(q.stuck_runs);
  w->Key("stuck_points").Int(q.stuck_points);
  w->Key("missing_seconds").Double(q.missing_seconds);
  w->Key("completeness").Double(q.completeness);
  w->Key("score").Double(q.score);
  if (q.has_finite) {
    w->Key("min").Double(q.min);
    w->Key("max").Double(q.max);
  }
}

// One stream's entry: its plan, the defects injected, and the ground truth in total and
// per chunk.
void WriteStream(const StreamPlan& p, const StreamTruth& t, JsonWriter* w) {
  const KindInfo& info = GetKindInfo(p.kind);
  w->BeginObject();
  w->Key("uuid").String(p.uuid.ToString());
  w->Key("collection").String(p.collection);
  w->Key("name").String(p.name);
  w->Key("unit").String(info.unit);
  w->Key("kind").String(info.name);
  w->Key("rate_hz").Int(p.rate_hz);
  w->Key("period_ns").Double(p.period_ns());
  w->Key("start").Int(p.first_time());
  w->Key("end").Int(p.last_time());
  w->Key("min").Double(info.min);
  w->Key("max").Double(info.max);
  w->Key("clean").Bool(p.clean());
  int64_t counts[4] = {0, 0, 0, 0};
  w->Key("defects").BeginArray();
  for (const Defect& d : p.defects) {
    ++counts[static_cast<int>(d.type)];
    w->BeginObject();
    w->Key("type").String(DefectTypeName(d.type));
    w->Key("slot").Int(d.slot);
    w->Key("start").Int(d.start);
    w->Key("end").Int(d.end);
    w->Key("length").Int(d.length);
    w->Key("value").Double(d.value);
    w->Key("boundary").Bool(d.boundary);
    w->EndObject();
  }
  w->EndArray();
  w->Key("injected").BeginObject();
  w->Key("gaps").Int(counts[static_cast<int>(DefectType::kGap)]);
  w->Key("duplicates").Int(counts[static_cast<int>(DefectType::kDuplicate)]);
  w->Key("stuck").Int(counts[static_cast<int>(DefectType::kStuck)]);
  w->Key("spikes").Int(counts[static_cast<int>(DefectType::kSpike)]);
  w->EndObject();
  w->Key("truth").BeginObject();
  WriteTruthFields(t.total, w);
  w->EndObject();
  w->Key("chunks").BeginArray();
  for (const QualityTruth& c : t.chunks) {
    w->BeginObject();
    w->Key("start").Int(c.start);
    w->Key("end").Int(c.end);
    WriteTruthFields(c, w);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

}  // namespace

std::string ManifestJson(const GeneratorOptions& options, const std::vector<StreamPlan>& plans,
                         const std::vector<StreamTruth>& truths) {
  JsonWriter w;
  w.BeginObject();
  w.Key("format").String("btrq-generate-manifest/1");
  w.Key("seed").Int(static_cast<int64_t>(options.seed));
  w.Key("collection").String(options.collection);
  w.Key("start").Int(options.start);
  w.Key("duration_ns").Int(options.duration);
  w.Key("rate_hz").Int(options.rate_hz);
  w.Key("defects").Bool(options.defects);
  w.Key("chunk_ns").Int(options.chunk);
  w.Key("stuck_min").Int(options.stuck_min);
  w.Key("gap_factor").Double(options.gap_factor);
  w.Key("nonfinite_note").String("nonfinite is always 0: BTrDB rejects NaN and infinite values (425)");
  w.Key("kinds").BeginObject();
  for (const SensorKind kind : kAllKinds) {
    const KindInfo& info = GetKindInfo(kind);
    w.Key(info.name).BeginObject();
    w.Key("unit").String(info.unit);
    w.Key("min").Double(info.min);
    w.Key("max").Double(info.max);
    w.EndObject();
  }
  w.EndObject();

  w.Key("streams").BeginArray();
  for (size_t i = 0; i < plans.size() && i < truths.size(); ++i) WriteStream(plans[i], truths[i], &w);
  w.EndArray();
  w.EndObject();
  std::string out = w.Take();
  out += '\n';
  return out;
}

}  // namespace btrq::lite
