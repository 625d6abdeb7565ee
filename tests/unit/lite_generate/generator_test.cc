#include "lite/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "tests/support/status_matchers.h"

namespace btrq::lite {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;

// Small enough to be fast, long enough for every defect and several chunk boundaries.
GeneratorOptions SmallOptions() {
  GeneratorOptions o;
  o.seed = 7;
  o.streams = 4;
  o.duration = 6 * kHour;
  o.chunk = 1 * kHour;
  o.rate_hz = 30;
  return o;
}

std::vector<StreamPlan> Plan(const GeneratorOptions& o) {
  Result<std::vector<StreamPlan>> plans = PlanStreams(o);
  EXPECT_OK(plans);
  return plans.ok() ? std::move(plans).value() : std::vector<StreamPlan>{};
}

std::multimap<int64_t, double> ByTime(const std::vector<GenPoint>& points) {
  std::multimap<int64_t, double> m;
  for (const GenPoint& p : points) m.emplace(p.time, p.value);
  return m;
}

// A hand-made plan: 1 Hz (exact period), 20 slots from t = 0, defects as given.
StreamPlan HandPlan(std::vector<Defect> defects) {
  StreamPlan p;
  p.uuid = Uuid{};
  p.collection = "test";
  p.name = "hand/voltage";
  p.kind = SensorKind::kVoltage;
  p.rate_hz = 1;
  p.start = 0;
  p.slots = 20;
  p.noise_seed = 3;
  for (Defect& d : defects) {
    d.start = p.SlotTime(d.slot);
    d.end = p.SlotTime(d.slot + d.length);
  }
  p.defects = std::move(defects);
  return p;
}

Defect MakeDefect(DefectType type, int64_t slot, int64_t length, double value = 0) {
  Defect d;
  d.type = type;
  d.slot = slot;
  d.length = length;
  d.value = value;
  return d;
}

TEST(Generator, SlotTimesRoundToTheNearestNanosecond) {
  StreamPlan p;
  p.start = 100;
  p.rate_hz = 30;
  EXPECT_EQ(p.SlotTime(0), 100);
  EXPECT_EQ(p.SlotTime(1), 100 + 33'333'333);
  EXPECT_EQ(p.SlotTime(2), 100 + 66'666'667);
  EXPECT_EQ(p.SlotTime(3), 100 + 100'000'000);
  EXPECT_EQ(p.SlotTime(30), 100 + kSecond);
  EXPECT_EQ(p.FirstSlotAtOrAfter(100 + 33'333'334), 2);
  EXPECT_EQ(p.FirstSlotAtOrAfter(100 + 33'333'333), 1);
  EXPECT_EQ(p.FirstSlotAtOrAfter(0), 0);
}

TEST(Generator, ChunkStartFloorsAlsoBeforeTheEpoch) {
  EXPECT_EQ(ChunkStart(25, 10), 20);
  EXPECT_EQ(ChunkStart(20, 10), 20);
  EXPECT_EQ(ChunkStart(-1, 10), -10);
  EXPECT_EQ(ChunkStart(-10, 10), -10);
}

TEST(Generator, RejectsBadOptions) {
  GeneratorOptions o = SmallOptions();
  o.streams = 0;
  EXPECT_EQ(PlanStreams(o).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.rate_hz = 0;
  EXPECT_EQ(PlanStreams(o).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.duration = kSecond / 100;  // shorter than one period at 30 Hz
  EXPECT_EQ(PlanStreams(o).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.chunk = 0;
  EXPECT_EQ(PlanStreams(o).status().code(), StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.start = int64_t{48} << 56;
  EXPECT_EQ(PlanStreams(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Generator, SameSeedGivesSamePlansAndPoints) {
  const std::vector<StreamPlan> a = Plan(SmallOptions());
  const std::vector<StreamPlan> b = Plan(SmallOptions());
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].uuid, b[i].uuid);
    EXPECT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].defects.size(), b[i].defects.size());
    for (size_t j = 0; j < a[i].defects.size(); ++j) {
      EXPECT_EQ(a[i].defects[j].slot, b[i].defects[j].slot);
      EXPECT_EQ(a[i].defects[j].value, b[i].defects[j].value);
    }
    EXPECT_EQ(GenerateAll(a[i]), GenerateAll(b[i]));
  }
}

TEST(Generator, OtherSeedOrCollectionGivesOtherStreams) {
  GeneratorOptions o = SmallOptions();
  const std::vector<StreamPlan> a = Plan(o);
  o.seed = 8;
  const std::vector<StreamPlan> b = Plan(o);
  o = SmallOptions();
  o.collection = "other/sensors";
  const std::vector<StreamPlan> c = Plan(o);
  std::set<Uuid> uuids;
  for (const auto* plans : {&a, &b, &c}) {
    for (const StreamPlan& p : *plans) uuids.insert(p.uuid);
  }
  EXPECT_EQ(uuids.size(), 12u);
  EXPECT_NE(GenerateAll(a[1]), GenerateAll(b[1]));
}

TEST(Generator, UuidsAreVersion4Rfc4122) {
  for (const StreamPlan& p : Plan(SmallOptions())) {
    EXPECT_EQ(p.uuid.bytes[6] >> 4, 4) << p.uuid.ToString();
    EXPECT_EQ(p.uuid.bytes[8] >> 6, 2) << p.uuid.ToString();
  }
}

TEST(Generator, NamesUnitsKindsAndCleanStreams) {
  GeneratorOptions o = SmallOptions();
  o.streams = 8;
  const std::vector<StreamPlan> plans = Plan(o);
  EXPECT_EQ(plans[0].name, "sensor00/voltage");
  EXPECT_EQ(plans[1].name, "sensor00/current");
  EXPECT_EQ(plans[2].name, "sensor00/frequency");
  EXPECT_EQ(plans[3].name, "sensor01/voltage");
  EXPECT_EQ(GetKindInfo(plans[1].kind).unit, "A");
  EXPECT_EQ(GetKindInfo(plans[2].kind).unit, "Hz");
  for (const StreamPlan& p : plans) EXPECT_EQ(p.clean(), p.index % 4 == 0) << p.name;

  o.defects = false;
  for (const StreamPlan& p : Plan(o)) EXPECT_TRUE(p.clean()) << p.name;
}

TEST(Generator, CleanStreamsAreInRangeCompleteAndNeverStuck) {
  GeneratorOptions o = SmallOptions();
  o.defects = false;
  o.streams = 3;  // one of each kind
  for (const StreamPlan& p : Plan(o)) {
    const std::vector<GenPoint> points = GenerateAll(p);
    ASSERT_EQ(static_cast<int64_t>(points.size()), p.slots);
    const KindInfo& kind = GetKindInfo(p.kind);
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].time, p.SlotTime(static_cast<int64_t>(i)));
      ASSERT_TRUE(std::isfinite(points[i].value));
      ASSERT_GE(points[i].value, kind.min) << p.name;
      ASSERT_LE(points[i].value, kind.max) << p.name;
      if (i > 0) {
        ASSERT_NE(points[i].value, points[i - 1].value);
      }
    }
    const StreamTruth t = ComputeTruth(p, o);
    EXPECT_EQ(t.total.count, p.slots);
    EXPECT_EQ(t.total.expected, p.slots);
    EXPECT_EQ(t.total.gaps, 0);
    EXPECT_EQ(t.total.duplicates, 0);
    EXPECT_EQ(t.total.out_of_range, 0);
    EXPECT_EQ(t.total.longest_stuck, 1);
    EXPECT_EQ(t.total.score, 1.0);
  }
}

