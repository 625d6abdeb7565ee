#include "analytics/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::analytics {
namespace {

TEST(ParamReader, ReadsTypedValuesAndStringsHoldingThem) {
  const Fields params = {{"i", int64_t{4}},  {"d", 2.5},          {"s", "text"},
                         {"is", "-12"},      {"ds", "1e-3"},      {"id", 8.0},
                         {"dur", "1m30s"},   {"dur_ns", int64_t{500}}, {"dur_digits", "250"}};
  ParamReader reader("t", params);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> i, reader.Int("i"));
  EXPECT_EQ(i, 4);
  ASSERT_OK_AND_ASSIGN(std::optional<double> d, reader.Double("d"));
  EXPECT_EQ(d, 2.5);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> s, reader.String("s"));
  EXPECT_EQ(s, "text");
  ASSERT_OK_AND_ASSIGN(i, reader.Int("is"));
  EXPECT_EQ(i, -12);
  ASSERT_OK_AND_ASSIGN(d, reader.Double("ds"));
  EXPECT_EQ(d, 1e-3);
  ASSERT_OK_AND_ASSIGN(i, reader.Int("id"));
  EXPECT_EQ(i, 8);
  ASSERT_OK_AND_ASSIGN(i, reader.Duration("dur"));
  EXPECT_EQ(i, int64_t{90} * 1'000'000'000);
  ASSERT_OK_AND_ASSIGN(i, reader.Duration("dur_ns"));
  EXPECT_EQ(i, 500);
  ASSERT_OK_AND_ASSIGN(i, reader.Duration("dur_digits"));
  EXPECT_EQ(i, 250);
  ASSERT_OK_AND_ASSIGN(i, reader.Int("absent"));
  EXPECT_FALSE(i.has_value());
  EXPECT_OK(reader.CheckAllUsed());
}

TEST(ParamReader, TypeErrorsNameTheAnalyticAndParam) {
  const Fields params = {{"n", "ten"}, {"s", int64_t{1}}, {"f", 1.5}, {"dur", "-1s"}};
  ParamReader reader("quality", params);
  EXPECT_EQ(reader.Double("n").status(),
            Status::InvalidArgument("quality: param 'n' must be a number, got 'ten'"));
  EXPECT_EQ(reader.String("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.Int("f").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.Duration("dur").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParamReader, UnknownAndRepeatedNamesAreRejectedButContextParamsAreNot) {
  {
    const Fields params = {{"rate", int64_t{30}}, {"x", int64_t{1}}};
    ParamReader reader("count", params);
    EXPECT_EQ(reader.CheckAllUsed(), Status::InvalidArgument("count: param 'x' is unknown"));
  }
  {
    const Fields params = {{"rate", int64_t{30}}};
    ParamReader reader("count", params);
    EXPECT_OK(reader.CheckAllUsed());
  }
  {
    const Fields params = {{"x", int64_t{1}}, {"x", int64_t{2}}};
    ParamReader reader("t", params);
    ASSERT_OK(reader.Int("x").status());
    EXPECT_EQ(reader.CheckAllUsed(), Status::InvalidArgument("t: param 'x' is given twice"));
  }
}

}  // namespace
}  // namespace btrq::analytics
