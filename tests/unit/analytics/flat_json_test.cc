#include "analytics/flat_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/support/status_matchers.h"

namespace btrq::analytics {
namespace {

TEST(FlatJson, ParsesNumbersAndStringsInOrder) {
  ASSERT_OK_AND_ASSIGN(
      Fields f, ParseFlatJsonObject(R"( {"b": 3, "a": -2.5, "s": "x\"y\\z\n\u00e9\ud83d\ude00",
                                        "e": 1e3, "big": 9223372036854775808, "z": 0} )"));
  ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(f[0], (std::pair<std::string, FieldValue>{"b", int64_t{3}}));
  EXPECT_EQ(f[1], (std::pair<std::string, FieldValue>{"a", -2.5}));
  EXPECT_EQ(f[2].second, FieldValue(std::string("x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80")));
  EXPECT_EQ(f[3].second, FieldValue(1000.0));
  EXPECT_EQ(f[4].second, FieldValue(9223372036854775808.0));  // beyond int64: a double
  EXPECT_EQ(f[5].second, FieldValue(int64_t{0}));
}

TEST(FlatJson, AcceptsPythonsNonFiniteLiterals) {
  ASSERT_OK_AND_ASSIGN(Fields f, ParseFlatJsonObject(R"({"a": NaN, "b": Infinity, "c": -Infinity})"));
  EXPECT_TRUE(std::isnan(std::get<double>(f[0].second)));
  EXPECT_EQ(std::get<double>(f[1].second), std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::get<double>(f[2].second), -std::numeric_limits<double>::infinity());
}

TEST(FlatJson, EmptyObject) {
  ASSERT_OK_AND_ASSIGN(Fields f, ParseFlatJsonObject("{}\n"));
  EXPECT_TRUE(f.empty());
}

TEST(FlatJson, RejectsEverythingElse) {
  for (const char* text : {"", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":1}{}",
                           "{\"a\":true}", "{\"a\":null}", "{\"a\":[1]}", "{\"a\":{\"b\":1}}",
                           "{\"a\":1,\"a\":2}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
                           "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":1e999}",
                           "{\"a\":\"tab\there\"}"}) {
    const Result<Fields> r = ParseFlatJsonObject(text);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(FlatJson, WritesWhatItReads) {
  const Fields fields = {{"n", int64_t{-7}},
                         {"d", 2.0},
                         {"third", 1.0 / 3},
                         {"s", std::string("q\"\\\n\t\x01")},
                         {"nan", std::numeric_limits<double>::quiet_NaN()}};
  std::string text;
  AppendJsonObject(&text, fields);
  EXPECT_EQ(text,
            R"({"n":-7,"d":2.0,"third":0.3333333333333333,"s":"q\"\\\n\t\u0001","nan":NaN})");
  ASSERT_OK_AND_ASSIGN(Fields back, ParseFlatJsonObject(text));
  ASSERT_EQ(back.size(), fields.size());
  for (size_t i = 0; i + 1 < fields.size(); ++i) EXPECT_EQ(back[i], fields[i]);
  EXPECT_TRUE(std::isnan(std::get<double>(back[4].second)));
}

TEST(FlatJson, StringArrays) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv,
                       ParseJsonStringArray(R"([ "python3", "my script.py", "" ])"));
  EXPECT_EQ(argv, (std::vector<std::string>{"python3", "my script.py", ""}));
  EXPECT_EQ(ParseJsonStringArray(R"(["a", 1])").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJsonStringArray(R"(["a")").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::analytics