TEST(Generator, DefectsDoNotOverlapAndKeepTheStreamEnds) {
  for (const StreamPlan& p : Plan(SmallOptions())) {
    for (size_t j = 0; j < p.defects.size(); ++j) {
      const Defect& d = p.defects[j];
      EXPECT_GE(d.slot, kDefectMargin);
      EXPECT_LE(d.slot + d.length, p.slots - kDefectMargin);
      if (j > 0) {
        // Members of one boundary scenario may touch; everything else keeps the margin.
        const Defect& prev = p.defects[j - 1];
        const int64_t margin = d.boundary && prev.boundary ? 0 : kDefectMargin;
        EXPECT_GE(d.slot, prev.slot + prev.length + margin) << p.name << " defect " << j;
      }
    }
  }
}

TEST(Generator, DirtyStreamsHaveEveryDefectTypeAndBoundaryCases) {
  std::set<int> duplicate_counts;
  for (const StreamPlan& p : Plan(SmallOptions())) {
    if (p.clean()) continue;
    std::map<DefectType, int> by_type;
    int boundary = 0;
    for (const Defect& d : p.defects) {
      ++by_type[d.type];
      boundary += d.boundary;
    }
    // Severity 1 (the least) gives 3 random duplicates and spikes, besides the boundary cases.
    EXPECT_GE(by_type[DefectType::kGap], 6) << p.name;
    EXPECT_GE(by_type[DefectType::kDuplicate], 3) << p.name;
    EXPECT_GE(by_type[DefectType::kStuck], 6) << p.name;
    EXPECT_GE(by_type[DefectType::kSpike], 3) << p.name;
    EXPECT_EQ(boundary, 7) << p.name;
    duplicate_counts.insert(by_type[DefectType::kDuplicate]);
  }
  // Dirty streams differ in severity, so they are not all equally bad.
  EXPECT_GT(duplicate_counts.size(), 1u);
}

