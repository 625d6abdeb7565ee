#include "common/coding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace btrq {
namespace {

TEST(Coding, FixedWidthIsLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0807060504030201ull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08", 12));
  EXPECT_EQ(DecodeFixed32(s.data()), 0x04030201u);
  EXPECT_EQ(DecodeFixed64(s.data() + 4), 0x0807060504030201ull);
  char buf[8];
  EncodeFixed32(buf, 0xDEADBEEFu);
  EXPECT_EQ(std::string(buf, 4), "\xEF\xBE\xAD\xDE");
  EncodeFixed64(buf, 1);
  EXPECT_EQ(std::string(buf, 8), std::string("\x01\0\0\0\0\0\0\0", 8));
}

TEST(Coding, VarintsMatchKnownBytes) {
  const struct {
    uint64_t value;
    std::string bytes;
  } kCases[] = {
      {0, std::string(1, '\0')},
      {1, "\x01"},
      {127, "\x7F"},
      {128, "\x80\x01"},
      {300, "\xAC\x02"},
      {UINT64_MAX, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01"},
  };
  for (const auto& c : kCases) {
    std::string s;
    PutVarint64(&s, c.value);
    EXPECT_EQ(s, c.bytes) << c.value;
    std::string_view in = s;
    uint64_t v = 0;
    ASSERT_TRUE(GetVarint64(&in, &v)) << c.value;
    EXPECT_EQ(v, c.value);
    EXPECT_TRUE(in.empty());
  }
}

TEST(Coding, ZigZagMapsSmallMagnitudesToSmallCodes) {
  EXPECT_EQ(ZigZagEncode(0), 0u);
  EXPECT_EQ(ZigZagEncode(-1), 1u);
  EXPECT_EQ(ZigZagEncode(1), 2u);
  EXPECT_EQ(ZigZagEncode(-2), 3u);
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{12345}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(ZigZagDecode(ZigZagEncode(v)), v);
    std::string s;
    PutVarsint64(&s, v);
    std::string_view in = s;
    int64_t back = 0;
    ASSERT_TRUE(GetVarsint64(&in, &back));
    EXPECT_EQ(back, v);
  }
}

TEST(Coding, DoublesRoundTripBitForBit) {
  for (double d : {0.0, -0.0, 1.5, -1e300, std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::denorm_min()}) {
    std::string s;
    PutDouble(&s, d);
    ASSERT_EQ(s.size(), 8u);
    std::string_view in = s;
    double back = 0;
    ASSERT_TRUE(GetDouble(&in, &back));
    EXPECT_EQ(std::signbit(back), std::signbit(d));
    EXPECT_EQ(back, d);
  }
  std::string s;
  PutDouble(&s, 1.0);  // 0x3FF0000000000000
  EXPECT_EQ(s, std::string("\0\0\0\0\0\0\xF0\x3F", 8));
}

TEST(Coding, LengthPrefixedStrings) {
  std::string s;
  PutLengthPrefixed(&s, "abc");
  PutLengthPrefixed(&s, "");
  EXPECT_EQ(s, std::string("\x03" "abc\x00", 5));
  std::string_view in = s;
  std::string_view a, b;
  ASSERT_TRUE(GetLengthPrefixed(&in, &a));
  ASSERT_TRUE(GetLengthPrefixed(&in, &b));
  EXPECT_EQ(a, "abc");
  EXPECT_EQ(b, "");
  EXPECT_TRUE(in.empty());
}

TEST(Coding, ReadersRefuseShortOrMalformedInput) {
  uint32_t u32;
  uint64_t u64;
  double d;
  std::string_view sv;
  std::string_view in = "\x01\x02\x03";
  EXPECT_FALSE(GetFixed32(&in, &u32));
  in = "\x01\x02\x03\x04\x05\x06\x07";
  EXPECT_FALSE(GetFixed64(&in, &u64));
  in = "1234567";
  EXPECT_FALSE(GetDouble(&in, &d));
  in = "\x80\x80";  // continuation bits to the end
  EXPECT_FALSE(GetVarint64(&in, &u64));
  in = "";
  EXPECT_FALSE(GetVarint64(&in, &u64));
  const std::string eleven(11, '\x80');  // longer than any 64-bit varint
  in = eleven;
  EXPECT_FALSE(GetVarint64(&in, &u64));
  in = "\x05" "abc";  // a length past the end
  EXPECT_FALSE(GetLengthPrefixed(&in, &sv));
}

}  // namespace
}  // namespace btrq
