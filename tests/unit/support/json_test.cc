#include "tests/support/json.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::Json;
using ::btrq::testing::StatusIs;

// The test parser the JSON tests rely on is strict, so a broken document fails them.
TEST(TestJsonParser, RejectsWhatJsonDoesNotAllow) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "nan", "'x'",
                          "\"a\nb\"", "\"\\x\"", "\"\\ud800\"", "{a:1}", "[1] 2", "tru"}) {
    EXPECT_THAT(Json::Parse(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(TestJsonParser, ReadsNestedValuesAndEscapes) {
  ASSERT_OK_AND_ASSIGN(
      Json doc, Json::Parse(R"( {"a": [1, -2.5e3, true, null], "s": "\u00e9\ud83d\ude00\/"} )"));
  EXPECT_EQ(doc["a"].size(), 4u);
  EXPECT_EQ(doc["a"][1].AsNumber(), -2500);
  EXPECT_TRUE(doc["a"][2].AsBool());
  EXPECT_TRUE(doc["a"][3].is_null());
  EXPECT_EQ(doc["s"].AsString(), "é\xF0\x9F\x98\x80/");
  EXPECT_TRUE(doc["missing"]["deeper"][3].is_null());
}

TEST(TestJsonParser, RejectsARepeatedMemberName) {
  EXPECT_THAT(Json::Parse(R"({"a": 1, "b": {"a": 2}})"), ::btrq::testing::IsOk());
  EXPECT_THAT(Json::Parse(R"({"a": 1, "b": 2, "a": 3})"),
              StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("\"a\"")));
}

TEST(TestJsonParser, KeepsMemberOrderAndTypes) {
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(R"({"z": "s", "a": 18446744073709551615, "m": {}})"));
  ASSERT_EQ(doc.members().size(), 3u);
  EXPECT_EQ(doc.members()[0].first, "z");
  EXPECT_EQ(doc.members()[1].first, "a");
  EXPECT_EQ(doc["a"].AsNumber(), 18446744073709551615.0);
  EXPECT_TRUE(doc["m"].is_object());
  EXPECT_EQ(doc["m"].size(), 0u);
  EXPECT_TRUE(doc.Has("z"));
  EXPECT_FALSE(doc.Has("y"));
  EXPECT_EQ(doc["z"].AsNumber(), 0);  // the type differs
}

TEST(TestJsonParser, CapsNesting) {
  EXPECT_THAT(Json::Parse(std::string(100, '[') + std::string(100, ']')), ::btrq::testing::IsOk());
  EXPECT_THAT(Json::Parse(std::string(200, '[') + std::string(200, ']')),
              StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("nesting")));
}

}  // namespace
}  // namespace btrq