TEST(Generator, DefectsAreWhereTheManifestSaysTheyAre) {
  const GeneratorOptions o = SmallOptions();
  for (const StreamPlan& p : Plan(o)) {
    const std::vector<GenPoint> points = GenerateAll(p);
    ASSERT_TRUE(std::is_sorted(points.begin(), points.end(),
                               [](const GenPoint& a, const GenPoint& b) { return a.time < b.time; }));
    EXPECT_EQ(points.front().time, p.first_time());
    EXPECT_EQ(points.back().time, p.last_time());
    const std::multimap<int64_t, double> at = ByTime(points);
    const KindInfo& kind = GetKindInfo(p.kind);
    for (const Defect& d : p.defects) {
      EXPECT_EQ(d.start, p.SlotTime(d.slot));
      EXPECT_EQ(d.end, p.SlotTime(d.slot + d.length));
      const auto first = at.lower_bound(d.start);
      const auto last = at.lower_bound(d.end);
      const auto n = std::distance(first, last);
      switch (d.type) {
        case DefectType::kGap:
          EXPECT_EQ(n, 0) << p.name << " gap at slot " << d.slot;
          break;
        case DefectType::kDuplicate: {
          ASSERT_EQ(n, 2) << p.name << " duplicate at slot " << d.slot;
          const double original = p.BaseValue(d.slot);
          EXPECT_EQ(first->second, original);
          EXPECT_EQ(std::next(first)->second, d.value);
          EXPECT_NE(d.value, original);
          EXPECT_GE(d.value, kind.min);
          EXPECT_LE(d.value, kind.max);
          break;
        }
        case DefectType::kStuck:
          ASSERT_EQ(n, d.length) << p.name << " stuck at slot " << d.slot;
          for (auto it = first; it != last; ++it) EXPECT_EQ(it->second, d.value);
          EXPECT_NE(std::prev(first)->second, d.value);
          EXPECT_NE(last->second, d.value);
          break;
        case DefectType::kSpike:
          ASSERT_EQ(n, 1);
          EXPECT_EQ(first->second, d.value);
          EXPECT_TRUE(d.value < kind.min || d.value > kind.max) << d.value;
          break;
      }
    }
  }
}

TEST(Generator, TotalsFollowFromTheDefectList) {
  const GeneratorOptions o = SmallOptions();
  for (const StreamPlan& p : Plan(o)) {
    int64_t missing = 0, duplicates = 0, gaps = 0, spikes = 0, runs = 0, run_points = 0;
    int64_t longest = 1;
    for (const Defect& d : p.defects) {
      switch (d.type) {
        case DefectType::kGap:
          missing += d.length;
          gaps += d.length >= 2;  // a 1-slot gap is an interval of 2P: not > 2P
          break;
        case DefectType::kDuplicate:
          ++duplicates;
          break;
        case DefectType::kStuck:
          longest = std::max(longest, d.length);
          if (d.length >= o.stuck_min) ++runs, run_points += d.length;
          break;
        case DefectType::kSpike:
          ++spikes;
          break;
      }
    }
    const QualityTruth t = ComputeTruth(p, o).total;
    EXPECT_EQ(t.count, p.slots - missing + duplicates) << p.name;
    EXPECT_EQ(t.duplicates, duplicates);
    EXPECT_EQ(t.unique, p.slots - missing);
    EXPECT_EQ(t.expected, p.slots);
    EXPECT_EQ(t.gaps, gaps);
    EXPECT_EQ(t.nonfinite, 0);
    EXPECT_EQ(t.out_of_range, spikes);
    EXPECT_EQ(t.longest_stuck, longest);
    EXPECT_EQ(t.stuck_runs, runs);
    EXPECT_EQ(t.stuck_points, run_points);
    EXPECT_DOUBLE_EQ(t.completeness, static_cast<double>(p.slots - missing) / p.slots);
    EXPECT_DOUBLE_EQ(t.missing_seconds, static_cast<double>(missing) / 30.0);
    EXPECT_DOUBLE_EQ(t.score, t.completeness * (1.0 - static_cast<double>(duplicates + spikes +
                                                                          run_points) /
                                                          static_cast<double>(t.count)));
  }
}

