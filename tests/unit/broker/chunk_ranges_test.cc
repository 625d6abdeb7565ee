#include "broker/chunk_ranges.h"

#include <gtest/gtest.h>

namespace btrq::broker {
namespace {

TEST(ChunkRanges, AdjacentAndOverlappingRangesMerge) {
  ChunkRanges r;
  EXPECT_EQ(r.Add(0, 10), 10);
  EXPECT_EQ(r.Add(20, 30), 10);
  EXPECT_EQ(r.range_count(), 2u);
  EXPECT_EQ(r.Add(10, 20), 10);  // fills the gap: one range
  EXPECT_EQ(r.range_count(), 1u);
  EXPECT_EQ(r.Add(5, 25), 0);    // nothing new
  EXPECT_EQ(r.Add(-10, 0), 10);
  EXPECT_EQ(r.ranges().begin()->first, -10);
  EXPECT_EQ(r.ranges().begin()->second, 30);
}

TEST(ChunkRanges, SkipFromJumpsToTheEndOfTheCoveringRange) {
  ChunkRanges r;
  r.Add(-20, 0);
  EXPECT_EQ(r.SkipFrom(-20), 0);
  EXPECT_EQ(r.SkipFrom(-1), 0);
  EXPECT_EQ(r.SkipFrom(0), 0);
  EXPECT_EQ(r.SkipFrom(-30), -30);
  EXPECT_TRUE(r.Contains(-10));
  EXPECT_FALSE(r.Contains(0));
}

TEST(ChunkRanges, RemoveSplitsARange) {
  ChunkRanges r;
  r.Add(0, 100);
  r.Remove(40, 50);
  EXPECT_EQ(r.range_count(), 2u);
  EXPECT_TRUE(r.Contains(39));
  EXPECT_FALSE(r.Contains(40));
  EXPECT_FALSE(r.Contains(49));
  EXPECT_TRUE(r.Contains(50));
}

}  // namespace
}  // namespace btrq::broker
