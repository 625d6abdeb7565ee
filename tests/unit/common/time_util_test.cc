#include "common/time_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kSec = kNanosPerSecond;

struct DurationCase {
  std::string text;
  int64_t nanos;
};

TEST(ParseDuration, AcceptsUnitsCompoundsAndExactFractions) {
  const DurationCase cases[] = {
      {"0", 0},
      {"0s", 0},
      {"10ns", 10},
      {"250us", 250'000},
      {"500ms", 500'000'000},
      {"90s", 90 * kSec},
      {"1m", 60 * kSec},
      {"12h", 12 * 3600 * kSec},
      {"1d", 86400 * kSec},
      {"1w", 7 * 86400 * kSec},
      {"1h30m", 5400 * kSec},
      {"1d12h30m15s500ms", (86400 + 12 * 3600 + 30 * 60 + 15) * kSec + 500'000'000},
      {"1.5h", 5400 * kSec},
      {"0.5s", 500'000'000},
      {"1.000000001s", kSec + 1},
      {"1.5us", 1500},
      {"2.50m", 150 * kSec},
      {"  90s\n", 90 * kSec},
      {"9223372036854775807ns", std::numeric_limits<int64_t>::max()},
      {"106751d23h47m16s854ms775us807ns", std::numeric_limits<int64_t>::max()},
  };
  for (const DurationCase& c : cases) {
    Result<int64_t> r = ParseDuration(c.text);
    ASSERT_TRUE(r.ok()) << c.text << " -> " << r.status().ToString();
    EXPECT_EQ(*r, c.nanos) << c.text;
  }
}

struct RejectCase {
  std::string text;
  std::string reason;  // a substring of the message
};

TEST(ParseDuration, RejectsWithAMessageQuotingTheInput) {
  const RejectCase cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"-1s", "negative"},
      {"5x", "unknown unit \"x\""},
      {"1mo", "unknown unit \"mo\""},
      {"1S", "unknown unit \"S\""},
      {"90", "missing unit"},
      {"1h30", "missing unit"},
      {"abc", "expected a number"},
      {"h", "expected a number"},
      {".5h", "expected a number"},
      {"1.h", "expected digits after '.'"},
      {"1 h", "unexpected character ' '"},
      {"1h 30m", "expected a number at \" 30m\""},
      {"30m1h", "largest first"},
      {"1s1s", "largest first"},
      {"1.5ns", "not a whole number of nanoseconds"},
      {"0.0000000001s", "not a whole number of nanoseconds"},
      {"9223372036854775808ns", "too large"},
      {"106752d", "too large"},
      {"99999999999999999999999s", "too large"},
      {"15251w", "too large"},
      {"+1s", "expected a number"},
  };
  for (const RejectCase& c : cases) {
    Result<int64_t> r = ParseDuration(c.text);
    ASSERT_THAT(r, StatusIs(StatusCode::kInvalidArgument)) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr("bad duration \"" + c.text + "\"")) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr(c.reason)) << c.text;
  }
}

