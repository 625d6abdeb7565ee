// The hand-written decoder of RawValues/AlignedWindows/Windows responses
// (btrdb/point_frames.h) must read every valid encoding exactly as the generated protobuf
// parser does: these tests build messages with the generated classes (including the
// shapes a real server may send: zeros omitted, unknown fields, repeated scalars, stat
// merges, fields out of order) and compare field by field.

#include "btrdb/point_frames.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "btrdb/v5/btrdb.pb.h"
#include "tests/support/status_matchers.h"

namespace btrq::btrdb {
namespace {

// protobuf encoding helpers for hand-made bytes.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint32_t field, uint32_t wire_type) { return Varint(uint64_t{field} << 3 | wire_type); }
std::string Fixed64(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}
std::string Len(uint32_t field, const std::string& body) {
  return Tag(field, 2) + Varint(body.size()) + body;
}

// Everything but the points.
template <typename Response, typename Frame>
void ExpectSameHeader(const Response& m, const Frame& f) {
  EXPECT_EQ(f.has_stat, m.has_stat());
  EXPECT_EQ(f.stat_code, m.stat().code());
  EXPECT_EQ(f.stat_msg, m.stat().msg());
  EXPECT_EQ(f.version_major, m.versionmajor());
  EXPECT_EQ(f.version_minor, m.versionminor());
}

void ExpectSame(const v5api::RawValuesResponse& m, const RawFrame& f) {
  ExpectSameHeader(m, f);
  ASSERT_EQ(f.values.size(), static_cast<size_t>(m.values_size()));
  for (size_t i = 0; i < f.values.size(); ++i) {
    const v5api::RawPoint& p = m.values(static_cast<int>(i));
    EXPECT_EQ(f.values[i].time, p.time()) << i;
    // Bit patterns, so NaNs and -0.0 compare too.
    EXPECT_EQ(std::bit_cast<uint64_t>(f.values[i].value), std::bit_cast<uint64_t>(p.value())) << i;
  }
}

void ExpectSame(const v5api::AlignedWindowsResponse& m, const StatFrame& f) {
  ExpectSameHeader(m, f);
  ASSERT_EQ(f.values.size(), static_cast<size_t>(m.values_size()));
  for (size_t i = 0; i < f.values.size(); ++i) {
    const v5api::StatPoint& p = m.values(static_cast<int>(i));
    const StatPoint& q = f.values[i];
    EXPECT_EQ(q.time, p.time());
    EXPECT_EQ(std::bit_cast<uint64_t>(q.min), std::bit_cast<uint64_t>(p.min()));
    EXPECT_EQ(std::bit_cast<uint64_t>(q.mean), std::bit_cast<uint64_t>(p.mean()));
    EXPECT_EQ(std::bit_cast<uint64_t>(q.max), std::bit_cast<uint64_t>(p.max()));
    EXPECT_EQ(q.count, p.count());
    EXPECT_EQ(std::bit_cast<uint64_t>(q.stddev), std::bit_cast<uint64_t>(p.stddev()));
  }
}

// Decodes `wire` both ways; both must accept it and agree.
void ExpectDecodesLikeProtobuf(const std::string& wire) {
  v5api::RawValuesResponse m;
  ASSERT_TRUE(m.ParseFromString(wire));
  RawFrame f;
  ASSERT_OK(DecodeFrame(wire, &f));
  EXPECT_EQ(f.wire_bytes, wire.size());
  ExpectSame(m, f);
}

TEST(PointFrames, ReadsAServerChunkOfPoints) {
  v5api::RawValuesResponse m;
  m.set_versionmajor(42);
  m.set_versionminor(7);
  for (int i = 0; i < 5000; ++i) {
    v5api::RawPoint* p = m.add_values();
    p->set_time(1'700'000'000'000'000'000 + int64_t{i} * 33'333'333);
    p->set_value(i * 0.25 - 100);
  }
  ExpectDecodesLikeProtobuf(m.SerializeAsString());
}

TEST(PointFrames, OmittedZerosNegativeTimesAndSpecialValues) {
  v5api::RawValuesResponse m;  // no version, no stat
  const double values[] = {0.0, -0.0, 1.5, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(), -1e300, 0.0};
  const int64_t times[] = {0, 0, -1, -1'152'921'504'606'846'976, 1, 0, 3'000'000'000'000'000'000};
  for (size_t i = 0; i < std::size(values); ++i) {
    v5api::RawPoint* p = m.add_values();
    p->set_time(times[i]);
    p->set_value(values[i]);
  }
  const std::string wire = m.SerializeAsString();
  ExpectDecodesLikeProtobuf(wire);
  // The first point is (0, 0.0): an empty RawPoint on the wire.
  RawFrame f;
  ASSERT_OK(DecodeFrame(wire, &f));
  EXPECT_EQ(f.values[0], (RawPoint{0, 0.0}));
}

TEST(PointFrames, InBandErrorAndNoPoints) {
  v5api::RawValuesResponse m;
  m.mutable_stat()->set_code(404);
  m.mutable_stat()->set_msg("stream not found");
  m.mutable_stat()->mutable_mash()->set_revision(9);  // skipped, like every unknown
  ExpectDecodesLikeProtobuf(m.SerializeAsString());
  // An empty message (a stream with no points in range) is valid too.
  ExpectDecodesLikeProtobuf("");
  RawFrame f;
  ASSERT_OK(DecodeFrame("", &f));
  EXPECT_FALSE(f.has_stat);
  EXPECT_TRUE(f.values.empty());
}

TEST(PointFrames, UnknownFieldsOfEveryWireTypeAreSkipped) {
  const std::string point = Tag(1, 1) + Fixed64(5) + Tag(7, 0) + Varint(300) + Tag(2, 1) +
                            Fixed64(std::bit_cast<uint64_t>(2.5)) + Tag(9, 5) + "abcd";
  const std::string wire = Tag(15, 2) + Varint(3) + "xyz" +      // unknown bytes
                           Len(4, point) +                         // a point with extras
                           Tag(16, 0) + Varint(1) +                // two-byte tag
                           Tag(20, 3) + Tag(1, 0) + Varint(5) + Tag(20, 4) +  // a group
                           Tag(2, 0) + Varint(11) +                // versionMajor
                           Tag(99, 1) + Fixed64(1) + Len(4, point);
  ExpectDecodesLikeProtobuf(wire);
}

TEST(PointFrames, LastScalarWinsStatsMergeAndOrderDoesNotMatter) {
  const std::string stat1 = Tag(1, 0) + Varint(1) + Len(2, "first");
  const std::string stat2 = Tag(1, 0) + Varint(404);  // msg stays "first"
  const std::string point = Tag(2, 1) + Fixed64(std::bit_cast<uint64_t>(1.0)) + Tag(1, 1) +
                            Fixed64(9) + Tag(1, 1) + Fixed64(10);  // time 10 wins
  const std::string wire = Len(4, point) + Tag(2, 0) + Varint(5) + Len(1, stat1) +
                           Tag(2, 0) + Varint(6) + Len(1, stat2) + Tag(3, 0) + Varint(2);
  ExpectDecodesLikeProtobuf(wire);
  RawFrame f;
  ASSERT_OK(DecodeFrame(wire, &f));
  EXPECT_EQ(f.version_major, 6u);
  EXPECT_EQ(f.stat_code, 404u);
  EXPECT_EQ(f.stat_msg, "first");
  EXPECT_EQ(f.values[0], (RawPoint{10, 1.0}));
}

TEST(PointFrames, KnownFieldWithAnotherWireTypeIsSkippedAsUnknown) {
  // versionMajor as fixed64 and a point's time as a varint: protobuf keeps neither.
  const std::string point = Tag(1, 0) + Varint(77) + Tag(2, 1) + Fixed64(std::bit_cast<uint64_t>(3.0));
  ExpectDecodesLikeProtobuf(Tag(2, 1) + Fixed64(12) + Len(4, point));
}

TEST(PointFrames, StatPointsDecodeLikeProtobuf) {
  v5api::AlignedWindowsResponse m;
  m.set_versionmajor(3);
  for (int i = 0; i < 100; ++i) {
    v5api::StatPoint* p = m.add_values();
    p->set_time(int64_t{i} << 30);
    p->set_min(i == 0 ? 0.0 : -i);
    p->set_mean(i * 0.5);
    p->set_max(i);
    p->set_count(static_cast<uint64_t>(i) * 1000);
    p->set_stddev(i % 3 == 0 ? 0.0 : 1.0 / i);
  }
  const std::string wire = m.SerializeAsString();
  StatFrame f;
  ASSERT_OK(DecodeFrame(wire, &f));
  ExpectSame(m, f);
}

TEST(PointFrames, MalformedBytesAreAnErrorNotACrash) {
  const std::string point = Tag(1, 1) + Fixed64(1) + Tag(2, 1) + Fixed64(2);
  const std::string cases[] = {
      Tag(4, 2) + Varint(30) + point,         // length past the end
      Tag(2, 0) + std::string(11, '\xff'),    // an 11-byte varint
      Tag(4, 2) + Varint(5) + Tag(1, 1) + "abcd",  // truncated fixed64 inside a point
      Tag(0, 0) + Varint(1),                  // field number 0
      Tag(3, 4),                              // a stray end-group
      Tag(5, 3) + Tag(1, 0) + Varint(1),      // an unterminated group
      Tag(5, 3) + Tag(6, 4),                  // a group closed by another field's end
      Tag(5, 6) + "12345678",                 // wire type 6
      Tag(1, 2) + Varint(2) + Tag(2, 2),      // truncated stat
  };
  for (const std::string& wire : cases) {
    RawFrame f;
    const Status s = DecodeFrame(wire, &f);
    EXPECT_EQ(s.code(), StatusCode::kInvalidMessage) << ::testing::PrintToString(wire);
    v5api::RawValuesResponse m;
    EXPECT_FALSE(m.ParseFromString(wire)) << "protobuf accepts case " << ::testing::PrintToString(wire);
  }
}

TEST(PointFrames, EveryTruncationAndMutationOfAValidMessageMatchesProtobufWhenItParses) {
  v5api::RawValuesResponse m;
  m.mutable_stat()->set_code(0);
  m.set_versionmajor(123456789);
  for (int i = 0; i < 20; ++i) {
    v5api::RawPoint* p = m.add_values();
    p->set_time(i % 4 == 0 ? 0 : int64_t{i} * 1'000'000'007);
    p->set_value(i % 5 == 0 ? 0.0 : i * 1.25);
  }
  const std::string wire = m.SerializeAsString();
  const auto check = [](const std::string& bytes) {
    v5api::RawValuesResponse parsed;
    RawFrame f;
    const Status s = DecodeFrame(bytes, &f);
    // Whatever protobuf accepts, the frame decoder accepts with the same content. (It
    // may accept a little more: it does not check that stat's msg is valid UTF-8.)
    if (parsed.ParseFromString(bytes)) {
      ASSERT_TRUE(s.ok()) << s.ToString() << " for " << ::testing::PrintToString(bytes);
      ExpectSame(parsed, f);
    }
  };
  for (size_t n = 0; n <= wire.size(); ++n) check(wire.substr(0, n));
  std::mt19937_64 random(20261125);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = wire;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      bytes[random() % bytes.size()] = static_cast<char>(random());
    }
    check(bytes);
  }
}

TEST(PointFrames, DecodingReusesTheFrame) {
  v5api::RawValuesResponse big, small;
  for (int i = 1; i <= 100; ++i) big.add_values()->set_time(i);
  big.mutable_stat()->set_code(1);
  small.add_values()->set_time(7);
  RawFrame f;
  ASSERT_OK(DecodeFrame(big.SerializeAsString(), &f));
  ASSERT_OK(DecodeFrame(small.SerializeAsString(), &f));
  ExpectSame(small, f);  // nothing of the first message is left
}

}  // namespace
}  // namespace btrq::btrdb
