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

// Lists the job's streams from the catalog's answer, as the scheduler does.
void List(JobExpander& ex, FakeStreamCatalog& cat) {
  if (!ex.lists_from_catalog()) {
    ex.List({});
    return;
  }
  Result<std::vector<StreamRef>> found = cat.ListStreams(JobSpec());
  ASSERT_OK(found);
  ex.List(*found);
}

// Requests pins and hands the catalog's answers back, as the scheduler does; returns the
// streams pinned.
std::vector<uint32_t> PinAhead(JobExpander& ex, FakeStreamCatalog& cat, size_t max_pins,
                               size_t lookahead, bool usable) {
  const std::vector<uint32_t> asked = ex.RequestPins(max_pins, lookahead);
  for (uint32_t i : asked) {
    Result<StreamPin> pin = cat.PinStream(ex.streams()[i], ex.RequestedVersion(i));
    EXPECT_OK(pin);
    if (pin.ok()) ex.SetPin(i, *pin, usable);
  }
  return asked;
}

// Lists and pins every stream, then drains all chunks.
std::vector<Chunk> ExpandAll(JobExpander& ex, FakeStreamCatalog& cat) {
  List(ex, cat);
  PinAhead(ex, cat, 1000, 1000, true);
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
  JobExpander ex(1, /*nonce=*/0, &spec);
  const std::vector<Chunk> chunks = ExpandAll(ex, cat);
  EXPECT_EQ(Starts(chunks), (std::vector<int64_t>{-30, -20, -10, 0, 10}));
  EXPECT_EQ(chunks.back().end, 20);  // ends after the latest point
  EXPECT_EQ(ex.total_known(), 5u);
}

TEST(JobExpander, LatestOnABoundaryGetsItsOwnChunk) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 20);
  JobSpec spec = Spec(10);
  JobExpander ex(1, /*nonce=*/0, &spec);
  EXPECT_EQ(Starts(ExpandAll(ex, cat)), (std::vector<int64_t>{0, 10, 20}));
}

TEST(JobExpander, ExplicitStartAndEndClipToTheDataAndEndIsExclusive) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), -100, 1000);
  JobSpec spec = Spec(10);
  spec.start = -5;
  spec.end = 30;  // the last chunk is the one containing 29
  JobExpander ex(1, /*nonce=*/0, &spec);
  EXPECT_EQ(Starts(ExpandAll(ex, cat)), (std::vector<int64_t>{-10, 0, 10, 20}));

  JobSpec spec2 = Spec(10);
  spec2.start = -1000;  // before the data: the first chunk holds the earliest point
  spec2.end = 31;
  JobExpander ex2(1, /*nonce=*/0, &spec2);
  EXPECT_EQ(Starts(ExpandAll(ex2, cat)), (std::vector<int64_t>{-100, -90, -80, -70, -60, -50, -40,
                                                               -30, -20, -10, 0, 10, 20, 30}));
}

TEST(JobExpander, EmptyStreamsAndRangesOutsideTheDataHaveNoChunks) {
  FakeStreamCatalog cat;
  cat.AddEmptyStream(TestUuid(1));
  cat.AddStream(TestUuid(2), 100, 200);
  JobSpec spec = Spec(10);
  spec.end = 50;
  JobExpander ex(1, /*nonce=*/0, &spec);
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
  JobExpander ex(1, /*nonce=*/0, &spec);
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
  JobExpander ex(1, /*nonce=*/0, &spec);
  List(ex, cat);
  const std::vector<uint32_t> pinned = PinAhead(ex, cat, 10, /*lookahead=*/2, true);
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
  JobExpander ex(1, /*nonce=*/0, &spec);
  List(ex, cat);
  const std::vector<uint32_t> pinned = PinAhead(ex, cat, 1, 1, /*usable=*/false);
  std::vector<Chunk> out;
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 0u);
  ex.MarkPinUsable(0);
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 3u);
}

