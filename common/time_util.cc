#include "common/time_util.h"

#include <cstdio>
#include <limits>
#include <string>

namespace btrq {
namespace {

using Int128 = __int128;  // headroom for overflow checks before narrowing to int64

constexpr Int128 kInt64Max = std::numeric_limits<int64_t>::max();

struct DurationUnit {
  std::string_view name;
  int64_t nanos;
};

constexpr DurationUnit kDurationUnits[] = {
    {"ns", 1},
    {"us", kNanosPerMicro},
    {"ms", kNanosPerMilli},
    {"s", kNanosPerSecond},
    {"m", kNanosPerMinute},
    {"h", kNanosPerHour},
    {"d", kNanosPerDay},
    {"w", kNanosPerWeek},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// InvalidArgument: bad WHAT "TEXT": WHY.
Status BadValue(std::string_view what, std::string_view text, std::string_view why) {
  std::string msg = "bad ";
  msg.append(what);
  msg.append(" \"");
  msg.append(text);
  msg.append("\": ");
  msg.append(why);
  return Status::InvalidArgument(std::move(msg));
}

Status BadDuration(std::string_view text, std::string_view why) {
  return BadValue("duration", text, why);
}

Status BadTimestamp(std::string_view text, std::string_view why) {
  return BadValue("timestamp", text, why);
}

Int128 Pow10(int n) {
  Int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// Writes `value / unit` as a decimal with the remainder as a trimmed fraction.
// REQUIRES: unit is a power of ten.
std::string FormatScaled(uint64_t value, uint64_t unit) {
  std::string out = std::to_string(value / unit);
  uint64_t frac = value % unit;
  if (frac == 0) return out;
  int digits = 0;
  for (uint64_t u = unit; u > 1; u /= 10) ++digits;
  std::string f = std::to_string(frac);
  f.insert(0, static_cast<size_t>(digits) - f.size(), '0');
  while (!f.empty() && f.back() == '0') f.pop_back();
  out.push_back('.');
  out.append(f);
  return out;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Reads exactly `n` digits at `*pos`; false if any is missing.
bool ReadDigits(std::string_view s, size_t* pos, int n, int64_t* out) {
  if (*pos + static_cast<size_t>(n) > s.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + static_cast<size_t>(i)];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(n);
  *out = v;
  return true;
}

std::string RangeText() {
  return "outside BTrDB's range [" + FormatTimestamp(kMinTime) + ", " +
         FormatTimestamp(kMaxTime) + ")";
}

Result<int64_t> CheckRange(std::string_view text, Int128 ns) {
  if (ns < kMinTime || ns >= kMaxTime) return BadTimestamp(text, RangeText());
  return static_cast<int64_t>(ns);
}

constexpr std::string_view kTimestampForms =
    "expected integer nanoseconds, RFC 3339 (2024-01-02T03:04:05Z), a date (2024-01-02), "
    "or now[+-duration]";

// Parses "YYYY-MM-DD[(T|t| )hh:mm:ss[.fraction](Z|z|+hh:mm|-hh:mm)]".
Result<int64_t> ParseCivilTimestamp(std::string_view text) {
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0;
  if (!ReadDigits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &day)) {
    return BadTimestamp(text, kTimestampForms);
  }
  if (month < 1 || month > 12) {
    return BadTimestamp(text, "invalid date: month " + std::to_string(month) + " is not 1..12");
  }
  const int month_days = DaysInMonth(year, static_cast<int>(month));
  if (day < 1 || day > month_days) {
    char ym[16];
    std::snprintf(ym, sizeof(ym), "%04d-%02d", static_cast<int>(year), static_cast<int>(month));
    return BadTimestamp(text, "invalid date: " + std::string(ym) + " has " +
                                  std::to_string(month_days) + " days, not " +
                                  std::to_string(day));
  }
  const Int128 days = DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day));
  if (pos == text.size()) return CheckRange(text, days * kNanosPerDay);

  const char sep = text[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') {
    return BadTimestamp(text, "expected 'T' or ' ' between date and time");
  }
  int64_t hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':' ||
      !ReadDigits(text, &pos, 2, &minute) || pos >= text.size() || text[pos++] != ':' ||
      !ReadDigits(text, &pos, 2, &second)) {
    return BadTimestamp(text, "malformed time of day (expected hh:mm:ss)");
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return BadTimestamp(text, "invalid time of day (hours 00..23, minutes and seconds 00..59)");
  }
  int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (++digits > 9) return BadTimestamp(text, "more than 9 fractional digits");
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return BadTimestamp(text, "expected digits after '.'");
    nanos *= static_cast<int64_t>(Pow10(9 - digits));
  }
  if (pos == text.size()) {
    return BadTimestamp(text, "missing time zone (add Z for UTC, or an offset like +02:00)");
  }
  int64_t offset_seconds = 0;
  const char zone = text[pos++];
  if (zone == 'Z' || zone == 'z') {
    // UTC.
  } else if (zone == '+' || zone == '-') {
    int64_t oh = 0, om = 0;
    if (!ReadDigits(text, &pos, 2, &oh) || pos >= text.size() || text[pos++] != ':' ||
        !ReadDigits(text, &pos, 2, &om)) {
      return BadTimestamp(text, "malformed zone offset (expected +hh:mm or -hh:mm)");
    }
    if (oh > 23 || om > 59) return BadTimestamp(text, "invalid zone offset");
    offset_seconds = (oh * 3600 + om * 60) * (zone == '-' ? -1 : 1);
  } else {
    return BadTimestamp(text, "expected Z or an offset like +02:00 after the time");
  }
  if (pos != text.size()) return BadTimestamp(text, "unexpected text after the time zone");

