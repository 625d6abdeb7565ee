#include "analytics/quality.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tests/support/status_matchers.h"
#include "tests/unit/analytics/vector_point_source.h"

namespace btrq::analytics {
namespace {

using testing::DoubleField;
using testing::FieldNames;
using testing::Find;
using testing::IntField;
using testing::VectorPointSource;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TaskSpec Task(int64_t start, int64_t end, Fields params, int64_t earliest = 0,
              int64_t latest = 0) {
  TaskSpec task;
  task.key.start = start;
  task.end = end;
  task.analytic = "quality";
  task.params = std::move(params);
  task.stream_earliest = earliest;
  task.stream_latest = latest;
  return task;
}

// Points at period 10 ns from `start`, values 0, 1, 2, ... (no stuck runs).
std::vector<RawPoint> Regular(int64_t start, int n) {
  std::vector<RawPoint> points;
  for (int i = 0; i < n; ++i) points.push_back({start + 10 * i, static_cast<double>(i)});
  return points;
}

Result<Fields> RunQuality(const TaskSpec& task, std::vector<RawPoint> points,
                          size_t batch = std::numeric_limits<size_t>::max(),
                          RunCounters* counters = nullptr) {
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Analytic> analytic, NewQuality(task.params));
  VectorPointSource source(std::move(points), batch);
  RunCounters local;
  return analytic->Run(task, source, counters != nullptr ? counters : &local);
}

const Fields kPeriod10 = {{"period_ns", int64_t{10}}};

TEST(Quality, CleanSeriesHasEveryFieldInOrderAndScoresOne) {
  const TaskSpec task = Task(0, 1000, kPeriod10, 0, 990);
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(task, Regular(0, 100), 7, &counters));
  EXPECT_THAT(FieldNames(f),
              ::testing::ElementsAre("count", "expected", "completeness", "gaps",
                                     "missing_seconds", "duplicates", "unique", "nonfinite",
                                     "out_of_range", "longest_stuck", "stuck_runs", "min", "max",
                                     "mean", "stddev", "score"));
  EXPECT_EQ(IntField(f, "count"), 100);
  EXPECT_EQ(IntField(f, "expected"), 100);
  EXPECT_EQ(DoubleField(f, "completeness"), 1.0);
  EXPECT_EQ(IntField(f, "gaps"), 0);
  EXPECT_EQ(DoubleField(f, "missing_seconds"), 0.0);
  EXPECT_EQ(IntField(f, "duplicates"), 0);
  EXPECT_EQ(IntField(f, "unique"), 100);
  EXPECT_EQ(IntField(f, "nonfinite"), 0);
  EXPECT_EQ(IntField(f, "out_of_range"), 0);
  EXPECT_EQ(IntField(f, "longest_stuck"), 1);
  EXPECT_EQ(IntField(f, "stuck_runs"), 0);
  EXPECT_EQ(DoubleField(f, "min"), 0.0);
  EXPECT_EQ(DoubleField(f, "max"), 99.0);
  EXPECT_DOUBLE_EQ(DoubleField(f, "mean"), 49.5);
  EXPECT_DOUBLE_EQ(DoubleField(f, "stddev"), std::sqrt((100.0 * 100.0 - 1) / 12));
  EXPECT_EQ(DoubleField(f, "score"), 1.0);
  EXPECT_EQ(counters.points_read, 100);
}

TEST(Quality, EmptyChunkInsideTheStreamIsAllMissing) {
  const TaskSpec task = Task(1000, 2000, kPeriod10, 0, 5000);
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(task, {}));
  EXPECT_EQ(IntField(f, "count"), 0);
  EXPECT_EQ(IntField(f, "expected"), 100);
  EXPECT_EQ(DoubleField(f, "completeness"), 0.0);
  EXPECT_DOUBLE_EQ(DoubleField(f, "missing_seconds"), 100 * 10 / 1e9);
  EXPECT_EQ(IntField(f, "longest_stuck"), 0);
  EXPECT_EQ(Find(f, "min"), nullptr);
  EXPECT_EQ(Find(f, "max"), nullptr);
  EXPECT_EQ(Find(f, "mean"), nullptr);
  EXPECT_EQ(Find(f, "stddev"), nullptr);
  EXPECT_EQ(DoubleField(f, "score"), 0.0);
}

