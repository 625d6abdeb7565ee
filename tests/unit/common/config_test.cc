#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/time_util.h"
#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

enum class Color { kRed, kGreen, kBlue };

// A struct with one field of every type, bound the way option structs are.
struct Sample {
  std::string name = "sample";
  bool verbose = false;
  int64_t offset = -1;
  uint32_t count = 3;
  double ratio = 0.5;
  int64_t every = kNanosPerSecond;
  int64_t since = 0;
  std::vector<std::string> hosts = {"a:1"};
  Color color = Color::kRed;
  std::string password;
  std::string must;
};

void BindSample(Sample* s, ConfigBinder* b) {
  b->Section("app", "A test section.")
      .String("name", &s->name, "A name")
      .Bool("verbose", &s->verbose, "Talk more")
      .Int64("offset", &s->offset, "Signed")
      .Uint32("count", &s->count, "Unsigned")
      .Double("ratio", &s->ratio, "Real")
      .Duration("every", &s->every, "Period")
      .Timestamp("since", &s->since, "Start")
      .StringList("hosts", &s->hosts, "Peers")
      .Enum("color", &s->color,
            {{"red", Color::kRed}, {"green", Color::kGreen}, {"blue", Color::kBlue}}, "Hue")
      .String("password", &s->password, "Secret").Secret()
      .String("must", &s->must, "Needed").Required();
  b->Section("other", "Another section.").Uint32("count", &s->count, "Alias for tests");
}

class SampleConfig : public ::testing::Test {
 protected:
  SampleConfig() : binder_(&clock_) { BindSample(&sample_, &binder_); }

  Status Load(const std::string& yaml) { return binder_.LoadYamlText(yaml, "config/test.yaml"); }

  testing::FakeClock clock_;
  Sample sample_;
  ConfigBinder binder_;
};