  const Int128 seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return CheckRange(text, seconds * kNanosPerSecond + nanos);
}

// REQUIRES: 0 < v < 1s.
std::string FormatSubSecond(uint64_t v) {
  if (v >= static_cast<uint64_t>(kNanosPerMilli)) return FormatScaled(v, kNanosPerMilli) + "ms";
  if (v >= static_cast<uint64_t>(kNanosPerMicro)) return FormatScaled(v, kNanosPerMicro) + "us";
  return std::to_string(v) + "ns";
}

std::string FormatUnsignedDuration(uint64_t v) {
  if (v == 0) return "0s";
  if (v < static_cast<uint64_t>(kNanosPerSecond)) return FormatSubSecond(v);
  std::string out;
  uint64_t rest = v;
  const struct {
    uint64_t nanos;
    const char* name;
  } kParts[] = {{static_cast<uint64_t>(kNanosPerDay), "d"},
                {static_cast<uint64_t>(kNanosPerHour), "h"},
                {static_cast<uint64_t>(kNanosPerMinute), "m"}};
  for (const auto& part : kParts) {
    if (rest >= part.nanos) {
      out += std::to_string(rest / part.nanos) + part.name;
      rest %= part.nanos;
    }
  }
  if (rest >= static_cast<uint64_t>(kNanosPerSecond)) {
    out += FormatScaled(rest, kNanosPerSecond) + "s";
  } else if (rest != 0) {
    out += FormatSubSecond(rest);
  }
  return out;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view input) {
  const std::string_view text = TrimSpace(input);
  if (text.empty()) return BadDuration(input, "empty");
  if (text.front() == '-') return BadDuration(input, "negative durations are not allowed");
  if (text == "0") return int64_t{0};

  Int128 total = 0;
  int64_t previous_unit = 0;  // 0: no term yet
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t term_start = pos;
    if (!IsDigit(text[pos])) {
      return BadDuration(input, "expected a number at \"" + std::string(text.substr(pos)) + "\"");
    }
    Int128 whole = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      whole = whole * 10 + (text[pos] - '0');
      if (whole > kInt64Max) return BadDuration(input, "too large (overflows int64 nanoseconds)");
      ++pos;
    }
    std::string_view frac_digits;
    if (pos < text.size() && text[pos] == '.') {
      const size_t frac_start = ++pos;
      while (pos < text.size() && IsDigit(text[pos])) ++pos;
      frac_digits = text.substr(frac_start, pos - frac_start);
      if (frac_digits.empty()) return BadDuration(input, "expected digits after '.'");
    }
    const size_t unit_start = pos;
    while (pos < text.size() && IsAlpha(text[pos])) ++pos;
    const std::string_view unit_name = text.substr(unit_start, pos - unit_start);
    if (unit_name.empty()) {
      if (pos == text.size()) {
        return BadDuration(input, "missing unit (ns, us, ms, s, m, h, d or w), e.g. \"90s\"");
      }
      return BadDuration(input, "unexpected character '" + std::string(1, text[pos]) + "'");
    }
    int64_t unit = 0;
    for (const DurationUnit& u : kDurationUnits) {
      if (u.name == unit_name) unit = u.nanos;
    }
    if (unit == 0) {
      return BadDuration(input, "unknown unit \"" + std::string(unit_name) +
                                    "\" (expected ns, us, ms, s, m, h, d or w)");
    }
    if (previous_unit != 0 && unit >= previous_unit) {
      return BadDuration(input, "each unit may appear once, largest first (e.g. \"1h30m\")");
    }
    previous_unit = unit;

    Int128 term = whole * unit;
    while (!frac_digits.empty() && frac_digits.back() == '0') frac_digits.remove_suffix(1);
    if (!frac_digits.empty()) {
      const std::string_view term_text = text.substr(term_start, pos - term_start);
      if (frac_digits.size() > 18) {
        return BadDuration(input, "\"" + std::string(term_text) +
                                      "\" is not a whole number of nanoseconds");
      }
      Int128 frac = 0;
      for (char c : frac_digits) frac = frac * 10 + (c - '0');
      const Int128 scale = Pow10(static_cast<int>(frac_digits.size()));
      if ((frac * unit) % scale != 0) {
        return BadDuration(input, "\"" + std::string(term_text) +
                                      "\" is not a whole number of nanoseconds");
      }
      term += frac * unit / scale;
    }
    total += term;
    if (total > kInt64Max) return BadDuration(input, "too large (overflows int64 nanoseconds)");
  }
  return static_cast<int64_t>(total);
}

