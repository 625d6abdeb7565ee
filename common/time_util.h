#pragma once

// Durations and timestamps as people write them in configs, job specs and on the command
// line. All values are int64 nanoseconds; timestamps count from the Unix epoch in UTC.
// Civil-date arithmetic is our own (no timegm, no locale, no TZ database).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq {

// BTrDB's valid time range: [kMinTime, kMaxTime). Roughly 1933-07-29 to 2079-12-05.
inline constexpr int64_t kMinTime = -(int64_t{16} << 56);
inline constexpr int64_t kMaxTime = int64_t{48} << 56;

inline constexpr int64_t kNanosPerMicro = 1'000;
inline constexpr int64_t kNanosPerMilli = 1'000'000;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr int64_t kNanosPerHour = 60 * kNanosPerMinute;
inline constexpr int64_t kNanosPerDay = 24 * kNanosPerHour;
inline constexpr int64_t kNanosPerWeek = 7 * kNanosPerDay;

// Parses a non-negative duration into nanoseconds: one or more <number><unit> terms with
// units in decreasing order ("90s", "1h30m", "1.5h", "500ms"), or a plain "0".
// Units: ns, us, ms, s, m (minute), h, d (24h), w (7d). A fraction is allowed when the
// term is a whole number of nanoseconds. Surrounding ASCII whitespace is ignored.
// Errors (kInvalidArgument) quote the input: empty, negative, overflow, unknown unit,
// missing unit, garbage.
Result<int64_t> ParseDuration(std::string_view text);

// Shortest readable form: "0s", "500ms", "1.5ms", "250us", "90s" -> "1m30s", "1h30m",
// "1d12h", "1m30.5s". Non-negative values round-trip exactly through ParseDuration.
// Negative values get a leading '-' (display only; ParseDuration rejects them).
std::string FormatDuration(int64_t ns);

// Parses a timestamp into nanoseconds since the epoch (UTC). Accepts:
//   integer nanoseconds            "1700000000000000000", "-5"
//   RFC 3339                       "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+02:00"
//                                  (lowercase t/z allowed, up to 9 fractional digits,
//                                  offsets +hh:mm / -hh:mm; the zone is required)
//   a date                         "2024-01-02" (midnight UTC)
//   relative to `now_ns`           "now", "now-7d", "now+1h30m" (ParseDuration syntax)
// The result must lie in [kMinTime, kMaxTime). Errors (kInvalidArgument) quote the input
// and say what is wrong: invalid date (Feb 30), out of range, garbage.
Result<int64_t> ParseTimestamp(std::string_view text, int64_t now_ns);

// RFC 3339 in UTC. With fraction_digits < 0: fractional seconds only when non-zero, with
// trailing zeros trimmed ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5Z"); otherwise
// exactly that many digits (0..9, truncated). Defined for every int64.
std::string FormatTimestamp(int64_t ns, int fraction_digits = -1);

// A broken-down UTC time.
struct CivilTime {
  int64_t year = 1970;
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int hour = 0;    // 0..23
  int minute = 0;  // 0..59
  int second = 0;  // 0..59
  int nanos = 0;   // 0..999'999'999
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
// REQUIRES: month in 1..12, day in 1..31.
int64_t DaysFromCivil(int64_t year, int month, int day);

// The UTC civil time of `ns` nanoseconds since the epoch. Defined for every int64.
CivilTime CivilFromNanos(int64_t ns);

// Number of days in `month` (1..12) of `year`, leap years included.
int DaysInMonth(int64_t year, int month);

}  // namespace btrq
