#include "common/json_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;

std::string StringOf(std::string_view text) {
  JsonCursor in(text);
  Result<std::string> s = in.String();
  return s.ok() ? *s : "error: " + s.status().message();
}

TEST(JsonCursor, StringsDecodeEveryEscapeToUtf8) {
  EXPECT_EQ(StringOf(R"("plain")"), "plain");
  EXPECT_EQ(StringOf(R"("q\"b\\s\/n\nr\rt\tb\bf\f")"), "q\"b\\s/n\nr\rt\tb\bf\f");
  EXPECT_EQ(StringOf(R"("\u0041\u00e9\u20ac")"), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(StringOf(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");  // a surrogate pair
  EXPECT_EQ(StringOf("\"caf\xc3\xa9\""), "caf\xc3\xa9");            // raw UTF-8 passes
}

TEST(JsonCursor, BadStringsSayWhatAndWhere) {
  EXPECT_THAT(StringOf("x"), HasSubstr("JSON at byte 0: expected a string"));
  EXPECT_THAT(StringOf(R"("abc)"), HasSubstr("unterminated string"));
  EXPECT_THAT(StringOf("\"a\nb\""), HasSubstr("JSON at byte 3: control character"));
  EXPECT_THAT(StringOf(R"("\x")"), HasSubstr("bad escape"));
  EXPECT_THAT(StringOf(R"("\u12g4")"), HasSubstr("bad \\u escape"));
  EXPECT_THAT(StringOf(R"("\u12")"), HasSubstr("bad \\u escape"));
  EXPECT_THAT(StringOf(R"("\ud800")"), HasSubstr("lone surrogate"));
  EXPECT_THAT(StringOf(R"("\ud800\u0041")"), HasSubstr("lone surrogate"));
  EXPECT_THAT(StringOf(R"("\udc00")"), HasSubstr("lone surrogate"));
}

TEST(JsonCursor, NumbersFollowJsonsGrammar) {
  for (const char* good : {"0", "-0", "7", "-12", "3.25", "1e9", "1E+9", "-2.5e-3"}) {
    const std::string text = std::string(good) + ",";
    JsonCursor in(text);
    Result<std::string_view> n = in.Number();
    ASSERT_TRUE(n.ok()) << good << ": " << n.status().ToString();
    EXPECT_EQ(*n, good);
    EXPECT_EQ(in.Peek(), ',');
  }
  // "01" reads as 0 with "1" left over: the caller's grammar rejects the rest.
  JsonCursor leading_zero("01");
  ASSERT_OK_AND_ASSIGN(std::string_view zero, leading_zero.Number());
  EXPECT_EQ(zero, "0");
  EXPECT_FALSE(leading_zero.AtEnd());
  for (const char* bad : {"", "-", "+1", ".5", "1.", "1e", "1e+", "x"}) {
    JsonCursor in(bad);
    EXPECT_FALSE(in.Number().ok()) << bad;
  }
}

TEST(JsonCursor, PunctuationWordsAndBlanks) {
  JsonCursor in(" \t\r\n{ true");
  in.SkipSpace();
  EXPECT_EQ(in.pos(), 4u);
  EXPECT_FALSE(in.Consume('['));
  EXPECT_TRUE(in.Consume('{'));
  in.SkipSpace();
  EXPECT_FALSE(in.ConsumeWord("truth"));
  EXPECT_TRUE(in.ConsumeWord("true"));
  EXPECT_TRUE(in.AtEnd());
  EXPECT_EQ(in.Peek(), '\0');
  EXPECT_EQ(in.Error("x").message(), "JSON at byte 10: x");
}

}  // namespace
}  // namespace btrq
