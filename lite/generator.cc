#include "lite/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "common/time_util.h"

namespace btrq::lite {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// SplitMix64's finaliser: a bijection that spreads every input bit.
uint64_t Mix64(uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A small deterministic generator (SplitMix64). std::*_distribution is not used: its
// output differs between standard libraries, and the data must not.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += kGolden;
    return Mix64(state_);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Between(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(span == 0 ? Next() : Next() % span);
  }

 private:
  uint64_t state_;
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The signal model of each kind: nominal + amplitude * sin(2π t / cycle + phase) + sigma * z.
struct KindModel {
  KindInfo info;
  double nominal;
  double amplitude;
  int64_t cycle_ns;
  double sigma;
};

// Clean values stay within nominal ± (amplitude + 9 sigma), well inside [min, max]
// (a 53-bit Box-Muller draw never exceeds 8.6 sigma).
const KindModel kModels[] = {
    {{"voltage", "V", 6840.0, 7560.0}, 7200.0, 86.4, kNanosPerDay, 1.8},
    {{"current", "A", 0.0, 400.0}, 100.0, 25.0, kNanosPerDay, 1.2},
    {{"frequency", "Hz", 59.9, 60.1}, 60.0, 0.008, 15 * kNanosPerMinute, 0.004},
};

const KindModel& Model(SensorKind kind) { return kModels[static_cast<int>(kind)]; }

int64_t PositiveMod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

Uuid UuidFrom(Rng* rng) {
  Uuid u;
  for (size_t i = 0; i < 16; i += 8) {
    const uint64_t x = rng->Next();
    for (size_t j = 0; j < 8; ++j) u.bytes[i + j] = static_cast<uint8_t>(x >> (8 * j));
  }
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4 layout
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

// Places defects on one stream's slots, keeping kDefectMargin free slots around each.
class DefectPlanner {
 public:
  DefectPlanner(const StreamPlan& plan, Rng* rng) : plan_(plan), rng_(rng) {}

  bool Fits(int64_t slot, int64_t length) const {
    if (slot < kDefectMargin || slot + length > plan_.slots - kDefectMargin) return false;
    for (const Defect& d : defects_) {
      if (slot < d.slot + d.length + kDefectMargin && d.slot < slot + length + kDefectMargin) {
        return false;
      }
    }
    return true;
  }

  bool TryAdd(DefectType type, int64_t slot, int64_t length, bool boundary) {
    if (length < 1 || !Fits(slot, length)) return false;
    Add(type, slot, length, boundary);
    return true;
  }

  // Adds all of `group` (slots relative to `base`) or none. Members may be adjacent to
  // each other, but keep the margin to every other defect.
  template <typename Group>
  bool TryAddGroup(const Group& group, int64_t base) {
    for (const auto& m : group) {
      if (m.length < 1 || !Fits(base + m.offset, m.length)) return false;
    }
    for (const auto& m : group) Add(m.type, base + m.offset, m.length, true);
    return true;
  }

  // Up to 100 random positions; gives up (deterministically) when none fits.
  void AddRandom(DefectType type, int64_t length) {
    const int64_t hi = plan_.slots - kDefectMargin - length;
    if (hi < kDefectMargin) return;
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (TryAdd(type, rng_->Between(kDefectMargin, hi), length, false)) return;
    }
  }

  std::vector<Defect> Take() {
    std::sort(defects_.begin(), defects_.end(),
              [](const Defect& a, const Defect& b) { return a.slot < b.slot; });
    return std::move(defects_);
  }

 private:
  void Add(DefectType type, int64_t slot, int64_t length, bool boundary) {
    Defect d;
    d.type = type;
    d.slot = slot;
    d.length = length;
    d.start = plan_.SlotTime(slot);
    d.end = plan_.SlotTime(slot + length);
    d.boundary = boundary;
    d.value = ValueFor(type, slot);
    defects_.push_back(d);
  }

  double ValueFor(DefectType type, int64_t slot) {
    const KindModel& m = Model(plan_.kind);
    const double range = m.info.max - m.info.min;
    switch (type) {
      case DefectType::kGap:
        return 0;
      case DefectType::kStuck:
        return plan_.BaseValue(slot);
      case DefectType::kDuplicate: {
        const double offset = m.sigma * (4.0 + 2.0 * rng_->Uniform());
        return plan_.BaseValue(slot) + (rng_->Next() & 1 ? offset : -offset);
      }
      case DefectType::kSpike: {
        const double excess = range * (0.5 + rng_->Uniform());
        return rng_->Next() & 1 ? m.info.max + excess : m.info.min - excess;
      }
    }
    return 0;
  }

  const StreamPlan& plan_;
  Rng* rng_;
  std::vector<Defect> defects_;
};

struct BoundaryCase {
  DefectType type;
  int64_t offset;  // first slot relative to the first slot at or after the boundary
  int64_t length;
};

void PlanDefects(const GeneratorOptions& options, StreamPlan* plan, Rng* rng) {
  DefectPlanner planner(*plan, rng);
  const int64_t k = options.stuck_min;

  // Boundary scenarios first, at most one per chunk boundary inside the stream, in a
  // per-stream rotation; a scenario that finds no free boundary is left out.
  const std::vector<std::vector<BoundaryCase>> scenarios = {
      // A gap across the boundary: neither chunk sees the interval.
      {{DefectType::kGap, -150, 300}},
      // A chunk ends with missing points; the next one's first point is duplicated.
      {{DefectType::kGap, -40, 40}, {DefectType::kDuplicate, 0, 1}},
      // A chunk's last point is a spike; the next chunk starts with missing points.
      {{DefectType::kSpike, -1, 1}, {DefectType::kGap, 0, 60}},
      // A run across the boundary whose halves are both shorter than stuck_min.
      {{DefectType::kStuck, -(k / 2 + 2), k + 5}},
      // A run across the boundary whose halves are both at least stuck_min.
      {{DefectType::kStuck, -(k + 2), 2 * k + 4}},
  };
  std::vector<int64_t> boundary_slots;
  for (int64_t b = ChunkStart(plan->first_time(), options.chunk) + options.chunk;
       b <= plan->last_time() && boundary_slots.size() < 64; b += options.chunk) {
    boundary_slots.push_back(plan->FirstSlotAtOrAfter(b));
  }
  const size_t nb = boundary_slots.size();
  for (size_t c = 0; c < scenarios.size() && nb > 0; ++c) {
    for (size_t tries = 0; tries < nb; ++tries) {
      const int64_t b = boundary_slots[(c + static_cast<size_t>(plan->index) + tries) % nb];
      if (planner.TryAddGroup(scenarios[c], b)) break;
    }
  }

  // Then random positions. Each dirty stream draws a severity of 1 to 4, so streams differ
  // in how much is wrong with them (and a job's worst streams are worth a look).
  const int64_t severity = rng->Between(1, 4);
  std::vector<int64_t> gaps = {2, 3, 7, 45, 900 * severity, 1800 * severity};
  if (kNanosPerSecond % plan->rate_hz == 0) gaps.push_back(1);  // exactly 2P: not a gap
  for (const int64_t len : gaps) planner.AddRandom(DefectType::kGap, len);
  for (int64_t i = 0; i < 3 * severity; ++i) planner.AddRandom(DefectType::kDuplicate, 1);
  for (const int64_t len : {k, k + 1, 4 * k, 20 * k * severity}) {
    planner.AddRandom(DefectType::kStuck, len);
  }
  for (const int64_t len : {int64_t{2}, k / 2, k - 1}) {
    if (len >= 2 && len < k) planner.AddRandom(DefectType::kStuck, len);
  }
  for (int64_t i = 0; i < 3 * severity; ++i) planner.AddRandom(DefectType::kSpike, 1);
  plan->defects = planner.Take();
}

}  // namespace

const KindInfo& GetKindInfo(SensorKind kind) { return Model(kind).info; }

std::string_view DefectTypeName(DefectType type) {
  switch (type) {
    case DefectType::kGap:
      return "gap";
    case DefectType::kDuplicate:
      return "duplicate";
    case DefectType::kStuck:
      return "stuck";
    case DefectType::kSpike:
      return "spike";
  }
  return "unknown";
}

int64_t ChunkStart(int64_t t, int64_t chunk) {
  int64_t q = t / chunk;
  if (t % chunk != 0 && t < 0) --q;
  return q * chunk;
}

int64_t StreamPlan::SlotTime(int64_t i) const {
  const __int128 num = static_cast<__int128>(i) * 2 * kNanosPerSecond + rate_hz;
  return start + static_cast<int64_t>(num / (2 * static_cast<__int128>(rate_hz)));
}

int64_t StreamPlan::FirstSlotAtOrAfter(int64_t t) const {
  if (t <= start) return 0;
  int64_t i = static_cast<int64_t>(static_cast<__int128>(t - start) * rate_hz / kNanosPerSecond);
  while (SlotTime(i) < t) ++i;
  while (i > 0 && SlotTime(i - 1) >= t) --i;
  return i;
}

double StreamPlan::BaseValue(int64_t i) const {
  const KindModel& m = Model(kind);
  const uint64_t h1 = Mix64(noise_seed ^ (static_cast<uint64_t>(i) * kGolden));
  const uint64_t h2 = Mix64(h1 ^ noise_seed);
  const double u1 = static_cast<double>((h1 >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(h2 >> 11) * 0x1.0p-53;
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  const double cycle = static_cast<double>(PositiveMod(SlotTime(i), m.cycle_ns)) /
                       static_cast<double>(m.cycle_ns);
  return m.nominal + m.amplitude * std::sin(2.0 * std::numbers::pi * cycle + phase) +
         m.sigma * z;
}

Result<std::vector<StreamPlan>> PlanStreams(const GeneratorOptions& options) {
  if (options.streams < 1 || options.streams > 100000) {
    return Status::InvalidArgument("streams must be in [1, 100000]");
  }
  if (options.rate_hz < 1 || options.rate_hz > kNanosPerSecond) {
    return Status::InvalidArgument("rate must be in [1, 1e9] Hz");
  }
  if (options.duration <= 0) return Status::InvalidArgument("duration must be positive");
  if (options.chunk <= 0) return Status::InvalidArgument("chunk must be positive");
  if (options.stuck_min < 2) return Status::InvalidArgument("stuck_min must be at least 2");
  if (!(options.gap_factor >= 1)) return Status::InvalidArgument("gap_factor must be >= 1");
  if (options.collection.empty()) return Status::InvalidArgument("collection is empty");
  const __int128 slots =
      static_cast<__int128>(options.duration) * options.rate_hz / kNanosPerSecond;
  if (slots < 1) return Status::InvalidArgument("duration is shorter than one period");
  if (options.start < kMinTime || options.start >= kMaxTime ||
      options.duration >= kMaxTime - options.start) {
    return Status::InvalidArgument("start and start+duration must lie in BTrDB's time range");
  }

  const uint64_t base = Mix64(options.seed) ^ Fnv1a(options.collection);
  std::vector<StreamPlan> plans;
  plans.reserve(static_cast<size_t>(options.streams));
  for (int s = 0; s < options.streams; ++s) {
    Rng rng(Mix64(base + static_cast<uint64_t>(s) * kGolden));
    StreamPlan plan;
    plan.index = s;
    plan.uuid = UuidFrom(&rng);
    plan.collection = options.collection;
    plan.kind = kAllKinds[s % 3];
    char name[64];
    std::snprintf(name, sizeof(name), "sensor%02d/%s", s / 3,
                  std::string(GetKindInfo(plan.kind).name).c_str());
    plan.name = name;
    plan.rate_hz = options.rate_hz;
    plan.start = options.start;
    plan.slots = static_cast<int64_t>(slots);
    plan.noise_seed = rng.Next();
    plan.phase = 2.0 * std::numbers::pi * rng.Uniform();
    // Every fourth stream stays clean so a job sees both kinds.
    if (options.defects && s % 4 != 0) PlanDefects(options, &plan, &rng);
    plans.push_back(std::move(plan));
  }
  return plans;
}

size_t PointGenerator::Next(std::span<GenPoint> out) {
  const std::vector<Defect>& defects = plan_.defects;
  size_t n = 0;
  while (n < out.size()) {
    if (pending_duplicate_) {
      out[n++] = duplicate_;
      pending_duplicate_ = false;
      continue;
    }
    if (slot_ >= plan_.slots) break;
    while (defect_ < defects.size() &&
           defects[defect_].slot + defects[defect_].length <= slot_) {
      ++defect_;
    }
    const Defect* d =
        defect_ < defects.size() && defects[defect_].slot <= slot_ ? &defects[defect_] : nullptr;
    const int64_t i = slot_++;
    GenPoint p{plan_.SlotTime(i), 0};
    if (d == nullptr) {
      p.value = plan_.BaseValue(i);
    } else {
      switch (d->type) {
        case DefectType::kGap:
          slot_ = d->slot + d->length;
          continue;
        case DefectType::kDuplicate:
          p.value = plan_.BaseValue(i);
          duplicate_ = GenPoint{p.time, d->value};
          pending_duplicate_ = true;
          break;
        case DefectType::kStuck:
        case DefectType::kSpike:
          p.value = d->value;
          break;
      }
    }
    out[n++] = p;
  }
  return n;
}

std::vector<GenPoint> GenerateAll(const StreamPlan& plan) {
  std::vector<GenPoint> all;
  all.reserve(static_cast<size_t>(plan.slots) + plan.defects.size());
  PointGenerator gen(plan);
  std::vector<GenPoint> batch(65536);
  while (const size_t n = gen.Next(batch)) all.insert(all.end(), batch.begin(), batch.begin() + n);
  return all;
}

TruthBuilder::TruthBuilder(const StreamPlan& plan, const GeneratorOptions& options)
    : plan_(plan),
      chunk_(options.chunk),
      stuck_min_(options.stuck_min),
      gap_factor_(options.gap_factor),
      min_(GetKindInfo(plan.kind).min),
      max_(GetKindInfo(plan.kind).max) {
  Open(&total_, plan.first_time(),
       plan.last_time() + static_cast<int64_t>(std::ceil(plan.period_ns())));
}

void TruthBuilder::Open(Accumulator* acc, int64_t start, int64_t end) const {
  *acc = Accumulator{};
  acc->q.start = start;
  acc->q.end = end;
}

void TruthBuilder::Feed(Accumulator* acc, const GenPoint& p) const {
  QualityTruth& q = acc->q;
  ++q.count;
  if (std::isfinite(p.value)) {
    q.min = q.has_finite ? std::min(q.min, p.value) : p.value;
    q.max = q.has_finite ? std::max(q.max, p.value) : p.value;
    q.has_finite = true;
    if (p.value < min_ || p.value > max_) ++q.out_of_range;
  } else {
    ++q.nonfinite;
  }
  if (acc->has_prev) {
    if (p.time == acc->prev_time) {
      ++q.duplicates;
    } else if (static_cast<double>(p.time - acc->prev_time) > gap_factor_ * plan_.period_ns()) {
      ++q.gaps;
    }
  }
  if (acc->has_prev && p.value == acc->prev_value) {
    ++acc->run;
  } else {
    q.longest_stuck = std::max(q.longest_stuck, acc->run);
    if (acc->run >= stuck_min_) {
      ++q.stuck_runs;
      q.stuck_points += acc->run;
    }
    acc->run = 1;
  }
  acc->has_prev = true;
  acc->prev_time = p.time;
  acc->prev_value = p.value;
}

void TruthBuilder::Close(Accumulator* acc) const {
  QualityTruth& q = acc->q;
  q.longest_stuck = std::max(q.longest_stuck, acc->run);
  if (acc->run >= stuck_min_) {
    ++q.stuck_runs;
    q.stuck_points += acc->run;
  }
  acc->run = 0;
  q.unique = q.count - q.duplicates;
  // [lo, hi) = the range clipped to [earliest, latest + P); P need not be whole ns.
  const long double period = 1e9L / static_cast<long double>(plan_.rate_hz);
  const long double lo = std::max<long double>(q.start, plan_.first_time());
  const long double hi =
      std::min<long double>(q.end, static_cast<long double>(plan_.last_time()) + period);
  q.expected = hi > lo ? std::llround((hi - lo) / period) : 0;
  q.completeness =
      q.expected == 0 ? 1.0
                      : std::min(1.0, static_cast<double>(q.unique) / static_cast<double>(q.expected));
  q.missing_seconds = static_cast<double>(std::max<int64_t>(0, q.expected - q.unique)) *
                      plan_.period_ns() / 1e9;
  const double bad =
      static_cast<double>(q.duplicates + q.nonfinite + q.out_of_range + q.stuck_points);
  q.score = q.completeness *
            std::max(0.0, 1.0 - bad / static_cast<double>(std::max<int64_t>(q.count, 1)));
}

void TruthBuilder::Add(std::span<const GenPoint> points) {
  for (const GenPoint& p : points) {
    const int64_t cs = ChunkStart(p.time, chunk_);
    if (total_.q.count == 0) {
      Open(&current_, cs, cs + chunk_);
    } else if (cs != current_.q.start) {
      // Close the current chunk and emit the empty chunks a long gap may skip.
      Close(&current_);
      chunks_.push_back(current_.q);
      for (int64_t c = current_.q.end; c < cs; c += chunk_) {
        Accumulator empty;
        Open(&empty, c, c + chunk_);
        Close(&empty);
        chunks_.push_back(empty.q);
      }
      Open(&current_, cs, cs + chunk_);
    }
    Feed(&current_, p);
    Feed(&total_, p);
  }
}

StreamTruth TruthBuilder::Finish() {
  StreamTruth truth;
  if (total_.q.count > 0) {
    Close(&current_);
    chunks_.push_back(current_.q);
  }
  Close(&total_);
  truth.total = total_.q;
  truth.chunks = std::move(chunks_);
  return truth;
}

StreamTruth ComputeTruth(const StreamPlan& plan, const GeneratorOptions& options) {
  TruthBuilder builder(plan, options);
  PointGenerator gen(plan);
  std::vector<GenPoint> batch(65536);
  while (const size_t n = gen.Next(batch)) builder.Add(std::span(batch.data(), n));
  return builder.Finish();
}

}  // namespace btrq::lite