TEST_F(SampleConfig, YamlSetsEveryFieldType) {
  ASSERT_OK(Load(R"(
app:
  name: "svc"
  verbose: yes
  offset: -42
  count: 4294967295
  ratio: 2.25
  every: 1h30m
  since: now-1d
  hosts: [h1:1, "h2:2"]
  color: GREEN
  password: hunter2
  must: here
)"));
  EXPECT_EQ(sample_.name, "svc");
  EXPECT_TRUE(sample_.verbose);
  EXPECT_EQ(sample_.offset, -42);
  EXPECT_EQ(sample_.count, 4294967295u);
  EXPECT_EQ(sample_.ratio, 2.25);
  EXPECT_EQ(sample_.every, 90 * kNanosPerMinute);
  EXPECT_EQ(sample_.since, clock_.WallNanos() - kNanosPerDay);
  EXPECT_EQ(sample_.hosts, (std::vector<std::string>{"h1:1", "h2:2"}));
  EXPECT_EQ(sample_.color, Color::kGreen);
  EXPECT_EQ(sample_.password, "hunter2");
  EXPECT_OK(binder_.CheckRequired());
  EXPECT_EQ(binder_.Find("app.every")->origin, "config/test.yaml:8");
  EXPECT_EQ(binder_.Find("app.offset")->origin, "config/test.yaml:5");
}

TEST_F(SampleConfig, ADurationBeyondAYearIsRefused) {
  // Every config duration is added to a time point; 290 years overflowed it.
  const Status s = Load("app:\n  every: 106000d\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("exceeds the limit of"));
  ASSERT_OK(Load("app:\n  every: 365d\n"));
}

TEST_F(SampleConfig, StringListAcceptsACommaSeparatedScalar) {
  ASSERT_OK(Load("app:\n  hosts: \"x:1, y:2,,z:3\"\n"));
  EXPECT_EQ(sample_.hosts, (std::vector<std::string>{"x:1", "y:2", "z:3"}));
}

TEST_F(SampleConfig, EmptyFileAndEmptySectionKeepDefaults) {
  ASSERT_OK(Load(""));
  ASSERT_OK(Load("# only a comment\n"));
  ASSERT_OK(Load("app:\n"));
  EXPECT_EQ(sample_.name, "sample");
  EXPECT_EQ(sample_.every, kNanosPerSecond);
  EXPECT_EQ(binder_.Find("app.name")->origin, "default");
}

struct YamlErrorCase {
  std::string what;
  std::string yaml;
  std::string message;  // the whole message
};

// Every YAML error names the file, the 1-based line and the key path.
TEST_F(SampleConfig, YamlErrorsNameFileLineAndKey) {
  const YamlErrorCase cases[] = {
      {"unknown key, close to a known one", "app:\n  name: x\n  evrey: 1s\n",
       "config/test.yaml:3: app.evrey: unknown key (did you mean \"every\"?)"},
      {"unknown key, known in another section", "other:\n  name: x\n",
       "config/test.yaml:2: other.name: unknown key (did you mean app.name?)"},
      {"unknown key, nothing close", "app:\n  zzzzzz: 1\n",
       "config/test.yaml:2: app.zzzzzz: unknown key"},
      {"unknown section", "\n\napq:\n  name: x\n",
       "config/test.yaml:3: unknown section \"apq\" (did you mean \"app\"?)"},
      {"bad duration", "app:\n  every: 5x\n",
       "config/test.yaml:2: app.every: bad duration \"5x\": unknown unit \"x\" (expected ns, "
       "us, ms, s, m, h, d or w)"},
      {"bad timestamp", "app:\n  since: 2023-02-30\n",
       "config/test.yaml:2: app.since: bad timestamp \"2023-02-30\": invalid date: 2023-02 has "
       "28 days, not 30"},
      {"bad enum value", "app:\n  name: x\n  color: purple\n",
       "config/test.yaml:3: app.color: bad value \"purple\" (expected one of: red, green, blue)"},
      {"wrong type: text for uint32", "app:\n  count: lots\n",
       "config/test.yaml:2: app.count: expected an unsigned 32-bit integer (0..4294967295), got "
       "\"lots\""},
      {"wrong type: negative uint32", "app:\n  count: -1\n",
       "config/test.yaml:2: app.count: expected an unsigned 32-bit integer (0..4294967295), got "
       "\"-1\""},
      {"wrong type: uint32 overflow", "app:\n  count: 4294967296\n",
       "config/test.yaml:2: app.count: expected an unsigned 32-bit integer (0..4294967295), got "
       "\"4294967296\""},
      {"wrong type: int64 overflow", "app:\n  offset: 9223372036854775808\n",
       "config/test.yaml:2: app.offset: expected a 64-bit integer, got \"9223372036854775808\""},
      {"wrong type: bool", "app:\n  verbose: maybe\n",
       "config/test.yaml:2: app.verbose: expected true or false, got \"maybe\""},
      {"wrong type: double", "app:\n  ratio: .nan\n",
       "config/test.yaml:2: app.ratio: expected a finite number, got \".nan\""},
      {"wrong type: list for a scalar", "app:\n  every: [1s, 2s]\n",
       "config/test.yaml:2: app.every: expected a duration, got a list"},
      {"wrong type: mapping for a scalar", "app:\n  name: {a: 1}\n",
       "config/test.yaml:2: app.name: expected a string, got a mapping"},
      {"wrong type: nested list item", "app:\n  hosts:\n    - a\n    - [b]\n",
       "config/test.yaml:4: app.hosts: expected a list of strings, got a list in it"},
      {"wrong type: section is a scalar", "app: 5\n",
       "config/test.yaml:1: app: expected a mapping of keys, got a scalar"},
      {"wrong type: top level is a list", "- app\n",
       "config/test.yaml:1: expected a mapping of sections (e.g. \"broker:\") at the top level, "
       "got a list"},
      {"missing value", "app:\n  name: x\n  every:\n",
       "config/test.yaml:3: app.every: missing value"},
      {"missing string value", "app:\n  name:\n",
       "config/test.yaml:2: app.name: missing value (write \"\" for an empty string)"},
      {"duplicate key", "app:\n  name: a\n  name: b\n",
       "config/test.yaml:3: app.name: duplicate key (first at config/test.yaml:2)"},
      {"duplicate section", "app:\n  name: a\nother:\n  count: 1\napp:\n  count: 2\n",
       "config/test.yaml:5: app: duplicate section (first at config/test.yaml:1)"},
      {"YAML syntax error: unclosed list", "app:\n  name: [a, b\n  count: 1\n",
       "config/test.yaml:3: YAML syntax error: end of sequence flow not found (column 8)"},
      {"YAML syntax error: two values", "app:\n  name: a: b\n",
       "config/test.yaml:2: YAML syntax error: illegal map value (column 10)"},
      {"YAML syntax error: bad indentation", "app:\n  name: a\n count: 1\n",
       "config/test.yaml:3: YAML syntax error: end of map not found (column 2)"},
  };
  for (const YamlErrorCase& c : cases) {
    Sample sample;
    ConfigBinder binder(&clock_);
    BindSample(&sample, &binder);
    const Status s = binder.LoadYamlText(c.yaml, "config/test.yaml");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_EQ(s.message(), c.message) << c.what;
  }
}

TEST_F(SampleConfig, MissingRequiredValueNamesTheSectionLineAndKey) {
  ASSERT_OK(Load("# header\napp:\n  name: x\n"));
  const Status s = binder_.CheckRequired();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "config/test.yaml:2: app.must: required value missing (set it in the config file, "
            "with BTRQ_APP_MUST, or with --set app.must=...)");
}

TEST_F(SampleConfig, MissingRequiredValueWithoutAFileNamesTheKey) {
  EXPECT_THAT(binder_.CheckRequired().message(), HasSubstr("app.must: required value missing"));
  ASSERT_OK(binder_.ApplyOverride({"app.must", "ok", "flag --set app.must"}));
  EXPECT_OK(binder_.CheckRequired());
}

TEST_F(SampleConfig, UnreadableFileNamesTheFile) {
  const std::string missing = ::testing::TempDir() + "/no-such-dir/none.yaml";
  const Status s = binder_.LoadYamlFile(missing);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), missing + ": cannot read config file: No such file or directory");
  const Status dir = binder_.LoadYamlFile(::testing::TempDir());
  EXPECT_THAT(dir.message(), HasSubstr("cannot read config file: Is a directory"));
}