TEST(Generator, ChunksTileTheStreamAndAddUpToTheTotals) {
  const GeneratorOptions o = SmallOptions();
  for (const StreamPlan& p : Plan(o)) {
    const StreamTruth t = ComputeTruth(p, o);
    ASSERT_EQ(t.chunks.size(), 6u) << p.name;  // 6 h from a whole hour, 1 h chunks
    int64_t count = 0, duplicates = 0, unique = 0, out_of_range = 0, expected = 0;
    for (size_t i = 0; i < t.chunks.size(); ++i) {
      const QualityTruth& c = t.chunks[i];
      EXPECT_EQ(c.start % o.chunk, 0);
      EXPECT_EQ(c.end, c.start + o.chunk);
      if (i > 0) {
        EXPECT_EQ(c.start, t.chunks[i - 1].end);
      }
      EXPECT_EQ(c.expected, 108000) << "1 h at 30 Hz";
      count += c.count;
      duplicates += c.duplicates;
      unique += c.unique;
      out_of_range += c.out_of_range;
      expected += c.expected;
      EXPECT_LE(c.longest_stuck, t.total.longest_stuck);
    }
    EXPECT_EQ(t.chunks.front().start, ChunkStart(p.first_time(), o.chunk));
    EXPECT_GT(t.chunks.back().end, p.last_time());
    EXPECT_EQ(count, t.total.count);
    EXPECT_EQ(duplicates, t.total.duplicates);
    EXPECT_EQ(unique, t.total.unique);
    EXPECT_EQ(out_of_range, t.total.out_of_range);
    EXPECT_EQ(expected, t.total.expected);
  }
}

TEST(Generator, ChunksSeeOnlyTheirOwnPartOfGapsAndStuckRuns) {
  const GeneratorOptions o = SmallOptions();
  for (const StreamPlan& p : Plan(o)) {
    int64_t gaps = 0, runs = 0;
    for (const Defect& d : p.defects) {
      if (d.type == DefectType::kGap && d.length >= 2) {
        // The interval from the point before to the point after; chunks see it only when
        // both ends are theirs.
        gaps += ChunkStart(p.SlotTime(d.slot - 1), o.chunk) ==
                ChunkStart(p.SlotTime(d.slot + d.length), o.chunk);
      }
      if (d.type == DefectType::kStuck) {
        std::map<int64_t, int64_t> per_chunk;
        for (int64_t s = d.slot; s < d.slot + d.length; ++s) {
          ++per_chunk[ChunkStart(p.SlotTime(s), o.chunk)];
        }
        for (const auto& [chunk, n] : per_chunk) runs += n >= o.stuck_min;
      }
    }
    const StreamTruth t = ComputeTruth(p, o);
    int64_t chunk_gaps = 0, chunk_runs = 0;
    for (const QualityTruth& c : t.chunks) {
      chunk_gaps += c.gaps;
      chunk_runs += c.stuck_runs;
    }
    EXPECT_EQ(chunk_gaps, gaps) << p.name;
    EXPECT_EQ(chunk_runs, runs) << p.name;
    if (!p.clean()) {
      EXPECT_LT(chunk_gaps, t.total.gaps) << "a gap across a boundary is in no chunk";
    }
  }
}