std::string FormatDuration(int64_t ns) {
  // Negating in unsigned arithmetic is defined for INT64_MIN too.
  if (ns < 0) return "-" + FormatUnsignedDuration(0 - static_cast<uint64_t>(ns));
  return FormatUnsignedDuration(static_cast<uint64_t>(ns));
}

Result<int64_t> ParseTimestamp(std::string_view input, int64_t now_ns) {
  const std::string_view text = TrimSpace(input);
  if (text.empty()) return BadTimestamp(input, "empty");

  if (text.substr(0, 3) == "now") {
    const std::string_view rest = text.substr(3);
    if (rest.empty()) return CheckRange(input, now_ns);
    if (rest.front() != '+' && rest.front() != '-') {
      return BadTimestamp(input, "expected \"now\", \"now+DURATION\" or \"now-DURATION\"");
    }
    Result<int64_t> d = ParseDuration(rest.substr(1));
    if (!d.ok()) return BadTimestamp(input, d.status().message());
    const Int128 t = rest.front() == '+' ? Int128{now_ns} + *d : Int128{now_ns} - *d;
    return CheckRange(input, t);
  }

  size_t pos = (text.front() == '-') ? 1 : 0;
  bool all_digits = pos < text.size();
  for (size_t i = pos; i < text.size(); ++i) all_digits = all_digits && IsDigit(text[i]);
  if (all_digits) {
    if (text.size() - pos > 19) return BadTimestamp(input, RangeText());
    Int128 v = 0;
    for (size_t i = pos; i < text.size(); ++i) v = v * 10 + (text[i] - '0');
    return CheckRange(input, pos == 1 ? -v : v);
  }

  return ParseCivilTimestamp(text);
}

std::string FormatTimestamp(int64_t ns, int fraction_digits) {
  const CivilTime c = CivilFromNanos(ns);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d",
                static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  std::string out(buf);
  if (fraction_digits > 9) fraction_digits = 9;
  if (fraction_digits != 0 && (fraction_digits > 0 || c.nanos != 0)) {
    std::snprintf(buf, sizeof(buf), "%09d", c.nanos);
    std::string f(buf);
    if (fraction_digits < 0) {
      while (f.back() == '0') f.pop_back();
    } else {
      f.resize(static_cast<size_t>(fraction_digits));
    }
    out += "." + f;
  }
  out += "Z";
  return out;
}

int64_t DaysFromCivil(int64_t year, int month, int day) {
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                         // [0, 399]
  const int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilTime CivilFromNanos(int64_t ns) {
  const int64_t seconds = FloorDiv(ns, kNanosPerSecond);
  CivilTime c;
  // The remainder, not ns - seconds * 1e9: that product overflows near INT64_MIN.
  const int64_t rem = ns % kNanosPerSecond;
  c.nanos = static_cast<int>(rem < 0 ? rem + kNanosPerSecond : rem);
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t sod = seconds - days * 86400;
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>(sod / 60 % 60);
  c.second = static_cast<int>(sod % 60);

  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                  // [0, 11]
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  return c;
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) {
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

}  // namespace btrq