TEST_F(SampleConfig, EnvironmentErrorsNameTheVariable) {
  Status s = binder_.ApplyEnv(Env::FromMap({{"BTRQ_APP_EVERY", "5x"}}), "BTRQ");
  EXPECT_EQ(s.message(),
            "environment variable BTRQ_APP_EVERY: app.every: bad duration \"5x\": unknown unit "
            "\"x\" (expected ns, us, ms, s, m, h, d or w)");

  s = binder_.ApplyEnv(Env::FromMap({{"BTRQ_APP_EVRY", "5s"}}), "BTRQ");
  EXPECT_EQ(s.message(),
            "environment variable BTRQ_APP_EVRY: no such option in section \"app\" (did you "
            "mean BTRQ_APP_EVERY?)");

  // Variables of sections we do not have belong to someone else.
  EXPECT_OK(binder_.ApplyEnv(Env::FromMap({{"BTRQ_SOURCE_DIR", "/x"}, {"HOME", "/"}}), "BTRQ"));
}

TEST_F(SampleConfig, FlagErrorsNameTheFlag) {
  ASSERT_OK_AND_ASSIGN(ConfigOverride bad_value, ParseSetFlag("app.count=many"));
  EXPECT_EQ(binder_.ApplyOverride(bad_value).message(),
            "flag --set app.count: app.count: expected an unsigned 32-bit integer "
            "(0..4294967295), got \"many\"");

  ASSERT_OK_AND_ASSIGN(ConfigOverride unknown, ParseSetFlag("app.colour=red"));
  EXPECT_EQ(binder_.ApplyOverride(unknown).message(),
            "flag --set app.colour: unknown key \"app.colour\" (did you mean \"color\"?)");

  ASSERT_OK_AND_ASSIGN(ConfigOverride section, ParseSetFlag("ap.name=x"));
  EXPECT_EQ(binder_.ApplyOverride(section).message(),
            "flag --set ap.name: unknown key \"ap.name\" (did you mean \"app\"?)");

  EXPECT_EQ(binder_.ApplyOverride({"app.color", "teal", "flag --color"}).message(),
            "flag --color: app.color: bad value \"teal\" (expected one of: red, green, blue)");

  for (const char* malformed : {"app.name", "name=x", "=x", ".name=x", "app.=x"}) {
    const Result<ConfigOverride> r = ParseSetFlag(malformed);
    ASSERT_FALSE(r.ok()) << malformed;
    EXPECT_THAT(r.status().message(), HasSubstr("expected section.key=value")) << malformed;
  }
  // The value after '=' never appears in the error: it may be a secret.
  EXPECT_THAT(ParseSetFlag("nodot=hunter2").status().message(), Not(HasSubstr("hunter2")));
  ASSERT_OK_AND_ASSIGN(ConfigOverride eq_in_value, ParseSetFlag("app.name=a=b"));
  EXPECT_EQ(eq_in_value.value, "a=b");
  EXPECT_EQ(eq_in_value.source, "flag --set app.name");
}

