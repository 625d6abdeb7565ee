#include "broker/job_expander.h"

#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;

std::vector<int64_t> Starts(const std::vector<Chunk>& chunks) {
  std::vector<int64_t> out;
  for (const Chunk& c : chunks) out.push_back(c.start);
  return out;
}

JobSpec Spec(int64_t chunk) {
  JobSpec s;
  s.collection = "c";
  s.analytic = "quality";
  s.chunk = chunk;
  return s;
}

// Lists and pins every stream, then drains all chunks.
std::vector<Chunk> ExpandAll(JobExpander& ex, FakeStreamCatalog& cat) {
  EXPECT_OK(ex.List(&cat));
  std::vector<uint32_t> pinned;
  EXPECT_OK(ex.PinAhead(&cat, 1000, 1000, true, &pinned));
  std::vector<Chunk> out;
  ex.NextChunks(1'000'000, {}, &out);
  EXPECT_TRUE(ex.finished());
  return out;
}

TEST(AlignDown, FloorsTowardsMinusInfinity) {
  EXPECT_EQ(AlignDown(0, 10), 0);
  EXPECT_EQ(AlignDown(9, 10), 0);
  EXPECT_EQ(AlignDown(10, 10), 10);
  EXPECT_EQ(AlignDown(-1, 10), -10);
  EXPECT_EQ(AlignDown(-10, 10), -10);
  EXPECT_EQ(AlignDown(-11, 10), -20);
  EXPECT_EQ(AlignDown(kMinTime, kDefaultChunkNs) <= kMinTime, true);
}

TEST(JobExpander, ChunksCoverEarliestToLatestAlignedToTheEpochIncludingNegativeTimes) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), -25, 14);
  JobSpec spec = Spec(10);
  JobExpander ex(1, &spec);
  const std::vector<Chunk> chunks = ExpandAll(ex, cat);
  EXPECT_EQ(Starts(chunks), (std::vector<int64_t>{-30, -20, -10, 0, 10}));
  EXPECT_EQ(chunks.back().end, 20);  // ends after the latest point
  EXPECT_EQ(ex.total_known(), 5u);
}

TEST(JobExpander, LatestOnABoundaryGetsItsOwnChunk) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 20);
  JobSpec spec = Spec(10);
  JobExpander ex(1, &spec);
  EXPECT_EQ(Starts(ExpandAll(ex, cat)), (std::vector<int64_t>{0, 10, 20}));
}

TEST(JobExpander, ExplicitStartAndEndClipToTheDataAndEndIsExclusive) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), -100, 1000);
  JobSpec spec = Spec(10);
  spec.start = -5;
  spec.end = 30;  // the last chunk is the one containing 29
  JobExpander ex(1, &spec);
  EXPECT_EQ(Starts(ExpandAll(ex, cat)), (std::vector<int64_t>{-10, 0, 10, 20}));

  JobSpec spec2 = Spec(10);
  spec2.start = -1000;  // before the data: the first chunk holds the earliest point
  spec2.end = 31;
  JobExpander ex2(1, &spec2);
  EXPECT_EQ(Starts(ExpandAll(ex2, cat)), (std::vector<int64_t>{-100, -90, -80, -70, -60, -50, -40,
                                                               -30, -20, -10, 0, 10, 20, 30}));
}

TEST(JobExpander, EmptyStreamsAndRangesOutsideTheDataHaveNoChunks) {
  FakeStreamCatalog cat;
  cat.AddEmptyStream(TestUuid(1));
  cat.AddStream(TestUuid(2), 100, 200);
  JobSpec spec = Spec(10);
  spec.end = 50;
  JobExpander ex(1, &spec);
  EXPECT_TRUE(ExpandAll(ex, cat).empty());
  EXPECT_TRUE(ex.all_pinned());
  EXPECT_EQ(ex.total_known(), 0u);
}

TEST(JobExpander, StreamsInOrderWithoutDuplicates) {
  FakeStreamCatalog cat;
  JobSpec spec = Spec(10);
  spec.streams = {TestUuid(2), TestUuid(1), TestUuid(2)};
  cat.AddStream(TestUuid(1), 0, 9);
  cat.AddStream(TestUuid(2), 0, 19);
  JobExpander ex(1, &spec);
  const std::vector<Chunk> chunks = ExpandAll(ex, cat);
  EXPECT_EQ(cat.list_calls(), 0);  // explicit streams: no lookup
  ASSERT_EQ(ex.streams().size(), 2u);
  EXPECT_EQ(ex.streams()[0], TestUuid(2));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].stream_index, 0u);
  EXPECT_EQ(chunks[2].stream_index, 1u);
}

