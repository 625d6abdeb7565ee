#include "sink/fields_blob.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tests/support/status_matchers.h"

namespace btrq::sink {
namespace {

// The bytes on disk, pinned: the result store keeps them in every row.
TEST(FieldsBlob, KnownBytes) {
  const Fields fields = {{"n", int64_t{-2}}, {"x", 1.0}, {"s", std::string("ab")}};
  const std::string expected = std::string("\x01\x03", 2) +          // format, count
                               std::string("\x01n\x00\x03", 4) +     // "n", int, zigzag(-2)
                               std::string("\x01x\x01", 3) +         // "x", double
                               std::string("\0\0\0\0\0\0\xF0\x3F", 8) +  // 1.0, little-endian
                               std::string("\x01s\x02\x02" "ab", 6);  // "s", string "ab"
  EXPECT_EQ(EncodeFields(fields), expected);
  ASSERT_OK_AND_ASSIGN(Fields back, DecodeFields(expected));
  EXPECT_EQ(back, fields);
}

TEST(FieldsBlob, EncodeToReplacesTheBuffer) {
  std::string buffer = "stale";
  EncodeFieldsTo({}, &buffer);
  EXPECT_EQ(buffer, std::string("\x01\x00", 2));
}

TEST(FieldsBlob, CorruptBlobsNameTheProblem) {
  const Result<Fields> r = DecodeFields(std::string("\x02\x00", 2));
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "corrupt fields blob: unknown format");
  EXPECT_EQ(DecodeFields(std::string("\x01\x01\x01n\x01" "1234567", 12)).status().message(),
            "corrupt fields blob: truncated double");
}

}  // namespace
}  // namespace btrq::sink