TEST(Quality, EmptyChunkWithoutAnyPeriodExpectsNothing) {
  // No rate, no period_ns and no intervals: P is unknown, so expected = unique = 0.
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(1000, 2000, {}, 0, 5000), {}));
  EXPECT_EQ(IntField(f, "expected"), 0);
  EXPECT_EQ(DoubleField(f, "completeness"), 1.0);
  EXPECT_EQ(DoubleField(f, "score"), 1.0);
}

TEST(Quality, SinglePoint) {
  // The stream is one point at 500: [lo, hi) = [500, 510), one expected.
  ASSERT_OK_AND_ASSIGN(Fields f,
                       RunQuality(Task(0, 1000, kPeriod10, 500, 500), {{500, 3.5}}));
  EXPECT_EQ(IntField(f, "count"), 1);
  EXPECT_EQ(IntField(f, "expected"), 1);
  EXPECT_EQ(IntField(f, "unique"), 1);
  EXPECT_EQ(IntField(f, "longest_stuck"), 1);
  EXPECT_EQ(DoubleField(f, "mean"), 3.5);
  EXPECT_EQ(DoubleField(f, "stddev"), 0.0);
  EXPECT_EQ(DoubleField(f, "score"), 1.0);
}

TEST(Quality, AllDuplicates) {
  std::vector<RawPoint> points;
  for (int i = 0; i < 5; ++i) points.push_back({100, static_cast<double>(i)});
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 1000, kPeriod10, 100, 100), points));
  EXPECT_EQ(IntField(f, "count"), 5);
  EXPECT_EQ(IntField(f, "duplicates"), 4);
  EXPECT_EQ(IntField(f, "unique"), 1);
  EXPECT_EQ(IntField(f, "expected"), 1);
  EXPECT_EQ(IntField(f, "gaps"), 0);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - 4.0 / 5.0);
}

TEST(Quality, AllDuplicatesWithoutPeriodHaveNoInterval) {
  std::vector<RawPoint> points(4, RawPoint{100, 1.0});
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 1000, {}, 100, 100), points));
  EXPECT_EQ(IntField(f, "duplicates"), 3);
  EXPECT_EQ(IntField(f, "expected"), 1);  // P unknown: expected = unique
  EXPECT_EQ(IntField(f, "longest_stuck"), 4);
}

TEST(Quality, NonFiniteValuesAreCountedAndLeftOutOfTheStatistics) {
  const std::vector<RawPoint> points = {{0, 1.0},  {10, kNaN}, {20, kNaN}, {30, kInf},
                                        {40, -kInf}, {50, 3.0}};
  ASSERT_OK_AND_ASSIGN(Fields f,
                       RunQuality(Task(0, 60, {{"period_ns", int64_t{10}}, {"max", 2.0}}, 0, 50),
                                  points));
  EXPECT_EQ(IntField(f, "nonfinite"), 4);
  EXPECT_EQ(IntField(f, "out_of_range"), 1);  // 3.0 > max; +Inf is nonfinite, not out of range
  EXPECT_EQ(IntField(f, "longest_stuck"), 1);  // NaN never equals NaN
  EXPECT_EQ(DoubleField(f, "min"), 1.0);
  EXPECT_EQ(DoubleField(f, "max"), 3.0);
  EXPECT_EQ(DoubleField(f, "mean"), 2.0);
  EXPECT_EQ(DoubleField(f, "stddev"), 1.0);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - 5.0 / 6.0);
}

