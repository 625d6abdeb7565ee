#pragma once

// Synthetic sensor streams with known, injected defects, and the ground truth of the
// `quality` analytic (docs/analytics.md, "quality") computed from the generator's own
// model. Pure: no I/O, no clock, no global state; every point, UUID and defect is a
// function of GeneratorOptions (seed included), identical on every run.
//
// Model. Stream s has `slots` nominal sample times
//   time(i) = start + round(i * 1e9 / rate_hz)      (integer arithmetic, halves up)
// so the period P = 1e9 / rate_hz ns is exact only when rate_hz divides 1e9; otherwise
// consecutive intervals differ by at most 1 ns. A clean stream has one point per slot.
// A dirty stream has defects at planned slots, never overlapping and never within
// kDefectMargin slots of each other (except the members of one boundary scenario, which
// may touch) or of the stream's first and last slot (so the first and last points are
// always the nominal ones):
//   gap        slots [slot, slot+length) have no point. Lengths are >= 2 (interval >= 3P,
//              clearly a gap) unless P is exact, where 1-slot gaps (interval exactly 2P,
//              not a gap by the strict "> 2P" rule) are added too.
//   duplicate  one extra point at time(slot) with a value that differs from the original
//              by several noise sigmas (so no stuck run forms); emitted after the original.
//   stuck      slots [slot, slot+length) all carry value(slot); lengths >= stuck_min
//              and shorter ones (2..stuck_min-1).
//   spike      value(slot) replaced by a value far outside the kind's [min, max].
// Values are never NaN or infinite (BTrDB rejects them with 425), so `nonfinite` is 0.
// Boundary scenarios, one per `chunk`-aligned boundary inside the stream (up to five):
// a gap across it; a chunk ending with missing points followed by a duplicate of the
// next chunk's first point; a spiked last point followed by a chunk starting with missing
// points; a stuck run across it with both halves shorter than stuck_min; and one with
// both halves at least stuck_min. Every fourth stream (index % 4 == 0) stays clean.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/status.h"

namespace btrq::lite {

struct GenPoint {
  int64_t time = 0;
  double value = 0;
  friend bool operator==(const GenPoint&, const GenPoint&) = default;
};

enum class SensorKind { kVoltage, kCurrent, kFrequency };

// Declared bounds per kind: the `min`/`max` params of `quality` that make spikes
// `out_of_range` and leave every clean value in range.
struct KindInfo {
  std::string_view name;  // "voltage"
  std::string_view unit;  // "V"
  double min = 0;
  double max = 0;
};
const KindInfo& GetKindInfo(SensorKind kind);
inline constexpr SensorKind kAllKinds[] = {SensorKind::kVoltage, SensorKind::kCurrent,
                                           SensorKind::kFrequency};

enum class DefectType { kGap, kDuplicate, kStuck, kSpike };
std::string_view DefectTypeName(DefectType type);  // "gap", "duplicate", "stuck", "spike"

// Slots kept free between two defects and at both ends of a stream.
inline constexpr int64_t kDefectMargin = 3;

struct Defect {
  DefectType type = DefectType::kGap;
  int64_t slot = 0;    // first nominal slot affected
  int64_t length = 1;  // gap: missing points; stuck: run length; duplicate, spike: 1
  int64_t start = 0;   // time(slot)
  int64_t end = 0;     // time(slot + length): exclusive end of the affected slots
  double value = 0;    // stuck: repeated value; duplicate: extra point's value; spike: value
  bool boundary = false;  // placed at or across a chunk boundary on purpose
};

struct GeneratorOptions {
  uint64_t seed = 1;
  std::string collection = "staging/sensors";
  int streams = 16;
  int64_t start = 1704067200000000000;       // 2024-01-01T00:00:00Z
  int64_t duration = 3 * 86400'000000000LL;  // slots = floor(duration * rate / 1e9)
  int64_t rate_hz = 30;
  bool defects = true;                 // false: every stream is clean
  int64_t chunk = 12 * 3600'000000000LL;  // chunk length for boundary defects and truth
  int64_t stuck_min = 10;              // `quality` param stuck_min
  double gap_factor = 2;               // `quality` param gap_factor
};

// One stream's identity, model parameters and defects.
struct StreamPlan {
  int index = 0;
  Uuid uuid;
  std::string collection;
  std::string name;  // "sensor03/voltage"
  SensorKind kind = SensorKind::kVoltage;
  int64_t rate_hz = 30;
  int64_t start = 0;
  int64_t slots = 0;
  uint64_t noise_seed = 0;
  double phase = 0;              // radians, of the slow cycle
  std::vector<Defect> defects;   // sorted by slot

