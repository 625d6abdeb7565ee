// DONE items carry the points the attempt read under the optional key "pr"
// (docs/protocol.md): present only when non-zero, 0 when absent, so frames from and to
// peers that predate it are unchanged.

#include <gtest/gtest.h>

#include "common/codec.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

DoneMsg OneItem(int64_t points, ErrorClass error = ErrorClass::kNone) {
  DoneItem item;
  item.task.key.job = 7;
  item.task.key.stream = Uuid::Random();
  item.task.key.start = 1'704'067'200'000'000'000;
  item.task.attempt = 2;
  item.error = error;
  item.message = error == ErrorClass::kNone ? "" : "no data";
  item.points_read = points;
  return DoneMsg{{item}};
}

TEST(DonePointsCodec, PointsReadRoundTrip) {
  for (int64_t points : {int64_t{1}, int64_t{7200}, int64_t{1} << 40}) {
    for (ErrorClass error : {ErrorClass::kNone, ErrorClass::kPermanent}) {
      ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(EncodeMessage(OneItem(points, error))));
      const DoneMsg& done = std::get<DoneMsg>(decoded);
      ASSERT_EQ(done.items.size(), 1u);
      EXPECT_EQ(done.items[0].points_read, points);
      EXPECT_EQ(done.items[0].error, error);
      EXPECT_EQ(done.items[0].task.attempt, 2u);
    }
  }
}

TEST(DonePointsCodec, ZeroPointsAreLeftOutAndAbsentMeansZero) {
  const std::string frame = EncodeMessage(OneItem(0));
  // The item map has the five keys of a DONE item from before "pr" existed.
  EXPECT_EQ(frame.find("\xa2pr"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(frame));
  EXPECT_EQ(std::get<DoneMsg>(decoded).items[0].points_read, 0);

  const std::string with_points = EncodeMessage(OneItem(5));
  EXPECT_NE(with_points.find("\xa2pr"), std::string::npos);
}

}  // namespace
}  // namespace btrq
