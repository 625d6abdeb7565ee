#include "lite/stream_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/status.h"

namespace btrq::lite {
namespace {

using ::testing::ElementsAre;

std::vector<Point> ReadAll(const std::shared_ptr<const StreamData>& d, int64_t start, int64_t end,
                           uint64_t version = 0) {
  StreamData::Cursor c(d, start, end, version == 0 ? d->version() : version);
  std::vector<Point> out;
  Point buf[7];  // odd batch size exercises batch boundaries
  while (size_t n = c.Next(buf, 7)) out.insert(out.end(), buf, buf + n);
  return out;
}

std::vector<Point> Ramp(int64_t t0, int64_t step, size_t n, double v0 = 0) {
  std::vector<Point> p;
  for (size_t i = 0; i < n; ++i) p.push_back({t0 + static_cast<int64_t>(i) * step, v0 + static_cast<double>(i)});
  return p;
}

std::vector<StatWindow> Collect(const StreamData& d, int64_t start, uint64_t width, uint64_t n, bool empty) {
  std::vector<StatWindow> out;
  d.Windows(start, width, n, empty, d.version(), [&](const StatWindow& w) {
    out.push_back(w);
    return true;
  });
  return out;
}

TEST(StreamData, NewStreamIsEmptyAtVersionTen) {
  auto d = StreamData::Empty();
  EXPECT_EQ(d->version(), kFirstVersion);
  EXPECT_TRUE(ReadAll(d, kMinTime, kMaxTime).empty());
  Point p;
  EXPECT_FALSE(d->Nearest(0, false, d->version(), &p));
}

TEST(StreamData, EveryWriteMakesANewVersionAndOldVersionsStayReadable) {
  auto v10 = StreamData::Empty();
  auto v11 = v10->Insert({{1, 1.0}, {3, 3.0}}, MergePolicy::kNever);
  auto v12 = v11->Insert({{2, 2.0}}, MergePolicy::kNever);
  auto v13 = v12->Delete(1, 2);
  EXPECT_EQ(v11->version(), 11u);
  EXPECT_EQ(v13->version(), 13u);
  EXPECT_THAT(ReadAll(v13, 0, 10), ElementsAre(Point{2, 2.0}, Point{3, 3.0}));
  // The newest StreamData answers for every older version.
  EXPECT_THAT(ReadAll(v13, 0, 10, 12), ElementsAre(Point{1, 1.0}, Point{2, 2.0}, Point{3, 3.0}));
  EXPECT_THAT(ReadAll(v13, 0, 10, 11), ElementsAre(Point{1, 1.0}, Point{3, 3.0}));
  EXPECT_TRUE(ReadAll(v13, 0, 10, 10).empty());
  // Old snapshots are untouched.
  EXPECT_THAT(ReadAll(v11, 0, 10), ElementsAre(Point{1, 1.0}, Point{3, 3.0}));
}

TEST(StreamData, RawRangeIsHalfOpenAndUnsortedInputIsSorted) {
  auto d = StreamData::Empty()->Insert({{5, 5}, {1, 1}, {3, 3}, {9, 9}}, MergePolicy::kNever);
  EXPECT_THAT(ReadAll(d, 1, 9), ElementsAre(Point{1, 1}, Point{3, 3}, Point{5, 5}));
}

TEST(StreamData, NeverKeepsDuplicatesInInsertionOrder) {
  auto d = StreamData::Empty()->Insert({{1, 1}, {1, 2}}, MergePolicy::kNever);
  d = d->Insert({{1, 3}}, MergePolicy::kNever);
  EXPECT_THAT(ReadAll(d, 0, 5), ElementsAre(Point{1, 1}, Point{1, 2}, Point{1, 3}));
}

TEST(StreamData, EqualDropsExistingTimeValuePairs) {
  auto d = StreamData::Empty()->Insert({{1, 1}, {2, 2}}, MergePolicy::kNever);
  d = d->Insert({{1, 1}, {2, 5}, {3, 3}, {3, 3}}, MergePolicy::kEqual);
  EXPECT_THAT(ReadAll(d, 0, 5), ElementsAre(Point{1, 1}, Point{2, 2}, Point{2, 5}, Point{3, 3}));
}

TEST(StreamData, RetainKeepsTheOldValue) {
  auto d = StreamData::Empty()->Insert({{1, 1}, {2, 2}}, MergePolicy::kNever);
  d = d->Insert({{1, 10}, {3, 30}}, MergePolicy::kRetain);
  EXPECT_THAT(ReadAll(d, 0, 5), ElementsAre(Point{1, 1}, Point{2, 2}, Point{3, 30}));
}

TEST(StreamData, ReplaceKeepsTheNewValueAndTheOldVersionStillHasTheOld) {
  auto d = StreamData::Empty()->Insert({{1, 1}, {1, 1.5}, {2, 2}}, MergePolicy::kNever);
  d = d->Insert({{1, 10}, {3, 30}}, MergePolicy::kReplace);
  EXPECT_THAT(ReadAll(d, 0, 5), ElementsAre(Point{1, 10}, Point{2, 2}, Point{3, 30}));
  EXPECT_THAT(ReadAll(d, 0, 5, 11), ElementsAre(Point{1, 1}, Point{1, 1.5}, Point{2, 2}));
}

TEST(StreamData, NearestForwardIsInclusiveBackwardIsStrict) {
  auto d = StreamData::Empty()->Insert({{10, 1}, {20, 2}, {30, 3}}, MergePolicy::kNever);
  Point p;
  ASSERT_TRUE(d->Nearest(20, false, d->version(), &p));
  EXPECT_EQ(p, (Point{20, 2}));
  ASSERT_TRUE(d->Nearest(20, true, d->version(), &p));
  EXPECT_EQ(p, (Point{10, 1}));
  EXPECT_FALSE(d->Nearest(10, true, d->version(), &p));
  EXPECT_FALSE(d->Nearest(31, false, d->version(), &p));
  d = d->Delete(20, 31);
  ASSERT_TRUE(d->Nearest(kMaxTime - 1, true, d->version(), &p));
  EXPECT_EQ(p, (Point{10, 1}));
  ASSERT_TRUE(d->Nearest(kMaxTime - 1, true, 11, &p));
  EXPECT_EQ(p, (Point{30, 3}));
}

TEST(StreamData, ManySmallAppendsStayFewSegmentsAndReadBackExactly) {
  auto d = StreamData::Empty();
  std::vector<Point> expected;
  for (int i = 0; i < 2000; ++i) {
    auto batch = Ramp(i * 100, 1, 100, i * 100.0);
    expected.insert(expected.end(), batch.begin(), batch.end());
    d = d->Insert(batch, MergePolicy::kNever);
  }
  EXPECT_EQ(ReadAll(d, kMinTime, kMaxTime), expected);
  // 200,000 points: at most a handful of partial segments beyond the full ones.
  EXPECT_LE(d->segment_count(), 200000 / kMaxSegmentPoints + 2 * 12);
  // Any intermediate version still reads exactly its prefix.
  auto v500 = ReadAll(d, kMinTime, kMaxTime, kFirstVersion + 500);
  EXPECT_EQ(v500, std::vector<Point>(expected.begin(), expected.begin() + 50000));
}

TEST(StreamData, RandomInsertsMatchAModel) {
  std::mt19937_64 rng(7);
  auto d = StreamData::Empty();
  std::vector<Point> model;
  for (int round = 0; round < 60; ++round) {
    std::vector<Point> batch;
    const int n = 1 + static_cast<int>(rng() % 3000);
    for (int i = 0; i < n; ++i) batch.push_back({static_cast<int64_t>(rng() % 200000), static_cast<double>(rng() % 1000)});
    d = d->Insert(batch, MergePolicy::kNever);
    std::stable_sort(batch.begin(), batch.end(), [](auto& a, auto& b) { return a.time < b.time; });
    std::vector<Point> merged;
    std::merge(model.begin(), model.end(), batch.begin(), batch.end(), std::back_inserter(merged),
               [](auto& a, auto& b) { return a.time < b.time; });
    model = merged;
    if (round % 10 == 9) {
      const int64_t a = static_cast<int64_t>(rng() % 200000);
      d = d->Delete(a, a + 5000);
      std::erase_if(model, [&](const Point& p) { return p.time >= a && p.time < a + 5000; });
    }
  }
  EXPECT_EQ(ReadAll(d, kMinTime, kMaxTime), model);
  for (size_t i = 1; i < d->segments().size(); ++i) {
    EXPECT_LT(d->segments()[i - 1].max_time(), d->segments()[i].min_time()) << "segments overlap";
  }
}

TEST(StreamData, WindowsReportEmptyWindowsAndStatistics) {
  auto d = StreamData::Empty()->Insert({{0, 1}, {1, 3}, {25, 10}}, MergePolicy::kNever);
  auto w = Collect(*d, 0, 10, 3, true);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].time, 0);
  EXPECT_EQ(w[0].count, 2u);
  EXPECT_DOUBLE_EQ(w[0].min, 1);
  EXPECT_DOUBLE_EQ(w[0].mean, 2);
  EXPECT_DOUBLE_EQ(w[0].max, 3);
  EXPECT_DOUBLE_EQ(w[0].stddev, 1);  // population
  EXPECT_EQ(w[1].count, 0u);
  EXPECT_EQ(w[2].time, 20);
  EXPECT_EQ(w[2].count, 1u);
  auto nonempty = Collect(*d, 0, 10, 3, false);
  ASSERT_EQ(nonempty.size(), 2u);
  EXPECT_EQ(nonempty[1].time, 20);
}