TEST(FormatDuration, ShortestReadableForm) {
  const DurationCase cases[] = {
      {"0s", 0},
      {"1ns", 1},
      {"250us", 250'000},
      {"1.5us", 1'500},
      {"500ms", 500'000'000},
      {"1.5ms", 1'500'000},
      {"1s", kSec},
      {"1.5s", 1'500'000'000},
      {"1m30s", 90 * kSec},
      {"1m30.5s", 90 * kSec + 500'000'000},
      {"1h30m", 5400 * kSec},
      {"12h", 12 * 3600 * kSec},
      {"1d", 86400 * kSec},
      {"7d", 7 * 86400 * kSec},
      {"1d1ns", 86400 * kSec + 1},
      {"1m500ms", 60 * kSec + 500'000'000},
      {"-1m30s", -90 * kSec},
  };
  for (const DurationCase& c : cases) EXPECT_EQ(FormatDuration(c.nanos), c.text) << c.nanos;
}

TEST(FormatDuration, RoundTripsThroughParseDuration) {
  const int64_t values[] = {0,
                            1,
                            999,
                            1'000,
                            123'456'789,
                            kSec,
                            59 * kSec + 1,
                            3 * kNanosPerHour + 7,
                            kNanosPerWeek,
                            123'456'789'012'345'678,
                            std::numeric_limits<int64_t>::max()};
  for (int64_t v : values) {
    ASSERT_OK_AND_ASSIGN(int64_t back, ParseDuration(FormatDuration(v)));
    EXPECT_EQ(back, v) << FormatDuration(v);
  }
}

TEST(FormatDuration, MostNegativeValueDoesNotOverflow) {
  EXPECT_EQ(FormatDuration(std::numeric_limits<int64_t>::min()), "-106751d23h47m16.854775808s");
}

constexpr int64_t kNow = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z

struct TimestampCase {
  std::string text;
  int64_t nanos;
};

TEST(ParseTimestamp, AcceptsEveryDocumentedForm) {
  const int64_t t20240102 = 1'704'153'600 * kSec;  // 2024-01-02T00:00:00Z
  const int64_t t030405 = t20240102 + (3 * 3600 + 4 * 60 + 5) * kSec;
  const TimestampCase cases[] = {
      {"1700000000000000000", 1'700'000'000'000'000'000},
      {"0", 0},
      {"-5", -5},
      {"2024-01-02", t20240102},
      {"2024-01-02T03:04:05Z", t030405},
      {"2024-01-02t03:04:05z", t030405},
      {"2024-01-02 03:04:05Z", t030405},
      {"2024-01-02T03:04:05.5Z", t030405 + 500'000'000},
      {"2024-01-02T03:04:05.123456789Z", t030405 + 123'456'789},
      {"2024-01-02T03:04:05.000000001Z", t030405 + 1},
      {"2024-01-02T05:04:05+02:00", t030405},
      {"2024-01-01T22:34:05-04:30", t030405},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.999999999Z", -1},
      {"2000-02-29", 951'782'400 * kSec},
      {"now", kNow},
      {"now-7d", kNow - 7 * kNanosPerDay},
      {"now+1h", kNow + kNanosPerHour},
      {"now-1h30m", kNow - 90 * kNanosPerMinute},
  };
  for (const TimestampCase& c : cases) {
    Result<int64_t> r = ParseTimestamp(c.text, kNow);
    ASSERT_TRUE(r.ok()) << c.text << " -> " << r.status().ToString();
    EXPECT_EQ(*r, c.nanos) << c.text;
  }
}

TEST(ParseTimestamp, EnforcesBtrdbRangeInclusiveMinExclusiveMax) {
  EXPECT_EQ(kMinTime, -1'152'921'504'606'846'976);
  EXPECT_EQ(kMaxTime, 3'458'764'513'820'540'928);
  ASSERT_OK_AND_ASSIGN(int64_t min, ParseTimestamp(std::to_string(kMinTime), kNow));
  EXPECT_EQ(min, kMinTime);
  ASSERT_OK_AND_ASSIGN(int64_t last, ParseTimestamp(std::to_string(kMaxTime - 1), kNow));
  EXPECT_EQ(last, kMaxTime - 1);
  // The formatted limits parse back to the same instants.
  ASSERT_OK_AND_ASSIGN(int64_t min_again, ParseTimestamp(FormatTimestamp(kMinTime), kNow));
  EXPECT_EQ(min_again, kMinTime);

  const std::string out_of_range[] = {
      std::to_string(kMinTime - 1),
      std::to_string(kMaxTime),
      "99999999999999999999999",
      "-9223372036854775809",
      "1900-01-01",
      "2080-01-01T00:00:00Z",
      "now+15000w",
  };
  for (const std::string& text : out_of_range) {
    Result<int64_t> r = ParseTimestamp(text, kNow);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_THAT(r.status().message(), HasSubstr("bad timestamp \"" + text + "\"")) << text;
  }
  EXPECT_THAT(ParseTimestamp("1900-01-01", kNow).status().message(),
              HasSubstr("outside BTrDB's range [1933-"));
  EXPECT_THAT(ParseTimestamp("now+5000w", kNow).status().message(), HasSubstr("outside"));
  EXPECT_THAT(ParseTimestamp("now", kMaxTime).status().message(), HasSubstr("outside"));
}

TEST(ParseTimestamp, RejectsInvalidDatesAndGarbageWithClearMessages) {
  const RejectCase cases[] = {
      {"", "empty"},
      {"2023-02-29", "2023-02 has 28 days, not 29"},
      {"2024-02-30", "2024-02 has 29 days, not 30"},
      {"2024-04-31", "has 30 days"},
      {"2024-13-01", "month 13"},
      {"2024-00-10", "month 0"},
      {"2024-01-00", "has 31 days, not 0"},
      {"2024-01-02T24:00:00Z", "invalid time of day"},
      {"2024-01-02T23:60:00Z", "invalid time of day"},
      {"2024-01-02T23:59:60Z", "invalid time of day"},
      {"2024-01-02T03:04:05", "missing time zone"},
      {"2024-01-02T03:04Z", "expected hh:mm:ss"},
      {"2024-01-02T03:04:05.Z", "digits after '.'"},
      {"2024-01-02T03:04:05.1234567891Z", "more than 9 fractional digits"},
      {"2024-01-02T03:04:05+0200", "expected +hh:mm"},
      {"2024-01-02T03:04:05+24:00", "invalid zone offset"},
      {"2024-01-02T03:04:05ZZ", "after the time zone"},
      {"2024-01-02X03:04:05Z", "between date and time"},
      {"2024-1-2", "expected integer nanoseconds"},
      {"yesterday", "expected integer nanoseconds"},
      {"12abc", "expected integer nanoseconds"},
      {"-", "expected integer nanoseconds"},
      {"1.5", "expected integer nanoseconds"},
      {"now-", "bad duration \"\""},
      {"now-5x", "unknown unit"},
      {"now-1d-1d", "expected a number"},
      {"nowish", "expected \"now\""},
  };
  for (const RejectCase& c : cases) {
    Result<int64_t> r = ParseTimestamp(c.text, kNow);
    ASSERT_THAT(r, StatusIs(StatusCode::kInvalidArgument)) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr("bad timestamp \"" + c.text + "\"")) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr(c.reason)) << c.text;
  }
}

TEST(FormatTimestamp, Rfc3339UtcWithFractionOnlyWhenNonZero) {
  const TimestampCase cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59.999999999Z", -1},
      {"2024-01-02T03:04:05Z", 1'704'164'645 * kSec},
      {"2024-01-02T03:04:05.5Z", 1'704'164'645 * kSec + 500'000'000},
      {"2024-01-02T03:04:05.000001Z", 1'704'164'645 * kSec + 1'000},
      {"2000-02-29T00:00:00Z", 951'782'400 * kSec},
      {"1677-09-21T00:12:43.145224192Z", std::numeric_limits<int64_t>::min()},
      {"2262-04-11T23:47:16.854775807Z", std::numeric_limits<int64_t>::max()},
  };
  for (const TimestampCase& c : cases) EXPECT_EQ(FormatTimestamp(c.nanos), c.text) << c.nanos;
  EXPECT_EQ(FormatTimestamp(5 * kSec + 120'000'000, 6), "1970-01-01T00:00:05.120000Z");
  EXPECT_EQ(FormatTimestamp(5 * kSec + 999'999'999, 3), "1970-01-01T00:00:05.999Z");
  EXPECT_EQ(FormatTimestamp(5 * kSec + 999'999'999, 0), "1970-01-01T00:00:05Z");
}

TEST(FormatTimestamp, RoundTripsThroughParseTimestamp) {
  const int64_t values[] = {kMinTime, kMinTime + 1, -1, 0, 1, kNow, 951'782'400 * kSec - 1,
                            kMaxTime - 1};
  for (int64_t v : values) {
    ASSERT_OK_AND_ASSIGN(int64_t back, ParseTimestamp(FormatTimestamp(v), kNow));
    EXPECT_EQ(back, v) << FormatTimestamp(v);
  }
}

TEST(CivilDate, DaysFromCivilAgreesWithCivilFromNanosAcrossCenturies) {
  // Every day from 1600 to 2400, both ways: covers leap years of every kind (1900, 2000).
  int64_t expected_days = DaysFromCivil(1600, 1, 1);
  for (int64_t year = 1600; year < 2400; ++year) {
    for (int month = 1; month <= 12; ++month) {
      for (int day = 1; day <= DaysInMonth(year, month); ++day) {
        ASSERT_EQ(DaysFromCivil(year, month, day), expected_days) << year << "-" << month;
        if (expected_days > -106'000 && expected_days < 106'000) {
          const CivilTime c = CivilFromNanos(expected_days * kNanosPerDay);
          ASSERT_EQ(c.year, year);
          ASSERT_EQ(c.month, month);
          ASSERT_EQ(c.day, day);
        }
        ++expected_days;
      }
    }
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysInMonth(1900, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
}

}  // namespace
}  // namespace btrq
