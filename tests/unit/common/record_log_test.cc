#include "common/record_log.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"

namespace btrq::record_log {
namespace {

std::string Log(const std::vector<std::string>& payloads) {
  std::string out;
  for (const std::string& p : payloads) AppendRecord(&out, p);
  return out;
}

// Reads every intact record; the end is in *end.
std::vector<std::string> ReadAll(std::string_view data, LogEnd* end, ReaderOptions options = {}) {
  Reader reader(data, options);
  std::vector<std::string> out;
  std::string_view payload;
  while (reader.Next(&payload)) out.emplace_back(payload);
  *end = reader.end();
  return out;
}

TEST(RecordLog, FrameIsLengthCrcPayloadLittleEndian) {
  std::string out;
  AppendRecord(&out, "123456789");
  EXPECT_EQ(out, std::string("\x09\x00\x00\x00\x83\x92\x06\xE3", 8) + "123456789");
  out.clear();
  AppendRecord(&out, "");
  EXPECT_EQ(out, std::string(8, '\0'));  // an empty payload's CRC is 0
}

TEST(RecordLog, CleanEnd) {
  const std::string data = Log({"a", "bb", ""});
  LogEnd end;
  EXPECT_EQ(ReadAll(data, &end), (std::vector<std::string>{"a", "bb", ""}));
  EXPECT_EQ(end.kind, EndKind::kClean);
  EXPECT_EQ(end.offset, data.size());
  LogEnd empty_end;
  EXPECT_TRUE(ReadAll("", &empty_end).empty());
  EXPECT_EQ(empty_end.kind, EndKind::kClean);
}

TEST(RecordLog, TornTails) {
  const std::string good = Log({"one", "two"});
  const std::string third = Log({"three"});
  // A header cut short, a payload cut short, and a whole last record whose bytes did not
  // all reach the disk (bad CRC): each is a torn tail at the third record's offset.
  std::string bad_crc = third;
  bad_crc.back() ^= 0x01;
  for (const std::string& tail : {third.substr(0, 5), third.substr(0, 10), bad_crc}) {
    LogEnd end;
    EXPECT_EQ(ReadAll(good + tail, &end), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(end.kind, EndKind::kTornTail);
    EXPECT_EQ(end.offset, good.size());
  }
}

TEST(RecordLog, ALengthPastTheLimitWithNothingValidAfterIsATornHeader) {
  const std::string data = Log({"x"}) + Log({std::string(100, 'y')});
  LogEnd end;
  EXPECT_EQ(ReadAll(data, &end, {.max_record_bytes = 50}), (std::vector<std::string>{"x"}));
  EXPECT_EQ(end.kind, EndKind::kTornTail);
  EXPECT_EQ(end.offset, 9u);
}

// The 69 MB journal: one corrupt length field in the middle read as a torn tail
// cut everything after it. Valid records after a bad header make it corruption.
TEST(RecordLog, ACorruptLengthFollowedByValidRecordsIsCorruptNotTorn) {
  const std::string first = Log({"first"});
  std::string second = Log({"second"});
  second[3] = '\x7f';  // the length now points far past the end
  const std::string rest = Log({"third"}) + Log({"fourth"});
  const std::string data = first + second + rest;
  Reader reader(data);
  std::string_view payload;
  ASSERT_TRUE(reader.Next(&payload));
  ASSERT_FALSE(reader.Next(&payload));
  EXPECT_EQ(reader.end().kind, EndKind::kCorrupt);
  EXPECT_EQ(reader.end().offset, first.size());
  EXPECT_EQ(reader.end().next, first.size() + second.size());  // resynchronised
  reader.SkipCorrupt();
  ASSERT_TRUE(reader.Next(&payload));
  EXPECT_EQ(payload, "third");
}

TEST(RecordLog, ALengthPastTheLimitFollowedByValidRecordsIsCorrupt) {
  const std::string big = Log({std::string(100, 'y')});
  const std::string data = Log({"x"}) + big + Log({"z"});
  LogEnd end;
  EXPECT_EQ(ReadAll(data, &end, {.max_record_bytes = 50}), (std::vector<std::string>{"x"}));
  EXPECT_EQ(end.kind, EndKind::kCorrupt);
  EXPECT_EQ(end.offset, 9u);
  EXPECT_EQ(end.next, 9u + big.size());
}

// A bad CRC on the last complete frame followed only by a fragment of the next (a group
// write cut short) is still a torn tail: nothing valid follows it.
TEST(RecordLog, ABadRecordFollowedOnlyByAFragmentIsATornTail) {
  const std::string good = Log({"one"});
  std::string bad = Log({"two"});
  bad.back() ^= 0x01;
  const std::string data = good + bad + Log({"three"}).substr(0, 9);
  LogEnd end;
  EXPECT_EQ(ReadAll(data, &end), (std::vector<std::string>{"one"}));
  EXPECT_EQ(end.kind, EndKind::kTornTail);
  EXPECT_EQ(end.offset, good.size());
}

TEST(RecordLog, CorruptThenValidIsCorruptAndCanBeSkipped) {
  const std::string first = Log({"first"});
  std::string second = Log({"second"});
  second[10] ^= 0x20;  // inside the payload
  const std::string data = first + second + Log({"third"});
  Reader reader(data);
  std::string_view payload;
  ASSERT_TRUE(reader.Next(&payload));
  EXPECT_EQ(payload, "first");
  ASSERT_FALSE(reader.Next(&payload));
  EXPECT_EQ(reader.end().kind, EndKind::kCorrupt);
  EXPECT_EQ(reader.end().offset, first.size());
  EXPECT_EQ(reader.end().next, first.size() + second.size());
  reader.SkipCorrupt();
  ASSERT_TRUE(reader.Next(&payload));
  EXPECT_EQ(payload, "third");
  EXPECT_FALSE(reader.Next(&payload));
  EXPECT_EQ(reader.end().kind, EndKind::kClean);
}

TEST(RecordLog, ZeroFilledTail) {
  const std::string good = Log({"one"});
  const std::string data = good + std::string(20, '\0');
  // Today's reading: two empty records (a zero header is a valid empty record), then an
  // incomplete header.
  LogEnd end;
  EXPECT_EQ(ReadAll(data, &end), (std::vector<std::string>{"one", "", ""}));
  EXPECT_EQ(end.kind, EndKind::kTornTail);
  EXPECT_EQ(end.offset, good.size() + 16);
  // Classified as a torn tail where it starts, when asked.
  EXPECT_EQ(ReadAll(data, &end, {.zero_tail_is_torn = true}), (std::vector<std::string>{"one"}));
  EXPECT_EQ(end.kind, EndKind::kTornTail);
  EXPECT_EQ(end.offset, good.size());
  // Zeros followed by a record are not a tail (a zero header is a valid empty record;
  // what an empty payload means is the caller's business).
  const std::string inner = good + std::string(8, '\0') + Log({"two"});
  EXPECT_EQ(ReadAll(inner, &end, {.zero_tail_is_torn = true}),
            (std::vector<std::string>{"one", "", "two"}));
  EXPECT_EQ(end.kind, EndKind::kClean);
  // Nor is a damaged record followed by zeros and then a record: the zeros are skipped
  // while looking for the next valid record.
  std::string bad = Log({"bad"});
  bad.back() ^= 0x01;
  const std::string damaged = good + bad + std::string(16, '\0') + Log({"three"});
  EXPECT_EQ(ReadAll(damaged, &end, {.zero_tail_is_torn = true}), (std::vector<std::string>{"one"}));
  EXPECT_EQ(end.kind, EndKind::kCorrupt);
  EXPECT_EQ(end.next, good.size() + bad.size() + 16);
  // A damaged record followed by zeros only is a torn tail.
  EXPECT_EQ(ReadAll(good + bad + std::string(16, '\0'), &end, {.zero_tail_is_torn = true}),
            (std::vector<std::string>{"one"}));
  EXPECT_EQ(end.kind, EndKind::kTornTail);
}

TEST(RecordLog, OffsetFollowsTheRecordsRead) {
  const std::string data = Log({"ab", "cde"});
  Reader reader(data);
  std::string_view payload;
  EXPECT_EQ(reader.offset(), 0u);
  ASSERT_TRUE(reader.Next(&payload));
  EXPECT_EQ(reader.offset(), kHeaderBytes + 2);
  ASSERT_TRUE(reader.Next(&payload));
  EXPECT_EQ(reader.offset(), data.size());
}

}  // namespace
}  // namespace btrq::record_log
