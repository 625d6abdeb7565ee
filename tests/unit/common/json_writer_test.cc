#include "common/json_writer.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "tests/support/json.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::Json;

TEST(JsonEscape, EscapesQuotesControlsAndInvalidUtf8) {
  const struct {
    std::string in;
    std::string out;
  } cases[] = {
      {"plain", "plain"},
      {"a\"b\\c", "a\\\"b\\\\c"},
      {"\n\r\t\b\f", "\\n\\r\\t\\b\\f"},
      {std::string("nul\0x", 5), "nul\\u0000x"},
      {"\x1f\x7f", "\\u001f\\u007f"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"\xff", "\\ufffd"},
      {"\xc3", "\\ufffd"},              // truncated
      {"\xc0\xaf", "\\ufffd\\ufffd"},   // overlong '/'
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},  // UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // past U+10FFFF
  };
  for (const auto& c : cases) EXPECT_EQ(JsonEscape(c.in), c.out) << c.in;
}

TEST(JsonQuote, EscapesWhatJsonRequiresAndKeepsUtf8) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
  EXPECT_EQ(JsonQuote(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(JsonQuote("any \x02 \" \\ / text")));
  EXPECT_EQ(doc.AsString(), "any \x02 \" \\ / text");
}

TEST(JsonWriter, DoublesStayDoublesInPlainDecimalsWherePractical) {
  JsonWriter w;
  w.BeginArray().Double(2).Double(-0.0).Double(1234.5).Double(1e14).Double(1e15).Double(5e-5);
  w.EndArray();
  EXPECT_EQ(w.str(), "[2.0,-0.0,1234.5,100000000000000.0,1e+15,5e-05]");
}

TEST(JsonWriter, PlacesCommasAndColons) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(-1);
  w.Key("b").BeginArray().Uint(1).Bool(true).Null().BeginObject().EndObject().EndArray();
  w.Key("c").String("x");
  w.EndObject();
  EXPECT_EQ(w.Take(), R"({"a":-1,"b":[1,true,null,{}],"c":"x"})");
}

TEST(JsonWriter, TakeLeavesTheWriterEmpty) {
  JsonWriter w;
  w.BeginArray().Int(1).EndArray();
  EXPECT_EQ(w.Take(), "[1]");
  w.BeginArray().Int(2).EndArray();
  EXPECT_EQ(w.Take(), "[2]");
}

TEST(JsonWriter, EscapesStringsAndKeys) {
  JsonWriter w;
  w.BeginObject().Key("k\"ey").String("line\nquote\" back\\ tab\t \x01 é").EndObject();
  const std::string text = w.Take();
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(text));
  EXPECT_EQ(doc["k\"ey"].AsString(), "line\nquote\" back\\ tab\t \x01 é");
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacter) {
  JsonWriter w;
  w.String("a\xff" "b");
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(w.Take()));
  EXPECT_EQ(doc.AsString(), "a\xEF\xBF\xBD" "b");
}

TEST(JsonWriter, DoublesRoundTripAndNonFiniteBecomesNull) {
  JsonWriter w;
  w.BeginArray()
      .Double(0.1)
      .Double(1e300)
      .Double(-2.5e-7)
      .Double(3)
      .Double(std::numeric_limits<double>::quiet_NaN())
      .Double(std::numeric_limits<double>::infinity())
      .EndArray();
  const std::string text = w.Take();
  EXPECT_EQ(text, "[0.1,1e+300,-2.5e-07,3.0,null,null]");
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(text));
  EXPECT_EQ(doc[0].AsNumber(), 0.1);
  EXPECT_EQ(doc[1].AsNumber(), 1e300);
  EXPECT_EQ(doc[2].AsNumber(), -2.5e-7);
  EXPECT_TRUE(doc[4].is_null());
}

TEST(JsonWriter, IntegersAtTheirLimits) {
  JsonWriter w;
  w.BeginArray()
      .Int(std::numeric_limits<int64_t>::min())
      .Uint(std::numeric_limits<uint64_t>::max())
      .EndArray();
  EXPECT_EQ(w.Take(), "[-9223372036854775808,18446744073709551615]");
}

}  // namespace
}  // namespace btrq