  // start + round(i * 1e9 / rate_hz).
  int64_t SlotTime(int64_t i) const;
  // The smallest slot whose time is >= t (may be `slots` or more).
  int64_t FirstSlotAtOrAfter(int64_t t) const;
  // The model's value at slot i before defects are applied.
  double BaseValue(int64_t i) const;
  double period_ns() const { return 1e9 / static_cast<double>(rate_hz); }
  int64_t first_time() const { return SlotTime(0); }
  int64_t last_time() const { return SlotTime(slots - 1); }
  bool clean() const { return defects.empty(); }
};

// Validates `options` and plans every stream: UUID (from seed, collection and index),
// name, kind and defect positions. kInvalidArgument on a bad option.
Result<std::vector<StreamPlan>> PlanStreams(const GeneratorOptions& options);

// Emits one stream's points in time order (a duplicate's extra point right after the
// original). Borrows `plan`, which must outlive the generator.
class PointGenerator {
 public:
  explicit PointGenerator(const StreamPlan& plan) : plan_(plan) {}

  // Writes up to out.size() next points into `out`; returns how many (0 at the end).
  size_t Next(std::span<GenPoint> out);
  bool done() const { return slot_ >= plan_.slots && !pending_duplicate_; }

 private:
  const StreamPlan& plan_;
  int64_t slot_ = 0;
  size_t defect_ = 0;  // first defect that may still affect slot_ or later
  bool pending_duplicate_ = false;
  GenPoint duplicate_;
};

// All points of a stream (convenience for tests and small streams).
std::vector<GenPoint> GenerateAll(const StreamPlan& plan);

// The integer fields of `quality` plus completeness, score, missing_seconds and the
// (exact) min/max of the finite values, for one range of one stream.
struct QualityTruth {
  int64_t start = 0;  // the range [start, end) before clipping
  int64_t end = 0;
  int64_t count = 0;
  int64_t duplicates = 0;
  int64_t unique = 0;
  int64_t expected = 0;
  int64_t gaps = 0;
  int64_t nonfinite = 0;
  int64_t out_of_range = 0;
  int64_t longest_stuck = 0;
  int64_t stuck_runs = 0;
  int64_t stuck_points = 0;  // points in runs of at least stuck_min
  double missing_seconds = 0;
  double completeness = 1;
  double score = 1;
  bool has_finite = false;
  double min = 0;  // of the finite values, when has_finite
  double max = 0;
};

struct StreamTruth {
  QualityTruth total;                // the whole stream as one range: [first, last + P)
  std::vector<QualityTruth> chunks;  // every chunk from the first point's to the last's
};

// Computes `quality` exactly as defined, from points handed over in time order, for the
// whole stream and per chunk of `options.chunk` (aligned to multiples of it since the
// epoch; each chunk sees only its own points). Bounds come from the stream's kind,
// [earliest, latest + P) from the plan. Independent of any analytic code.
class TruthBuilder {
 public:
  TruthBuilder(const StreamPlan& plan, const GeneratorOptions& options);

  // REQUIRES: points continue the time order of all earlier calls.
  void Add(std::span<const GenPoint> points);
  StreamTruth Finish();

 private:
  // The running state of one range.
  struct Accumulator {
    QualityTruth q;
    bool has_prev = false;
    int64_t prev_time = 0;
    double prev_value = 0;
    int64_t run = 0;
  };
  void Open(Accumulator* acc, int64_t start, int64_t end) const;
  void Feed(Accumulator* acc, const GenPoint& p) const;
  void Close(Accumulator* acc) const;

  const StreamPlan& plan_;
  int64_t chunk_;
  int64_t stuck_min_;
  double gap_factor_;
  double min_;
  double max_;
  Accumulator total_;
  Accumulator current_;
  std::vector<QualityTruth> chunks_;
};

// Generates the stream and returns its truth.
StreamTruth ComputeTruth(const StreamPlan& plan, const GeneratorOptions& options);

// floor(t / chunk) * chunk, also for negative t. REQUIRES: chunk > 0.
int64_t ChunkStart(int64_t t, int64_t chunk);

}  // namespace btrq::lite