TEST(JobExpander, TenMillionChunksAreNeverMaterialisedBeyondWhatIsAsked) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 10'000'000 - 1);
  JobSpec spec = Spec(1);
  JobExpander ex(1, /*nonce=*/0, &spec);
  List(ex, cat);
  const std::vector<uint32_t> pinned = PinAhead(ex, cat, 1, 1, true);
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
  JobExpander a(1, /*nonce=*/0, &spec);
  List(a, cat);
  const std::vector<uint32_t> pinned = PinAhead(a, cat, 2, 2, true);
  std::vector<Chunk> first;
  a.NextChunks(7, {}, &first);
  const ExpansionCursor saved = a.cursor();

  // A second expander from the same streams, pins and cursor continues identically.
  JobExpander b(1, /*nonce=*/0, &spec);
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
  JobExpander c(1, /*nonce=*/0, &spec);
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
  JobExpander ex(9, /*nonce=*/0x5eed, &spec);
  ExpandAll(ex, cat);
  const TaskSpec t = ex.MakeTask(0, 10, 2);
  EXPECT_EQ(t.key.job, 9u);
  EXPECT_EQ(t.key.nonce, 0x5eedu);
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

TEST(JobExpander, TaskCarriesThePinnedStreamParamsButTheJobsParamsWin) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 29);
  cat.SetParams(TestUuid(1), {{"rate", 50.0}, {"min", -1.0}, {"max", 1.0}});
  JobSpec spec = Spec(10);
  spec.params = {{"max", 2.0}, {"stuck_min", int64_t{10}}};
  JobExpander ex(1, /*nonce=*/0, &spec);
  ExpandAll(ex, cat);
  const TaskSpec t = ex.MakeTask(0, 10, 1);
  const Fields want = {{"max", 2.0}, {"stuck_min", int64_t{10}}, {"rate", 50.0}, {"min", -1.0}};
  EXPECT_EQ(t.params, want);
}

TEST(JobExpander, APinWithoutParamsIsNeverUsableAndIsAskedForAgainAtItsVersion) {
  // A pin replayed from a journal that predates pinned params.
  JobSpec spec = Spec(10);
  JobExpander ex(1, /*nonce=*/0, &spec);
  ex.SetStreams({TestUuid(1)});
  StreamPin old{44, 0, 29, true};
  old.params_pinned = false;
  ex.SetPin(0, old, /*usable=*/true);
  ex.MarkPinUsable(0);
  std::vector<Chunk> out;
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 0u);
  EXPECT_TRUE(ex.blocked_on_pin());
  EXPECT_TRUE(ex.all_pinned());
  EXPECT_FALSE(ex.pins_complete());

  EXPECT_EQ(ex.RequestPins(10, 10), (std::vector<uint32_t>{0}));
  EXPECT_EQ(ex.RequestPins(10, 10), (std::vector<uint32_t>{}));  // already asked
  EXPECT_EQ(ex.RequestedVersion(0), 44u);
  // The answer brings params (and, say, a stream that grew since): only the params count.
  StreamPin answer{44, 0, 99, true};
  answer.params = {{"rate", 5.0}};
  const StreamPin& now = ex.SetPin(0, answer, /*usable=*/false);
  EXPECT_EQ(now.latest, 29);
  EXPECT_TRUE(now.params_pinned);
  EXPECT_EQ(now.params, answer.params);
  EXPECT_EQ(ex.total_known(), 3u);
  EXPECT_EQ(ex.pins_requested(), 0u);
  EXPECT_TRUE(ex.pins_complete());
  ex.MarkPinUsable(0);
  EXPECT_EQ(ex.NextChunks(100, {}, &out), 3u);
  EXPECT_EQ(ex.MakeTask(0, 0, 1).params, answer.params);
}

TEST(JobExpander, AFailedPinRequestMayBeAskedAgain) {
  FakeStreamCatalog cat;
  cat.AddStream(TestUuid(1), 0, 29);
  JobSpec spec = Spec(10);
  JobExpander ex(1, /*nonce=*/0, &spec);
  List(ex, cat);
  EXPECT_EQ(ex.RequestPins(1, 1), (std::vector<uint32_t>{0}));
  EXPECT_EQ(ex.pins_requested(), 1u);
  ex.PinFailed(0);
  EXPECT_EQ(ex.pins_requested(), 0u);
  EXPECT_FALSE(ex.pinned(0));
  EXPECT_EQ(ex.RequestPins(1, 1), (std::vector<uint32_t>{0}));
}

}  // namespace
}  // namespace btrq::broker