// A worked example, checked by hand: 20 slots at 1 Hz from t = 0 s, chunks of 10 s.
//   slots 8..11 missing (gap across the boundary at 10 s: 7 s -> 12 s)
//   slot 12 duplicated with value 7000 (chunk 2's first point)
//   slots 13..17 stuck at 7100 (5 points) with stuck_min 3
//   slot 2 spiked to 1e6
TEST(Generator, WorkedExampleAcrossAChunkBoundary) {
  GeneratorOptions o;
  o.chunk = 10 * kSecond;
  o.stuck_min = 3;
  const StreamPlan p = HandPlan({MakeDefect(DefectType::kSpike, 2, 1, 1e6),
                                 MakeDefect(DefectType::kGap, 8, 4),
                                 MakeDefect(DefectType::kDuplicate, 12, 1, 7000.0),
                                 MakeDefect(DefectType::kStuck, 13, 5, 7100.0)});
  const std::vector<GenPoint> points = GenerateAll(p);
  ASSERT_EQ(points.size(), 17u);
  EXPECT_EQ(points[8].time, 12 * kSecond);
  EXPECT_EQ(points[9].time, 12 * kSecond);
  EXPECT_EQ(points[9].value, 7000.0);

  const StreamTruth t = ComputeTruth(p, o);
  ASSERT_EQ(t.chunks.size(), 2u);
  const QualityTruth& c0 = t.chunks[0];
  EXPECT_EQ(c0.count, 8);
  EXPECT_EQ(c0.duplicates, 0);
  EXPECT_EQ(c0.expected, 10);
  EXPECT_EQ(c0.gaps, 0);
  EXPECT_EQ(c0.out_of_range, 1);
  EXPECT_EQ(c0.longest_stuck, 1);
  EXPECT_DOUBLE_EQ(c0.completeness, 0.8);
  EXPECT_DOUBLE_EQ(c0.missing_seconds, 2.0);
  EXPECT_DOUBLE_EQ(c0.score, 0.8 * (1 - 1.0 / 8));
  EXPECT_EQ(c0.max, 1e6);

  const QualityTruth& c1 = t.chunks[1];
  EXPECT_EQ(c1.count, 9);
  EXPECT_EQ(c1.duplicates, 1);
  EXPECT_EQ(c1.unique, 8);
  EXPECT_EQ(c1.expected, 10);  // [10 s, min(20 s, 19 s + P))
  EXPECT_EQ(c1.gaps, 0);       // the missing slots 10, 11 lead the chunk: no interval
  EXPECT_EQ(c1.out_of_range, 0);
  EXPECT_EQ(c1.longest_stuck, 5);
  EXPECT_EQ(c1.stuck_runs, 1);
  EXPECT_EQ(c1.stuck_points, 5);
  EXPECT_DOUBLE_EQ(c1.score, 0.8 * (1 - 6.0 / 9));

  EXPECT_EQ(t.total.count, 17);
  EXPECT_EQ(t.total.expected, 20);
  EXPECT_EQ(t.total.gaps, 1);  // 7 s -> 12 s
}

// Runs split by a boundary are per chunk; a 1-slot gap at an exact period is no gap.
TEST(Generator, WorkedExampleSplitRunAndOneSlotGap) {
  GeneratorOptions o;
  o.chunk = 10 * kSecond;
  o.stuck_min = 3;
  const StreamPlan p = HandPlan({MakeDefect(DefectType::kGap, 4, 1),
                                 MakeDefect(DefectType::kStuck, 8, 4, 7100.0)});
  const StreamTruth t = ComputeTruth(p, o);
  ASSERT_EQ(t.chunks.size(), 2u);
  EXPECT_EQ(t.chunks[0].gaps, 0);
  EXPECT_EQ(t.chunks[0].count, 9);
  EXPECT_EQ(t.chunks[0].longest_stuck, 2);  // slots 8, 9
  EXPECT_EQ(t.chunks[0].stuck_runs, 0);
  EXPECT_EQ(t.chunks[1].longest_stuck, 2);  // slots 10, 11
  EXPECT_EQ(t.chunks[1].stuck_runs, 0);
  EXPECT_EQ(t.total.longest_stuck, 4);
  EXPECT_EQ(t.total.stuck_runs, 1);
  EXPECT_EQ(t.total.gaps, 0);
}

TEST(Generator, OneSlotGapsOnlyWhenThePeriodIsExact) {
  GeneratorOptions o = SmallOptions();
  auto has_one_slot_gap = [](const std::vector<StreamPlan>& plans) {
    for (const StreamPlan& p : plans) {
      for (const Defect& d : p.defects) {
        if (d.type == DefectType::kGap && d.length == 1) return true;
      }
    }
    return false;
  };
  EXPECT_FALSE(has_one_slot_gap(Plan(o)));  // 30 Hz: 2 intervals are 66666666 or 66666667 ns
  o.rate_hz = 50;
  EXPECT_TRUE(has_one_slot_gap(Plan(o)));
}

TEST(Generator, BatchesOfAnySizeGiveTheSamePoints) {
  const std::vector<StreamPlan> plans = Plan(SmallOptions());
  const StreamPlan& p = plans[1];
  const std::vector<GenPoint> all = GenerateAll(p);
  std::vector<GenPoint> pieces;
  PointGenerator gen(p);
  std::vector<GenPoint> batch(7);
  while (const size_t n = gen.Next(batch)) pieces.insert(pieces.end(), batch.begin(), batch.begin() + n);
  EXPECT_TRUE(gen.done());
  EXPECT_EQ(pieces, all);
}

}  // namespace
}  // namespace btrq::lite