TEST(Quality, OnlyNonFiniteValuesHaveNoStatistics) {
  ASSERT_OK_AND_ASSIGN(Fields f,
                       RunQuality(Task(0, 20, kPeriod10, 0, 10), {{0, kNaN}, {10, kInf}}));
  EXPECT_EQ(IntField(f, "nonfinite"), 2);
  EXPECT_EQ(Find(f, "min"), nullptr);
  EXPECT_EQ(Find(f, "stddev"), nullptr);
  EXPECT_EQ(DoubleField(f, "score"), 0.0);
}

TEST(Quality, StuckRunOfExactlyStuckMinCounts) {
  std::vector<RawPoint> points = Regular(0, 30);
  for (int i = 5; i < 15; ++i) points[i].value = 7.25;  // a run of exactly 10
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 300, kPeriod10, 0, 290), points));
  EXPECT_EQ(IntField(f, "longest_stuck"), 10);
  EXPECT_EQ(IntField(f, "stuck_runs"), 1);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - 10.0 / 30.0);
}

TEST(Quality, StuckRunShorterThanStuckMinIsOnlyTheLongest) {
  std::vector<RawPoint> points = Regular(0, 30);
  for (int i = 5; i < 14; ++i) points[i].value = 7.25;  // a run of 9
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 300, kPeriod10, 0, 290), points));
  EXPECT_EQ(IntField(f, "longest_stuck"), 9);
  EXPECT_EQ(IntField(f, "stuck_runs"), 0);
  EXPECT_EQ(DoubleField(f, "score"), 1.0);
}

TEST(Quality, StuckRunsAtTheEndsAndStuckMinParam) {
  // Runs of 4 at the start and 5 at the end, 3 in the middle; stuck_min = 4.
  std::vector<RawPoint> points = Regular(0, 20);
  for (int i = 0; i < 4; ++i) points[i].value = -1;
  for (int i = 8; i < 11; ++i) points[i].value = -2;
  for (int i = 15; i < 20; ++i) points[i].value = -3;
  ASSERT_OK_AND_ASSIGN(
      Fields f, RunQuality(Task(0, 200, {{"period_ns", int64_t{10}}, {"stuck_min", int64_t{4}}},
                                0, 190),
                           points));
  EXPECT_EQ(IntField(f, "longest_stuck"), 5);
  EXPECT_EQ(IntField(f, "stuck_runs"), 2);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - 9.0 / 20.0);
}

TEST(Quality, StuckRunsIncludeDuplicatePoints) {
  // Three points with one value, two of them at the same time: a run of 3.
  const std::vector<RawPoint> points = {{0, 1}, {10, 5}, {10, 5}, {20, 5}, {30, 2}};
  ASSERT_OK_AND_ASSIGN(
      Fields f, RunQuality(Task(0, 40, {{"period_ns", int64_t{10}}, {"stuck_min", int64_t{3}}},
                                0, 30),
                           points));
  EXPECT_EQ(IntField(f, "longest_stuck"), 3);
  EXPECT_EQ(IntField(f, "stuck_runs"), 1);
  EXPECT_EQ(IntField(f, "duplicates"), 1);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - (1.0 + 3.0) / 5.0);
}

TEST(Quality, IntervalOfExactlyGapFactorTimesPeriodIsNotAGap) {
  // Intervals 20 (= 2P: not a gap), 21 (a gap), 50 (a gap).
  const std::vector<RawPoint> points = {{0, 0}, {20, 1}, {41, 2}, {91, 3}, {101, 4}};
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 120, kPeriod10, 0, 101), points));
  EXPECT_EQ(IntField(f, "gaps"), 2);
  EXPECT_EQ(IntField(f, "expected"), 11);  // [0, 111) / 10 = 11.1
  EXPECT_EQ(IntField(f, "unique"), 5);
  EXPECT_DOUBLE_EQ(DoubleField(f, "missing_seconds"), 6 * 10 / 1e9);
  EXPECT_DOUBLE_EQ(DoubleField(f, "completeness"), 5.0 / 11.0);
}

