#include "common/ids.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <unordered_set>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;

TEST(Uuid, ParsesCanonicalAndBareHexCaseInsensitively) {
  ASSERT_OK_AND_ASSIGN(Uuid a, Uuid::Parse("0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718"));
  ASSERT_OK_AND_ASSIGN(Uuid b, Uuid::Parse("0F3C2A1B9D8E4F70A1B2C3D4E5F60718"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.bytes[0], 0x0f);
  EXPECT_EQ(a.bytes[15], 0x18);
  EXPECT_EQ(a.ToString(), "0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718");
}

TEST(Uuid, RejectsMalformedText) {
  for (const char* bad : {"", "0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f6071",
                          "0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f607189",
                          "0f3c2a1b_9d8e-4f70-a1b2-c3d4e5f60718",
                          "0g3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718",
                          "0f3c2a1b9d8e4f70a1b2c3d4e5f6071z"}) {
    Result<Uuid> r = Uuid::Parse(bad);
    EXPECT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(Uuid, FromBytesTakesExactlySixteen) {
  ASSERT_OK_AND_ASSIGN(Uuid u, Uuid::FromBytes(std::string(16, '\x01')));
  EXPECT_EQ(u.AsBytes(), std::string(16, '\x01'));
  EXPECT_FALSE(Uuid::FromBytes(std::string(15, 'a')).ok());
  EXPECT_FALSE(Uuid::FromBytes(std::string(17, 'a')).ok());
}

TEST(Uuid, RandomIsVersion4AndDistinct) {
  std::set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    Uuid u = Uuid::Random();
    EXPECT_EQ(u.bytes[6] >> 4, 4);
    EXPECT_EQ(u.bytes[8] & 0xc0, 0x80);
    EXPECT_FALSE(u.IsNil());
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_TRUE(Uuid().IsNil());
}

TEST(JobId, ParsesPositiveDecimalsOnly) {
  ASSERT_OK_AND_ASSIGN(JobId id, ParseJobId("42"));
  EXPECT_EQ(id, 42u);
  ASSERT_OK_AND_ASSIGN(JobId max, ParseJobId("18446744073709551615"));
  EXPECT_EQ(max, UINT64_MAX);
  for (const char* bad : {"", "0", "-1", "+1", " 1", "1 ", "1x", "0x10", "18446744073709551616"}) {
    EXPECT_FALSE(ParseJobId(bad).ok()) << bad;
  }
}

TEST(TaskKey, FormatsAndParsesRoundTrip) {
  TaskKey k{7, *Uuid::Parse("0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718"), 1700000000000000000};
  EXPECT_EQ(k.ToString(), "7/0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718/1700000000000000000");
  ASSERT_OK_AND_ASSIGN(TaskKey back, TaskKey::Parse(k.ToString()));
  EXPECT_EQ(back, k);
  k.start = -5;
  ASSERT_OK_AND_ASSIGN(TaskKey neg, TaskKey::Parse(k.ToString()));
  EXPECT_EQ(neg.start, -5);
}

TEST(TaskKey, RejectsMalformedText) {
  const std::string u = "0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718";
  for (const std::string& bad :
       {std::string(""), "7/" + u, "0/" + u + "/1", "7/" + u + "/", "7/" + u + "/1/2",
        "7/" + u + "/1.5", std::string("7/nope/1"), "x/" + u + "/1", "7/" + u + "/99999999999999999999"}) {
    EXPECT_FALSE(TaskKey::Parse(bad).ok()) << bad;
  }
}

TEST(TaskKey, OrdersByJobThenStreamThenStart) {
  const Uuid a = *Uuid::Parse("00000000000000000000000000000001");
  const Uuid b = *Uuid::Parse("00000000000000000000000000000002");
  EXPECT_LT((TaskKey{1, b, 9}), (TaskKey{2, a, 0}));
  EXPECT_LT((TaskKey{1, a, 9}), (TaskKey{1, b, 0}));
  EXPECT_LT((TaskKey{1, a, -1}), (TaskKey{1, a, 0}));
}

TEST(Hashes, SpreadNearbyKeys) {
  // Keys differing only in chunk start (the common case) must not collide in buckets.
  const Uuid s = *Uuid::Parse("0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718");
  std::unordered_set<size_t> hashes, low_bits;
  for (int64_t i = 0; i < 4096; ++i) {
    const size_t h = TaskKeyHash()(TaskKey{1, s, i * 43200000000000LL});
    hashes.insert(h);
    low_bits.insert(h & 0xfff);
  }
  EXPECT_EQ(hashes.size(), 4096u);
  EXPECT_GT(low_bits.size(), 2400u);  // ~2590 expected for random 12-bit values
  EXPECT_NE(UuidHash()(Uuid()), UuidHash()(*Uuid::Parse("00000000000000000000000000000001")));
  EXPECT_EQ(std::hash<TaskKey>()(TaskKey{3, s, 4}), TaskKeyHash()(TaskKey{3, s, 4}));
}

TEST(Hashes, AStreamHalfEqualToTheMixConstantKeepsTheOtherHalf) {
  // TaskKeyHash XORs 0xa0761d6478bd642f into the UUID's first 8 bytes (little-endian)
  // before multiplying them by the last 8: with a plain multiply-fold, a UUID whose first
  // half equals that constant would hash the same whatever its second half.
  Uuid u;
  const uint64_t constant = 0xa0761d6478bd642fULL;
  std::memcpy(u.bytes.data(), &constant, sizeof constant);
  std::unordered_set<size_t> hashes;
  for (int i = 0; i < 1000; ++i) {
    u.bytes[14] = static_cast<uint8_t>(i >> 8);
    u.bytes[15] = static_cast<uint8_t>(i);
    hashes.insert(TaskKeyHash()(TaskKey{1, u, 0}));
  }
  EXPECT_EQ(hashes.size(), 1000u);
}

TEST(WorkerId, HostPidRandom) {
  const std::string a = MakeWorkerId("node-1", 1234);
  const std::string b = MakeWorkerId("node-1", 1234);
  EXPECT_EQ(a.rfind("node-1:1234:", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("node-1:1234:").size() + 12);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace btrq