TEST_F(SampleConfig, ValidationErrorsNameWhereTheValueCameFrom) {
  ASSERT_OK(Load("app:\n  name: x\n  count: 0\n"));
  EXPECT_EQ(binder_.FieldError(&sample_.count, "must be at least 1").message(),
            "config/test.yaml:3: app.count: must be at least 1");
  EXPECT_EQ(binder_.FieldError(&sample_.ratio, "too small").message(), "app.ratio: too small");
  EXPECT_EQ(binder_.FieldError(&clock_, "x").code(), StatusCode::kInternal);
}

TEST_F(SampleConfig, RenderRedactsSecretsAndShowsDocsDefaultsAndOrigins) {
  ASSERT_OK(Load("app:\n  password: hunter2\n  must: yes\n"));
  ASSERT_OK(binder_.ApplyEnv(Env::FromMap({{"BTRQ_APP_COUNT", "7"}}), "BTRQ"));
  const std::string text = binder_.Render();
  EXPECT_THAT(text, Not(HasSubstr("hunter2")));
  EXPECT_THAT(text, HasSubstr("  password: \"<redacted>\"  # from config/test.yaml:2\n"));
  EXPECT_THAT(text, HasSubstr("  count: 7  # from environment variable BTRQ_APP_COUNT\n"));
  EXPECT_THAT(text, HasSubstr("  # Period (duration; default 1s)\n  every: 1s\n"));
  EXPECT_THAT(text, HasSubstr("  # Hue (enum: red|green|blue; default red)\n"));
  EXPECT_THAT(text, HasSubstr("  # Secret (string, secret; default \"\")\n"));
  EXPECT_THAT(text, HasSubstr("# A test section.\napp:\n"));
}

TEST_F(SampleConfig, RenderedConfigLoadsBackToTheSameValues) {
  ASSERT_OK(Load(R"(
app:
  name: "quote \" and backslash \\ and tab \t"
  verbose: true
  offset: -7
  count: 9
  ratio: 0.1
  every: 1d1ns
  since: 2024-01-02T03:04:05.5Z
  hosts: [a, "b c", "d,e"]
  color: blue
  must: m
)"));
  Sample copy;
  ConfigBinder again(&clock_);
  BindSample(&copy, &again);
  ASSERT_OK(again.LoadYamlText(binder_.Render(), "rendered"));
  EXPECT_EQ(copy.name, sample_.name);
  EXPECT_EQ(copy.verbose, sample_.verbose);
  EXPECT_EQ(copy.offset, sample_.offset);
  EXPECT_EQ(copy.count, sample_.count);
  EXPECT_EQ(copy.ratio, sample_.ratio);
  EXPECT_EQ(copy.every, sample_.every);
  EXPECT_EQ(copy.since, sample_.since);
  EXPECT_EQ(copy.hosts, sample_.hosts);
  EXPECT_EQ(copy.color, sample_.color);
  EXPECT_EQ(copy.must, sample_.must);
}

}  // namespace
}  // namespace btrq
