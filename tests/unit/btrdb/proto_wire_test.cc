// Pins the wire bytes of proto/btrdb/v5/btrdb.proto against encodings computed by hand
// from the upstream BTrDB v5 proto's field numbers and types. A renumbered
// field or a changed type fails here before it breaks a real BTrDB client.

#include <string>

#include <gtest/gtest.h>

#include "btrdb/v5/btrdb.pb.h"

namespace btrq::btrdb {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// Strips the spaces used to group the expected bytes.
std::string Bytes(std::string spaced) {
  std::erase(spaced, ' ');
  return spaced;
}

std::string TestUuid() {
  std::string u;
  for (char i = 0; i < 16; ++i) u += i;
  return u;
}
constexpr char kUuidHex[] = "000102030405060708090a0b0c0d0e0f";

TEST(ProtoWire, RawValuesParamsUsesSfixed64TimesAndVarintVersion) {
  v5api::RawValuesParams p;
  p.set_uuid(TestUuid());
  p.set_start(1);
  p.set_end(-2);
  p.set_versionmajor(300);
  // 0a 10 <uuid> | 11 <start, 8 LE bytes> | 19 <end, 8 LE bytes> | 20 <varint 300>
  EXPECT_EQ(Hex(p.SerializeAsString()),
            Bytes(std::string("0a10") + kUuidHex + " 11 0100000000000000 19 feffffffffffffff"
                                                   " 20 ac02"));
}

TEST(ProtoWire, StatPointCountIsFixed64Field5) {
  v5api::StatPoint s;
  s.set_time(0x0102030405060708);
  s.set_min(1.0);
  s.set_max(2.0);
  s.set_count(5);
  s.set_stddev(0.5);
  // 09 time | 11 min | (mean 0.0 omitted) | 21 max | 29 count fixed64 | 31 stddev
  EXPECT_EQ(Hex(s.SerializeAsString()),
            Bytes("09 0807060504030201 11 000000000000f03f 21 0000000000000040"
                  " 29 0500000000000000 31 000000000000e03f"));
}

TEST(ProtoWire, InsertParamsValuesAreField3WhateverTheDeclarationOrder) {
  v5api::InsertParams p;
  p.set_uuid(TestUuid());
  p.set_sync(false);
  p.set_merge_policy(v5api::REPLACE);
  v5api::RawPoint* pt = p.add_values();
  pt->set_time(1);
  pt->set_value(1.5);
  // 0a uuid | 1a len 18 { 09 time, 11 value } | 20 03 (merge_policy REPLACE); sync omitted.
  EXPECT_EQ(Hex(p.SerializeAsString()),
            Bytes(std::string("0a10") + kUuidHex +
                  " 1a12 09 0100000000000000 11 000000000000f83f 20 03"));
}

TEST(ProtoWire, StreamInfoResponseDescriptorIsField4) {
  v5api::StreamInfoResponse r;
  r.mutable_stat()->set_code(404);
  r.mutable_stream_descriptor()->set_collection("a");
  // 0a 03 { 08 94 03 } | 22 03 { 12 01 'a' }
  EXPECT_EQ(Hex(r.SerializeAsString()), Bytes("0a03 089403 2203 120161"));
}

TEST(ProtoWire, KeyOptValueDistinguishesAbsentFromEmptyValue) {
  v5api::KeyOptValue any;
  any.set_key("k");
  EXPECT_EQ(Hex(any.SerializeAsString()), Bytes("0a016b"));
  v5api::KeyOptValue empty;
  empty.set_key("k");
  empty.mutable_val();
  EXPECT_EQ(Hex(empty.SerializeAsString()), Bytes("0a016b 1200"));
}

TEST(ProtoWire, LookupStreamsParamsRoleIsField100) {
  v5api::LookupStreamsParams p;
  p.set_collection("c");
  p.set_iscollectionprefix(true);
  p.mutable_role()->set_name("x");
  // 0a 01 'c' | 10 01 | a2 06 (field 100, wire type 2) 03 { 0a 01 'x' }
  EXPECT_EQ(Hex(p.SerializeAsString()), Bytes("0a0163 1001 a20603 0a0178"));
}

TEST(ProtoWire, RawValuesResponseDecodesHandWrittenBytes) {
  // stat {code 0 omitted}, versionMajor 10, versionMinor 2, values [{t=-1, v=-2.0}]
  const std::string wire = std::string("\x10\x0a\x18\x02\x22\x12", 6) + "\x09" +
                           std::string(8, '\xff') + "\x11" + std::string(7, '\0') + "\xc0";
  v5api::RawValuesResponse r;
  ASSERT_TRUE(r.ParseFromString(wire));
  EXPECT_EQ(r.versionmajor(), 10u);
  EXPECT_EQ(r.versionminor(), 2u);
  ASSERT_EQ(r.values_size(), 1);
  EXPECT_EQ(r.values(0).time(), -1);
  EXPECT_EQ(r.values(0).value(), -2.0);
  EXPECT_FALSE(r.has_stat());
}

}  // namespace
}  // namespace btrq::btrdb
