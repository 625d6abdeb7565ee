#include "analytics/stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
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

TaskSpec Task(int64_t start, int64_t end, Fields params) {
  TaskSpec task;
  task.key.start = start;
  task.end = end;
  task.analytic = "stats";
  task.params = std::move(params);
  return task;
}

// 200 points at times 0, 5, 10, ... with a slowly varying value and a hole in [300, 600).
std::vector<RawPoint> Series() {
  std::vector<RawPoint> points;
  for (int i = 0; i < 200; ++i) {
    const int64_t t = 5 * i;
    if (t >= 300 && t < 600) continue;
    points.push_back({t, 1000 + std::sin(i * 0.3) * 7 + i * 0.01});
  }
  return points;
}

struct Direct {
  int64_t count = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
};

Direct DirectStats(const std::vector<RawPoint>& points, int64_t start, int64_t end) {
  Direct d;
  double sum = 0;
  for (const RawPoint& p : points) {
    if (p.time < start || p.time >= end) continue;
    d.min = d.count == 0 ? p.value : std::min(d.min, p.value);
    d.max = d.count == 0 ? p.value : std::max(d.max, p.value);
    sum += p.value;
    ++d.count;
  }
  d.mean = sum / static_cast<double>(d.count);
  double m2 = 0;
  for (const RawPoint& p : points) {
    if (p.time >= start && p.time < end) m2 += (p.value - d.mean) * (p.value - d.mean);
  }
  d.stddev = std::sqrt(m2 / static_cast<double>(d.count));
  return d;
}

Result<Fields> RunStats(const TaskSpec& task, VectorPointSource* source, RunCounters* counters) {
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Analytic> analytic, NewStats(task.params));
  return analytic->Run(task, *source, counters);
}

void ExpectMatches(const Fields& f, const Direct& d) {
  EXPECT_EQ(IntField(f, "count"), d.count);
  EXPECT_EQ(DoubleField(f, "min"), d.min);
  EXPECT_EQ(DoubleField(f, "max"), d.max);
  EXPECT_NEAR(DoubleField(f, "mean"), d.mean, 1e-9);
  EXPECT_NEAR(DoubleField(f, "stddev"), d.stddev, 1e-9);
}

TEST(Stats, CombinesWindowsIntoTheRangesStatistics) {
  VectorPointSource source(Series(), 3);
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(0, 1000, {{"window", "100ns"}}), &source, &counters));
  EXPECT_THAT(FieldNames(f), ::testing::ElementsAre("count", "windows", "window_ns", "min", "max",
                                                    "mean", "stddev"));
  ExpectMatches(f, DirectStats(Series(), 0, 1000));
  EXPECT_EQ(IntField(f, "windows"), 7);  // 10 windows, 3 of them empty
  EXPECT_EQ(IntField(f, "window_ns"), 100);
  EXPECT_EQ(counters.windows_read, 10);
  EXPECT_EQ(counters.points_read, 0);
  EXPECT_EQ(source.raw_reads(), 0);
}

TEST(Stats, WindowAsIntegerNanoseconds) {
  VectorPointSource source(Series());
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(0, 1000, {{"window", int64_t{250}}}), &source,
                                          &counters));
  ExpectMatches(f, DirectStats(Series(), 0, 1000));
  EXPECT_EQ(IntField(f, "windows"), 4);  // [0,250) [250,500) [500,750) [750,1000)
}

TEST(Stats, PartialLastWindowIsNotCovered) {
  VectorPointSource source(Series());
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(0, 1000, {{"window", int64_t{300}}}), &source,
                                          &counters));
  ExpectMatches(f, DirectStats(Series(), 0, 900));
}

TEST(Stats, AlignedWindowsFromPointwidth) {
  VectorPointSource source(Series(), 2);
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(0, 1024, {{"pointwidth", int64_t{6}}}), &source,
                                          &counters));
  ExpectMatches(f, DirectStats(Series(), 0, 1024));
  EXPECT_EQ(IntField(f, "window_ns"), 64);
  EXPECT_EQ(source.raw_reads(), 0);
  EXPECT_EQ(source.window_reads(), 1);
}

TEST(Stats, DefaultIsOneWindowOverTheWholeRange) {
  VectorPointSource source(Series());
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(100, 800, {}), &source, &counters));
  ExpectMatches(f, DirectStats(Series(), 100, 800));
  EXPECT_EQ(IntField(f, "windows"), 1);
  EXPECT_EQ(IntField(f, "window_ns"), 700);
}

TEST(Stats, EmptyRangeHasCountsOnly) {
  VectorPointSource source(Series());
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(300, 600, {{"window", "50ns"}}), &source, &counters));
  EXPECT_THAT(FieldNames(f), ::testing::ElementsAre("count", "windows", "window_ns"));
  EXPECT_EQ(IntField(f, "count"), 0);
  EXPECT_EQ(IntField(f, "windows"), 0);
}

TEST(Stats, SinglePointWindowsHaveZeroSpread) {
  VectorPointSource source({{0, 2.0}, {10, 4.0}});
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, RunStats(Task(0, 20, {{"window", int64_t{10}}}), &source,
                                          &counters));
  EXPECT_EQ(DoubleField(f, "mean"), 3.0);
  EXPECT_EQ(DoubleField(f, "stddev"), 1.0);
}

TEST(Stats, ReaderErrorsPassThroughUnchanged) {
  VectorPointSource source(Series(), 1);
  source.FailAfter(2, Status::DeadlineExceeded("slow btrdb"));
  RunCounters counters;
  const Result<Fields> r = RunStats(Task(0, 1000, {{"window", int64_t{100}}}), &source, &counters);
  EXPECT_EQ(r.status(), Status::DeadlineExceeded("slow btrdb"));
  EXPECT_EQ(counters.windows_read, 2);
}

TEST(Stats, RejectsBadParams) {
  const std::vector<Fields> bad = {
      {{"pointwidth", int64_t{64}}},
      {{"pointwidth", int64_t{-1}}},
      {{"window", "soon"}},
      {{"window", int64_t{0}}},
      {{"window", int64_t{-5}}},
      {{"window", 1.5}},
      {{"window", "1h"}, {"pointwidth", int64_t{30}}},
      {{"windows", "1h"}},
  };
  for (const Fields& params : bad) {
    EXPECT_EQ(NewStats(params).status().code(), StatusCode::kInvalidArgument)
        << FieldNames(params)[0];
  }
  EXPECT_OK(NewStats({{"window", "1h30m"}}));
  EXPECT_OK(NewStats({{"pointwidth", "38"}}));
  EXPECT_OK(NewStats({{"rate", int64_t{30}}}));  // a context param, ignored
}

}  // namespace
}  // namespace btrq::analytics
