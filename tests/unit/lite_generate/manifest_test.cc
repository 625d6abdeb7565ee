#include "lite/manifest.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/support/status_matchers.h"

namespace btrq::lite {
namespace {

// A strict recursive-descent JSON (RFC 8259) checker: true when `text` is exactly one
// JSON value with optional surrounding whitespace. Tracks the number of object members.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : s_(text) {}

  bool Valid() {
    SkipSpace();
    if (!Value(0)) return false;
    SkipSpace();
    return pos_ == s_.size();
  }
  int members() const { return members_; }

 private:
  bool Value(int depth) {
    if (depth > 64 || pos_ >= s_.size()) return false;
    switch (s_[pos_]) {
      case '{':
        return Object(depth);
      case '[':
        return Array(depth);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }
  bool Object(int depth) {
    ++pos_;
    SkipSpace();
    if (Eat('}')) return true;
    while (true) {
      SkipSpace();
      if (!String()) return false;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      if (!Value(depth + 1)) return false;
      ++members_;
      SkipSpace();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }
  bool Array(int depth) {
    ++pos_;
    SkipSpace();
    if (Eat(']')) return true;
    while (true) {
      SkipSpace();
      if (!Value(depth + 1)) return false;
      SkipSpace();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }
  bool String() {
    if (!Eat('"')) return false;
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (pos_ >= s_.size()) return false;
        const char e = s_[pos_++];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_++]))) {
              return false;
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const size_t begin = pos_;
    Eat('-');
    if (Eat('0')) {
    } else if (!Digits()) {
      return false;
    }
    if (Eat('.') && !Digits()) return false;
    if (Eat('e') || Eat('E')) {
      if (!Eat('+')) Eat('-');
      if (!Digits()) return false;
    }
    return pos_ > begin;
  }
  bool Digits() {
    const size_t begin = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return pos_ > begin;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && std::string_view(" \t\r\n").find(s_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  int members_ = 0;
};

std::string Manifest(const GeneratorOptions& o) {
  Result<std::vector<StreamPlan>> plans = PlanStreams(o);
  EXPECT_OK(plans);
  std::vector<StreamTruth> truths;
  for (const StreamPlan& p : *plans) truths.push_back(ComputeTruth(p, o));
  return ManifestJson(o, *plans, truths);
}

GeneratorOptions SmallOptions() {
  GeneratorOptions o;
  o.streams = 3;
  o.duration = 2 * 3600'000000000LL;
  o.chunk = 3600'000000000LL;
  return o;
}

TEST(JsonChecker, AcceptsJsonAndRejectsNearMisses) {
  EXPECT_TRUE(JsonChecker(R"({"a":[1,-2.5e3,true,null,"x\"\u00e9"],"b":{}})").Valid());
  EXPECT_FALSE(JsonChecker(R"({"a":1,})").Valid());
  EXPECT_FALSE(JsonChecker(R"({"a":nan})").Valid());
  EXPECT_FALSE(JsonChecker("{\"a\":\"tab\there\"}").Valid());
  EXPECT_FALSE(JsonChecker(R"([1] [2])").Valid());
  EXPECT_FALSE(JsonChecker(R"({"a":01})").Valid());
}

TEST(Manifest, IsWellFormedJson) {
  const std::string json = Manifest(SmallOptions());
  JsonChecker checker(json);
  EXPECT_TRUE(checker.Valid()) << json.substr(0, 400);
  EXPECT_GT(checker.members(), 100);
}

TEST(Manifest, EscapesAnOddCollectionName) {
  GeneratorOptions o = SmallOptions();
  o.collection = "odd \"name\"\\with\ncontrol";
  o.streams = 1;
  const std::string json = Manifest(o);
  EXPECT_TRUE(JsonChecker(json).Valid());
  EXPECT_NE(json.find(R"("collection":"odd \"name\"\\with\ncontrol")"), std::string::npos);
}

TEST(Manifest, IsDeterministic) {
  EXPECT_EQ(Manifest(SmallOptions()), Manifest(SmallOptions()));
  GeneratorOptions other = SmallOptions();
  other.seed = 2;
  EXPECT_NE(Manifest(SmallOptions()), Manifest(other));
}

TEST(Manifest, NamesStreamsBoundsDefectsAndTruth) {
  const GeneratorOptions o = SmallOptions();
  Result<std::vector<StreamPlan>> plans = PlanStreams(o);
  ASSERT_OK(plans);
  const std::string json = Manifest(o);
  for (const StreamPlan& p : *plans) {
    EXPECT_NE(json.find("\"uuid\":\"" + p.uuid.ToString() + "\""), std::string::npos);
    EXPECT_NE(json.find("\"name\":\"" + p.name + "\""), std::string::npos);
  }
  for (const char* key :
       {"\"kinds\":{\"voltage\":{\"unit\":\"V\",\"min\":6840.0,\"max\":7560.0}",
        "\"period_ns\":33333333.333333332", "\"defects\":[{\"type\":", "\"injected\":{",
        "\"truth\":{\"count\":", "\"chunks\":[{\"start\":", "\"longest_stuck\":",
        "\"stuck_runs\":", "\"completeness\":", "\"score\":", "\"boundary\":true",
        "\"nonfinite\":0", "\"chunk_ns\":3600000000000", "\"stuck_min\":10"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace btrq::lite