TEST(StreamData, WindowStatisticsMatchDirectComputationAcrossSegments) {
  std::mt19937_64 rng(3);
  auto d = StreamData::Empty();
  std::vector<Point> all;
  for (int b = 0; b < 5; ++b) {
    auto batch = Ramp(b * 50000, 1, 50000);
    for (auto& p : batch) p.value = static_cast<double>(rng() % 1000) / 7.0;
    all.insert(all.end(), batch.begin(), batch.end());
    d = d->Insert(batch, MergePolicy::kNever);
  }
  // One window over everything uses segment summaries; compare with a direct computation.
  auto w = Collect(*d, -1000, 1u << 20, 1, false);
  ASSERT_EQ(w.size(), 1u);
  double sum = 0;
  for (auto& p : all) sum += p.value;
  const double mean = sum / static_cast<double>(all.size());
  double ss = 0;
  for (auto& p : all) ss += (p.value - mean) * (p.value - mean);
  EXPECT_EQ(w[0].count, all.size());
  EXPECT_NEAR(w[0].mean, mean, 1e-9);
  EXPECT_NEAR(w[0].stddev, std::sqrt(ss / static_cast<double>(all.size())), 1e-9);
}

TEST(StreamData, WindowsAtAnOldVersionIgnoreLaterPoints) {
  auto d = StreamData::Empty()->Insert({{0, 1}}, MergePolicy::kNever)->Insert({{1, 100}}, MergePolicy::kNever);
  std::vector<StatWindow> out;
  d->Windows(0, 10, 1, false, 11, [&](const StatWindow& w) {
    out.push_back(w);
    return true;
  });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].count, 1u);
  EXPECT_DOUBLE_EQ(out[0].max, 1);
}

