// Tag filters without a value ("key present") in the journal: they survive a round trip,
// and specs without them keep the original kJob encoding that older brokers read.

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "broker/job.h"
#include "broker/journal_records.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

JobSpec SpecWithTags(std::map<std::string, std::optional<std::string>> tags) {
  JobSpec s;
  s.name = "n";
  s.collection = "c";
  s.tags = std::move(tags);
  s.annotations = {{"rate", std::nullopt}};
  s.chunk = 60;
  s.analytic = "q";
  s.task_timeout = 999;
  return s;
}

TEST(JobTags, KeyPresentTagFiltersRoundTripThroughTheJournal) {
  const JobSpec s = SpecWithTags({{"phase", std::nullopt}, {"unit", std::string("V")}});
  std::string payload;
  EncodeJob(&payload, 42, /*nonce=*/0, s, -7);
  EXPECT_EQ(static_cast<uint8_t>(payload[0]), static_cast<uint8_t>(RecordType::kJobTagsOpt));

  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(payload));
  EXPECT_EQ(r.type, RecordType::kJob);  // both encodings decode as kJob
  EXPECT_EQ(r.job, 42u);
  EXPECT_EQ(r.wall_ns, -7);
  EXPECT_EQ(r.spec.tags, s.tags);
  EXPECT_FALSE(r.spec.tags.at("phase").has_value());
  EXPECT_EQ(r.spec.annotations, s.annotations);
  EXPECT_EQ(r.spec.chunk, 60);
  EXPECT_EQ(r.spec.task_timeout, 999);
}

TEST(JobTags, TruncatedKeyPresentRecordsAreErrors) {
  std::string payload;
  EncodeJob(&payload, 1, /*nonce=*/0, SpecWithTags({{"phase", std::nullopt}}), 5);
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(payload.substr(0, n)).ok()) << n;
  }
}

TEST(JobTags, SpecsWhoseTagsAllHaveValuesKeepTheOriginalEncoding) {
  std::string payload;
  EncodeJob(&payload, 42, /*nonce=*/0, SpecWithTags({{"unit", std::string("V")}}), -7);
  EXPECT_EQ(static_cast<uint8_t>(payload[0]), static_cast<uint8_t>(RecordType::kJob));
  // The original layout, byte for byte: what a broker before key-present tags wrote.
  const std::string legacy(
      "\x02"        // kJob
      "\x2a"        // job 42
      "\x01n"       // name
      "\x01" "c"    // collection
      "\x00"        // not a prefix
      "\x01"        // one tag: key, value (no present flag)
      "\x04unit\x01V"
      "\x01"        // one annotation: key, present flag
      "\x04rate\x00"
      "\x00"        // no streams
      "\x00\x00"    // no start, no end
      "\x78"        // chunk 60 (zigzag)
      "\x01q"       // analytic
      "\x00"        // no params
      "\x00"        // priority 0
      "\x03"        // max_attempts
      "\xce\x0f"    // task_timeout 999 (zigzag varint)
      "\x00"        // no versions
      "\x0d",       // submitted at -7 (zigzag)
      35);
  EXPECT_EQ(payload, legacy);

  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(legacy));
  EXPECT_EQ(r.type, RecordType::kJob);
  ASSERT_EQ(r.spec.tags.size(), 1u);
  EXPECT_EQ(r.spec.tags.at("unit"), std::optional<std::string>("V"));
  EXPECT_EQ(r.spec.analytic, "q");
  EXPECT_EQ(r.wall_ns, -7);
}

}  // namespace
}  // namespace btrq::broker