TEST(JobExpander, PinsLazilyAheadOfTheCursorAndStopsAtAnUnpinnedStream) {
  FakeStreamCatalog cat;
  for (uint32_t i = 0; i < 5; ++i) cat.AddStream(TestUuid(i), 0, 29);
  JobSpec spec = Spec(10);
  JobExpander ex(1, &spec);
  ASSERT_OK(ex.List(&cat));
  std::vector<uint32_t> pinned;
  ASSERT_OK(ex.PinAhead(&cat, 10, /*lookahead=*/2, true, &pinned));
  EXPECT_EQ(pinned, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(cat.pin_calls(), 2);
  std::vector<Chunk> out;
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 6u);  // two streams of three chunks
  EXPECT_TRUE(ex.blocked_on_pin());
  EXPECT_FALSE(ex.finished());
  EXPECT_EQ(ex.total_known(), 6u);
  EXPECT_FALSE(ex.all_pinned());
}

TEST(JobExpander, APinNotYetUsableHoldsTheCursor) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 29);
  JobSpec spec = Spec(10);
  JobExpander ex(1, &spec);
  ASSERT_OK(ex.List(&cat));
  std::vector<uint32_t> pinned;
  ASSERT_OK(ex.PinAhead(&cat, 1, 1, /*usable=*/false, &pinned));
  std::vector<Chunk> out;
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 0u);
  ex.MarkPinUsable(0);
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 3u);
}

TEST(JobExpander, TenMillionChunksAreNeverMaterialisedBeyondWhatIsAsked) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 10'000'000 - 1);
  JobSpec spec = Spec(1);
  JobExpander ex(1, &spec);
  ASSERT_OK(ex.List(&cat));
  std::vector<uint32_t> pinned;
  ASSERT_OK(ex.PinAhead(&cat, 1, 1, true, &pinned));
  EXPECT_EQ(ex.total_known(), 10'000'000u);
  std::vector<Chunk> out;
  EXPECT_EQ(ex.NextChunks(1000, {}, &out), 1000u);
  EXPECT_EQ(out.size(), 1000u);
  EXPECT_EQ(ex.cursor().next_start, 1000);
}

TEST(JobExpander, ResumesFromACursorAndSkipsResolvedChunks) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 99);
  cat.AddStream(TestUuid(2), 0, 49);
  JobSpec spec = Spec(10);
  JobExpander a(1, &spec);
  ASSERT_OK(a.List(&cat));
  std::vector<uint32_t> pinned;
  ASSERT_OK(a.PinAhead(&cat, 2, 2, true, &pinned));
  std::vector<Chunk> first;
  a.NextChunks(7, {}, &first);
  const ExpansionCursor saved = a.cursor();

  // A second expander from the same streams, pins and cursor continues identically.
  JobExpander b(1, &spec);
  b.SetStreams(a.streams());
  b.SetPin(0, a.pin(0), true);
  b.SetPin(1, a.pin(1), true);
  b.Seek(saved);
  std::vector<Chunk> rest_a;
  std::vector<Chunk> rest_b;
  a.NextChunks(100, {}, &rest_a);
  b.NextChunks(100, {}, &rest_b);
  EXPECT_EQ(Starts(rest_a), Starts(rest_b));
  EXPECT_EQ(rest_b.size(), 8u);

  // From the start, skipping [0, 50) of stream 0 and [20, 30) of stream 1.
  JobExpander c(1, &spec);
  c.SetStreams(a.streams());
  c.SetPin(0, a.pin(0), true);
  c.SetPin(1, a.pin(1), true);
  std::vector<Chunk> skipped;
  c.NextChunks(100, [](uint32_t s, int64_t t) -> int64_t {
    if (s == 0 && t < 50) return 50;
    if (s == 1 && t == 20) return 30;
    return t;
  }, &skipped);
  EXPECT_EQ(Starts(skipped), (std::vector<int64_t>{50, 60, 70, 80, 90, 0, 10, 30, 40}));
}

TEST(JobExpander, TaskCarriesThePinAnalyticAndParams) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 5, 95, /*version=*/44);
  JobSpec spec = Spec(10);
  spec.params = {{"rate", 120.0}, {"stuck_min", int64_t{10}}};
  spec.versions[TestUuid(1)] = 40;  // pinned by the job
  JobExpander ex(9, &spec);
  ExpandAll(ex, cat);
  const TaskSpec t = ex.MakeTask(0, 10, 2);
  EXPECT_EQ(t.key.job, 9u);
  EXPECT_EQ(t.key.stream, TestUuid(1));
  EXPECT_EQ(t.key.start, 10);
  EXPECT_EQ(t.end, 20);
  EXPECT_EQ(t.attempt, 2u);
  EXPECT_EQ(t.version, 40u);
  EXPECT_EQ(t.stream_earliest, 5);
  EXPECT_EQ(t.stream_latest, 95);
  EXPECT_EQ(t.analytic, "quality");
  EXPECT_EQ(t.params, spec.params);
}

TEST(JobExpander, ListingErrorsComeBackWithContext) {
  FakeStreamCatalog cat;
  cat.FailListing(Status::Unavailable("btrdb down"));
  JobSpec spec = Spec(10);
  JobExpander ex(1, &spec);
  const Status s = ex.List(&cat);
  EXPECT_TRUE(s.IsTransient());
  EXPECT_FALSE(ex.listed());
  EXPECT_OK(ex.List(&cat));
}

}  // namespace
}  // namespace btrq::broker
