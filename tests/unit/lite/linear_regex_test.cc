#include "lite/linear_regex.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/support/status_matchers.h"

namespace btrq::lite {
namespace {

bool Matches(const std::string& pattern, const std::string& subject) {
  Result<LinearRegex> re = LinearRegex::Compile(pattern);
  if (!re.ok()) ADD_FAILURE() << pattern << ": " << re.status().ToString();
  return re.ok() && re->Search(subject);
}

// The same answers std::regex_search gives (ECMAScript) on the patterns people write.
TEST(LinearRegex, MatchesLikeRegexSearch) {
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"^grid", "grid/a", true},       {"^grid", "a/grid", false},
      {"grid", "a/grid", true},        {"a$", "grid/a", true},
      {"^$", "", true},                {"^$", "x", false},
      {"", "anything", true},          {"b.d", "abcde", true},
      {"b.d", "ab\nde", false},        {"^a.*z$", "abcz", true},
      {"^a.*z$", "abczy", false},      {"colou?r", "color", true},
      {"colou?r", "colour", true},     {"ab+c", "ac", false},
      {"ab+c", "abbbc", true},         {"^(ab|cd)+$", "abcdab", true},
      {"^(ab|cd)+$", "abce", false},   {"^(?:a|b)*c", "ababc", true},
      {"^a{2,3}$", "aa", true},        {"^a{2,3}$", "aaaa", false},
      {"^a{2}$", "aa", true},          {"^a{2,}$", "aaaaa", true},
      {"^x{,2}$", "x{,2}", true},      {"[a-c]+x", "zzbcax", true},
      {"^[^/]+$", "a/b", false},       {"^[^/]+$", "ab", true},
      {"[]]", "]", true},              {"^[\\d.]+$", "1.5", true},
      {"\\w+\\s\\w+", "hi there", true}, {"\\D", "123", false},
      {"\\.", "a.b", true},            {"\\.", "ab", false},
      {"a\\|b", "a|b", true},          {"\\x41", "A", true},
      {"^sensor-\\d{2}$", "sensor-07", true}, {"^sensor-\\d{2}$", "sensor-7", false},
      {"a*?b", "aab", true},           {"(a|)+b", "b", true},
      {"^(a*)*$", "aaaa", true},       {"[a-]", "-", true},
  };
  for (const auto& [pattern, subject, want] : cases) {
    EXPECT_EQ(Matches(pattern, subject), want) << "'" << pattern << "' on '" << subject << "'";
  }
}

// Issue #14: std::regex backtracks, so these took exponential time (or overflowed the
// stack); simulated as an NFA they take time linear in the subject.
TEST(LinearRegex, HostilePatternsTakeLinearTime) {
  const std::string as(100'000, 'a');
  for (const char* pattern : {"(a*)*b", "(a|a)*b", "(a|aa)+$x", "^(a+)+$b", ".*.*.*.*.*.*.*.*x",
                              "(.*a){20}x"}) {
    ASSERT_OK_AND_ASSIGN(LinearRegex re, LinearRegex::Compile(pattern));
    EXPECT_FALSE(re.Search(as)) << pattern;
  }
  ASSERT_OK_AND_ASSIGN(LinearRegex re, LinearRegex::Compile("(a*)*$"));
  EXPECT_TRUE(re.Search(as));
}

TEST(LinearRegex, BadAndUnsupportedPatternsAreRefused) {
  for (const char* pattern : {"(", "a)", "[a", "*a", "a**", "a{3,1}", "(\\1)", "(?=a)", "\\b",
                              "[z-a]", "a{1001}", "\\", "\\q"}) {
    EXPECT_EQ(LinearRegex::Compile(pattern).status().code(), StatusCode::kInvalidArgument)
        << pattern;
  }
  EXPECT_EQ(LinearRegex::Compile(std::string(LinearRegex::kMaxPatternBytes + 1, 'a')).status().code(),
            StatusCode::kInvalidArgument);
  // Bounded repetitions are unrolled: the program's size is bounded too.
  EXPECT_EQ(LinearRegex::Compile("((a{100}){100}){100}").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::lite