TEST(StreamData, AlignDownFloorsNegativeTimes) {
  EXPECT_EQ(AlignDown(17, 4), 16);
  EXPECT_EQ(AlignDown(-1, 4), -16);
  EXPECT_EQ(AlignDown(kMinTime, 62), -(int64_t{1} << 62));
  EXPECT_EQ(AlignDown(5, 0), 5);
}

TEST(StreamData, ChangesAreCoalescedAndAlignedToResolution) {
  auto d = StreamData::Empty()->Insert({{100, 1}, {101, 1}}, MergePolicy::kNever);  // v11
  d = d->Insert({{1000, 1}}, MergePolicy::kNever);                                    // v12
  d = d->Delete(100, 101);                                                              // v13
  EXPECT_THAT(d->Changes(10, 11, 0), ElementsAre(TimeRange{100, 102}));
  EXPECT_THAT(d->Changes(11, 13, 0), ElementsAre(TimeRange{100, 101}, TimeRange{1000, 1001}));
  EXPECT_THAT(d->Changes(10, 13, 4), ElementsAre(TimeRange{96, 112}, TimeRange{992, 1008}));
  EXPECT_THAT(d->Changes(10, 13, 10), ElementsAre(TimeRange{0, 1024}));
  EXPECT_TRUE(d->Changes(13, 13, 0).empty());
}

TEST(StreamData, ChangesOfABigSparseWriteAreCoarsenedNotDropped) {
  std::vector<Point> pts;
  for (int i = 0; i < 1000; ++i) pts.push_back({int64_t{i} * 1000000, 1});
  auto d = StreamData::Empty()->Insert(pts, MergePolicy::kNever);
  auto ranges = d->Changes(10, 11, 0);
  ASSERT_FALSE(ranges.empty());
  EXPECT_LE(ranges.size(), 256u);
  EXPECT_LE(ranges.front().start, 0);
  EXPECT_GT(ranges.back().end, 999000000);
}

TEST(StreamData, EncodeDecodeRoundTripsEveryVersion) {
  auto d = StreamData::Empty()->Insert(Ramp(0, 10, 1000), MergePolicy::kNever);
  d = d->Insert({{55, 7}}, MergePolicy::kReplace);
  d = d->Delete(100, 200);
  std::string blob;
  d->EncodeTo(&blob);
  auto back = StreamData::DecodeFrom(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->version(), d->version());
  for (uint64_t v = kFirstVersion; v <= d->version(); ++v) {
    EXPECT_EQ(ReadAll(*back, kMinTime, kMaxTime, v), ReadAll(d, kMinTime, kMaxTime, v)) << "version " << v;
  }
  EXPECT_EQ((*back)->Changes(10, 13, 0), d->Changes(10, 13, 0));
  EXPECT_FALSE(StreamData::DecodeFrom(blob.substr(0, blob.size() - 3)).ok());
}

}  // namespace
}  // namespace btrq::lite
