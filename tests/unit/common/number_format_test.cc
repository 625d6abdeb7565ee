#include "common/number_format.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace btrq {
namespace {

TEST(FormatDouble, ShortestTextThatReadsBack) {
  EXPECT_EQ(FormatDouble(60.1), "60.1");
  EXPECT_EQ(FormatDouble(6840), "6840");
  EXPECT_EQ(FormatDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatDouble(0), "0");
  EXPECT_EQ(FormatDouble(-0.0), "-0");
  EXPECT_EQ(FormatDouble(1e20), "1e+20");
  EXPECT_EQ(FormatDouble(1e-7), "1e-07");
}

TEST(FormatDouble, RoundTripsExactly) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> dist(-1e6, 1e6);
  const double extremes[] = {std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::denorm_min(), 1.0 / 3};
  for (int i = 0; i < 1000 + 4; ++i) {
    const double v = i < 4 ? extremes[i] : dist(rng);
    const std::string text = FormatDouble(v);
    double back = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
    ASSERT_EQ(ec, std::errc()) << text;
    EXPECT_EQ(end, text.data() + text.size());
    EXPECT_EQ(back, v) << text;
  }
}

// As every copy this replaced spelled them (std::to_chars); callers with another
// convention (metrics "NaN"/"+Inf", JSON null) test first.
TEST(FormatDouble, NonFiniteAsToCharsSpellsThem) {
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(AppendDouble, Appends) {
  std::string s = "x=";
  AppendDouble(&s, 0.5);
  EXPECT_EQ(s, "x=0.5");
}

}  // namespace
}  // namespace btrq
