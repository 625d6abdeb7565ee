// The wire keys of outages (docs/protocol.md): HEARTBEAT's optional "a" (finished tasks
// whose results await the sink's ACK) and a DONE item's optional "dd" (not attempted: a
// dependency was down). Both are left out when empty or false, so such frames are
// byte-for-byte what peers that predate them send.

#include <gtest/gtest.h>

#include "common/codec.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

TaskRef Ref(uint32_t attempt) {
  TaskRef r;
  r.key.job = 3;
  r.key.stream = Uuid::Random();
  r.key.start = 1'704'067'200'000'000'000;
  r.attempt = attempt;
  return r;
}

TEST(OutageCodec, HeartbeatKeepsRunningAndAwaitingAckApart) {
  HeartbeatMsg hb;
  hb.running = {Ref(1), Ref(2)};
  hb.awaiting_ack = {Ref(3)};
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(EncodeMessage(hb)));
  const HeartbeatMsg& out = std::get<HeartbeatMsg>(decoded);
  EXPECT_EQ(out.running, hb.running);
  EXPECT_EQ(out.awaiting_ack, hb.awaiting_ack);
}

TEST(OutageCodec, AHeartbeatWithNothingAwaitingAckHasNoKeyA) {
  HeartbeatMsg hb;
  hb.running = {Ref(1)};
  const std::string frame = EncodeMessage(hb);
  HeartbeatMsg with_a = hb;
  with_a.awaiting_ack = {Ref(2)};
  EXPECT_LT(frame.size(), EncodeMessage(with_a).size());
  // The body map has one pair, as before "a" existed.
  EXPECT_NE(frame.find("\x81\xa1r"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(frame));
  EXPECT_TRUE(std::get<HeartbeatMsg>(decoded).awaiting_ack.empty());
}

DoneMsg OneItem(bool dependency_down) {
  DoneItem item;
  item.task = Ref(2);
  item.error = ErrorClass::kTransient;
  item.message = "BTrDB server unavailable";
  item.dependency_down = dependency_down;
  return DoneMsg{{item}};
}

TEST(OutageCodec, DependencyDownRoundTripsAndIsLeftOutWhenFalse) {
  ASSERT_OK_AND_ASSIGN(Message down, DecodeMessage(EncodeMessage(OneItem(true))));
  EXPECT_TRUE(std::get<DoneMsg>(down).items[0].dependency_down);
  EXPECT_EQ(std::get<DoneMsg>(down).items[0].error, ErrorClass::kTransient);

  const std::string plain = EncodeMessage(OneItem(false));
  EXPECT_EQ(plain.find("\xa2" "dd"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(plain));
  EXPECT_FALSE(std::get<DoneMsg>(decoded).items[0].dependency_down);
}

TEST(OutageCodec, DependencyDownOtherThanZeroOrOneIsABadField) {
  std::string frame = EncodeMessage(OneItem(true));
  const size_t at = frame.find("\xa2" "dd");
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(frame[at + 3], '\x01');  // positive fixint 1
  frame[at + 3] = '\x02';
  const auto decoded = DecodeMessage(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(DecodeReasonOf(decoded.status()), DecodeErrorReason::kBadField);
}

}  // namespace
}  // namespace btrq