TEST(Quality, GapFactorParam) {
  const std::vector<RawPoint> points = {{0, 0}, {30, 1}, {61, 2}};
  ASSERT_OK_AND_ASSIGN(
      Fields f,
      RunQuality(Task(0, 100, {{"period_ns", int64_t{10}}, {"gap_factor", 3.0}}, 0, 61), points));
  EXPECT_EQ(IntField(f, "gaps"), 1);  // 30 = 3P is not a gap, 31 is
}

TEST(Quality, ClipsToTheStreamsExtent) {
  // Task [0, 1000), stream [300, 690]: [lo, hi) = [300, 700), 40 expected.
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 1000, kPeriod10, 300, 690), Regular(300, 40)));
  EXPECT_EQ(IntField(f, "expected"), 40);
  EXPECT_EQ(DoubleField(f, "completeness"), 1.0);
  // The stream goes on past the task: hi = end.
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 1000, kPeriod10, 300, 5000), Regular(300, 70)));
  EXPECT_EQ(IntField(f, "expected"), 70);
  // The task ends exactly at latest + P.
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 700, kPeriod10, 0, 690), Regular(0, 70)));
  EXPECT_EQ(IntField(f, "expected"), 70);
  // The task lies after the stream's last point: nothing expected.
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(1000, 2000, kPeriod10, 0, 690), {}));
  EXPECT_EQ(IntField(f, "expected"), 0);
  EXPECT_EQ(DoubleField(f, "completeness"), 1.0);
}

TEST(Quality, UnknownExtentMeansNoClipping) {
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 1000, kPeriod10, 0, 0), Regular(300, 40)));
  EXPECT_EQ(IntField(f, "expected"), 100);
}

TEST(Quality, ExpectedRoundsHalvesAwayFromZero) {
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 25, kPeriod10), {}));
  EXPECT_EQ(IntField(f, "expected"), 3);  // 2.5
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 24, kPeriod10), {}));
  EXPECT_EQ(IntField(f, "expected"), 2);  // 2.4
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 15, {{"rate", 1e8}}), {}));
  EXPECT_EQ(IntField(f, "expected"), 2);  // 1.5 at P = 10 ns from a rate
}

TEST(Quality, PeriodFromRate) {
  // 30 Hz: P = 33333333.33 ns; one second holds 30, half a period rounds up.
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 1'000'000'000, {{"rate", int64_t{30}}}), {}));
  EXPECT_EQ(IntField(f, "expected"), 30);
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 50'000'000, {{"rate", int64_t{30}}}), {}));
  EXPECT_EQ(IntField(f, "expected"), 2);  // exactly 1.5 periods
  EXPECT_DOUBLE_EQ(DoubleField(f, "missing_seconds"), 2 * (1e9 / 30) / 1e9);
  // 12 h at 30 Hz, clipped to latest + P.
  const int64_t h12 = int64_t{12} * 3600 * 1'000'000'000;
  const int64_t latest = h12 - 33'333'334;  // the last slot of the chunk
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, h12, {{"rate", 30.0}}, 0, latest), {}));
  EXPECT_EQ(IntField(f, "expected"), 1'296'000);
  // A fractional rate.
  ASSERT_OK_AND_ASSIGN(f, RunQuality(Task(0, 100'000'000'000, {{"rate", "29.97"}}), {}));
  EXPECT_EQ(IntField(f, "expected"), 2997);
}

TEST(Quality, PeriodNsWinsOverRate) {
  ASSERT_OK_AND_ASSIGN(
      Fields f, RunQuality(Task(0, 1000, {{"rate", int64_t{30}}, {"period_ns", int64_t{100}}}), {}));
  EXPECT_EQ(IntField(f, "expected"), 10);
}

TEST(Quality, PeriodFromMedianInterval) {
  // Intervals 10, 10, 10, 40 (a gap), 10: median 10.
  const std::vector<RawPoint> points = {{0, 0}, {10, 1}, {20, 2}, {30, 3}, {70, 4}, {80, 5}};
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 100, {}, 0, 80), points));
  EXPECT_EQ(IntField(f, "expected"), 9);  // [0, 90)
  EXPECT_EQ(IntField(f, "gaps"), 1);
  EXPECT_DOUBLE_EQ(DoubleField(f, "missing_seconds"), 3 * 10 / 1e9);
}

TEST(Quality, MedianOfAnEvenNumberOfIntervalsIsTheMeanOfTheMiddleTwo) {
  // Intervals 10 and 20 (the duplicate adds no interval): P = 15, [0, 45) holds 3.
  const std::vector<RawPoint> points = {{0, 0}, {10, 1}, {10, 2}, {30, 3}};
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 100, {}, 0, 30), points));
  EXPECT_EQ(IntField(f, "expected"), 3);
  EXPECT_EQ(IntField(f, "gaps"), 0);  // 20 <= 2 * 15
  EXPECT_DOUBLE_EQ(DoubleField(f, "missing_seconds"), 0.0);
}

TEST(Quality, MedianOfManyDistinctIntervals) {
  // Jittery timestamps: 1000 intervals taking 101 distinct values 100..200, plus a long gap.
  std::vector<RawPoint> points;
  std::vector<int64_t> intervals;
  int64_t t = 0;
  for (int i = 0; i <= 1000; ++i) {
    points.push_back({t, static_cast<double>(i)});
    const int64_t dt = i == 500 ? 5000 : 100 + (i * 37) % 101;
    if (i < 1000) intervals.push_back(dt);
    t += dt;
  }
  std::sort(intervals.begin(), intervals.end());
  const int64_t p2 = intervals[499] + intervals[500];  // twice the median
  int64_t gaps = 0;
  for (const int64_t dt : intervals) gaps += dt > p2 ? 1 : 0;  // dt > 2 * P, P = p2 / 2
  const TaskSpec task = Task(0, t, {}, 0, points.back().time);
  ASSERT_OK_AND_ASSIGN(Fields all, RunQuality(task, points));
  ASSERT_OK_AND_ASSIGN(Fields ones, RunQuality(task, points, 1));
  ASSERT_OK_AND_ASSIGN(Fields sevens, RunQuality(task, points, 7));
  EXPECT_EQ(all, ones);
  EXPECT_EQ(all, sevens);
  EXPECT_EQ(IntField(all, "gaps"), gaps);
  EXPECT_EQ(gaps, 1);
  // [0, latest + P) / P, rounded: (2 * latest + p2) / p2 halves away from zero.
  const int64_t latest = points.back().time;
  EXPECT_EQ(IntField(all, "expected"), (2 * (2 * latest + p2) + p2) / (2 * p2));
}

TEST(Quality, OutOfRangeNeedsBounds) {
  const std::vector<RawPoint> points = {{0, -5}, {10, 0}, {20, 5}, {30, 10}, {40, 11}};
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 50, kPeriod10, 0, 40), points));
  EXPECT_EQ(IntField(f, "out_of_range"), 0);
  ASSERT_OK_AND_ASSIGN(
      f, RunQuality(Task(0, 50, {{"period_ns", int64_t{10}}, {"min", int64_t{0}}, {"max", 10.0}},
                         0, 40),
                    points));
  EXPECT_EQ(IntField(f, "out_of_range"), 2);  // bounds themselves are in range
  ASSERT_OK_AND_ASSIGN(
      f, RunQuality(Task(0, 50, {{"period_ns", int64_t{10}}, {"min", "1"}}, 0, 40), points));
  EXPECT_EQ(IntField(f, "out_of_range"), 2);
  EXPECT_DOUBLE_EQ(DoubleField(f, "score"), 1.0 - 2.0 / 5.0);
}

TEST(Quality, ScoreNeverGoesBelowZero) {
  // 4 points, all at one time, all one value: 3 duplicates + a stuck run of 4 > count.
  std::vector<RawPoint> points(4, RawPoint{0, 1.0});
  ASSERT_OK_AND_ASSIGN(
      Fields f, RunQuality(Task(0, 10, {{"period_ns", int64_t{10}}, {"stuck_min", int64_t{2}}},
                                0, 0),
                           points));
  EXPECT_EQ(DoubleField(f, "score"), 0.0);
}

TEST(Quality, MeanAndStddevAreStableFarFromZero) {
  std::vector<RawPoint> points;
  for (int i = 0; i < 10'000; ++i) points.push_back({i, 1e9 + (i % 2 == 0 ? 1 : -1)});
  ASSERT_OK_AND_ASSIGN(Fields f, RunQuality(Task(0, 10'000, {{"period_ns", int64_t{1}}}), points));
  EXPECT_EQ(DoubleField(f, "mean"), 1e9);
  EXPECT_EQ(DoubleField(f, "stddev"), 1.0);
}

// A series with every defect, long enough to cross the internal accumulation blocks.
std::vector<RawPoint> DirtySeries() {
  std::vector<RawPoint> points;
  int64_t t = 1'000;
  for (int i = 0; i < 20'000; ++i) {
    double v = 100 + std::sin(i * 0.01) * 10 + (i % 7) * 0.001;
    if (i % 1000 == 10) v = kNaN;
    if (i % 1500 == 20) v = -kInf;
    if (i % 900 == 30) v = 500;  // out of range
    if (i >= 5100 && i < 5112) v = 42;  // stuck run of 12
    if (i >= 9100 && i < 9109) v = 43;  // 9, not a stuck run
    points.push_back({t, v});
    if (i % 800 == 40) points.push_back({t, v + 1});  // duplicate
    t += (i % 2000 == 50) ? 75 : 10;                   // gaps of 7.5 P
    if (i % 3000 == 60) t += 15;                       // intervals of 2.5 P: gaps too
  }
  return points;
}

TEST(Quality, ResultsDoNotDependOnBatchBoundaries) {
  const std::vector<RawPoint> points = DirtySeries();
  const TaskSpec task = Task(0, 1'000'000, {{"period_ns", int64_t{10}}, {"min", 0.0}, {"max", 200.0}},
                             points.front().time, points.back().time);
  ASSERT_OK_AND_ASSIGN(Fields all, RunQuality(task, points));
  ASSERT_OK_AND_ASSIGN(Fields ones, RunQuality(task, points, 1));
  ASSERT_OK_AND_ASSIGN(Fields sevens, RunQuality(task, points, 7));
  ASSERT_OK_AND_ASSIGN(Fields odd, RunQuality(task, points, 4097));
  EXPECT_EQ(all, ones);
  EXPECT_EQ(all, sevens);
  EXPECT_EQ(all, odd);

  // And they match a direct count.
  EXPECT_EQ(IntField(all, "count"), static_cast<int64_t>(points.size()));
  EXPECT_EQ(IntField(all, "duplicates"), 25);
  EXPECT_EQ(IntField(all, "nonfinite"), 20 + 14);
  EXPECT_EQ(IntField(all, "gaps"), 10 + 7);
  EXPECT_EQ(IntField(all, "stuck_runs"), 1);
  EXPECT_EQ(IntField(all, "longest_stuck"), 12);
  double sum = 0;
  int64_t n = 0;
  int64_t out_of_range = 0;
  for (const RawPoint& p : points) {
    if (!std::isfinite(p.value)) continue;
    sum += p.value;
    ++n;
    out_of_range += p.value < 0 || p.value > 200;
  }
  const double mean = sum / static_cast<double>(n);
  double m2 = 0;
  for (const RawPoint& p : points) {
    if (std::isfinite(p.value)) m2 += (p.value - mean) * (p.value - mean);
  }
  EXPECT_EQ(IntField(all, "out_of_range"), out_of_range);
  EXPECT_NEAR(DoubleField(all, "mean"), mean, 1e-9);
  EXPECT_NEAR(DoubleField(all, "stddev"), std::sqrt(m2 / static_cast<double>(n)), 1e-9);
}

TEST(Quality, ResultsWithMedianPeriodDoNotDependOnBatchBoundaries) {
  const std::vector<RawPoint> points = DirtySeries();
  const TaskSpec task = Task(0, 1'000'000, {}, points.front().time, points.back().time);
  ASSERT_OK_AND_ASSIGN(Fields all, RunQuality(task, points));
  ASSERT_OK_AND_ASSIGN(Fields ones, RunQuality(task, points, 1));
  ASSERT_OK_AND_ASSIGN(Fields sevens, RunQuality(task, points, 7));
  EXPECT_EQ(all, ones);
  EXPECT_EQ(all, sevens);
  ASSERT_OK_AND_ASSIGN(Fields given, RunQuality(Task(0, 1'000'000, kPeriod10, points.front().time,
                                                     points.back().time),
                                                points));
  EXPECT_EQ(all, given);  // the median interval is the nominal 10 ns
}

TEST(Quality, PointsOutOfOrderAreAReaderBug) {
  const std::vector<RawPoint> points = {{0, 1}, {20, 2}, {10, 3}};
  const Result<Fields> r = RunQuality(Task(0, 100, kPeriod10), points);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Quality, ReaderErrorsPassThroughUnchanged) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> analytic, NewQuality(kPeriod10));
  VectorPointSource source(Regular(0, 100), 10);
  source.FailAfter(3, Status(StatusCode::kUnavailable, "btrdb went away", 503));
  RunCounters counters;
  const Result<Fields> r = analytic->Run(Task(0, 1000, kPeriod10), source, &counters);
  EXPECT_EQ(r.status(), Status(StatusCode::kUnavailable, "btrdb went away", 503));
  EXPECT_TRUE(r.status().IsTransient());
  EXPECT_EQ(counters.points_read, 30);
}

TEST(Quality, RejectsBadParams) {
  const std::vector<Fields> bad = {
      {{"rate", int64_t{0}}},
      {{"rate", -30.0}},
      {{"rate", "fast"}},
      {{"period_ns", int64_t{0}}},
      {{"period_ns", 1.5}},
      {{"gap_factor", 0.5}},
      {{"gap_factor", std::numeric_limits<double>::infinity()}},
      {{"stuck_min", int64_t{1}}},
      {{"min", int64_t{5}}, {"max", int64_t{4}}},
      {{"min", kNaN}},
      {{"gap_facter", 3.0}},
      {{"rate", int64_t{30}}, {"rate", int64_t{60}}},
  };
  for (const Fields& params : bad) {
    const Result<std::unique_ptr<Analytic>> r = NewQuality(params);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << FieldNames(params)[0];
    EXPECT_THAT(r.status().message(), ::testing::StartsWith("quality: param '"));
  }
}

TEST(Quality, AcceptsNumbersAsStrings) {
  ASSERT_OK_AND_ASSIGN(QualityOptions o,
                       ParseQualityOptions({{"rate", "30"},
                                            {"gap_factor", "2.5"},
                                            {"stuck_min", "12"},
                                            {"min", int64_t{-1}}}));
  EXPECT_EQ(o.rate_hz, 30.0);
  EXPECT_EQ(o.gap_factor, 2.5);
  EXPECT_EQ(o.stuck_min, 12);
  EXPECT_EQ(o.min, -1.0);
  EXPECT_FALSE(o.max.has_value());
}

}  // namespace
}  // namespace btrq::analytics
