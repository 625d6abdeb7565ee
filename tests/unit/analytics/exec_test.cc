#include "analytics/exec.h"

#include <stdlib.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/file_util.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/analytics/vector_point_source.h"
#include "common/json_writer.h"
#include "analytics/flat_json.h"
#include "analytics/quality.h"

namespace btrq::analytics {
namespace {

using ::testing::HasSubstr;
using testing::VectorPointSource;

constexpr char kSh[] = "/bin/sh";
constexpr char kPython[] = "/usr/bin/python3";

bool Executable(const char* path) { return ::access(path, X_OK) == 0; }

// An argv as the JSON-array form of the `command` param.
std::string Command(const std::vector<std::string>& argv) {
  std::string out = "[";
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) out += ",";
    AppendJsonQuoted(&out, argv[i]);
  }
  return out + "]";
}

TaskSpec Task(Fields params) {
  TaskSpec task;
  task.key.job = 7;
  task.key.stream = Uuid::Parse("0f3c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6").value();
  task.key.start = 1000;
  task.end = 2000;
  task.version = 42;
  task.attempt = 2;
  task.analytic = "exec";
  task.params = std::move(params);
  task.stream_earliest = 1010;
  task.stream_latest = 5000;
  return task;
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Executable(kSh)) GTEST_SKIP() << kSh << " is missing";
    char tmpl[] = "/tmp/btrq-exec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Result<Fields> Run(Fields params, std::vector<RawPoint> points, size_t batch = 3,
                     RunCounters* counters = nullptr) {
    const TaskSpec task = Task(std::move(params));
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Analytic> exec, NewExec(task.params));
    VectorPointSource source(std::move(points), batch);
    RunCounters local;
    return exec->Run(task, source, counters != nullptr ? counters : &local);
  }

  std::string dir_;
};

TEST_F(ExecTest, WritesContextAndPointsInTheDocumentedFormat) {
  const std::string capture = dir_ + "/stdin.txt";
  const std::string command =
      Command({kSh, "-c", "cat > \"$0\"; echo '{\"ok\": 1}'", capture});
  const std::vector<RawPoint> points = {{1010, 1.5},
                                        {1020, std::numeric_limits<double>::quiet_NaN()},
                                        {1030, std::numeric_limits<double>::infinity()},
                                        {1040, -std::numeric_limits<double>::infinity()},
                                        {1050, -0.0},
                                        {1060, 0.1},
                                        {1070, -12345678.25}};
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, Run({{"command", command}, {"k", 2.0}}, points, 3, &counters));
  EXPECT_EQ(f, (Fields{{"ok", int64_t{1}}}));
  EXPECT_EQ(counters.points_read, 7);

  ASSERT_OK_AND_ASSIGN(const std::string text, ReadFileToString(capture));
  std::string params_json;
  AppendJsonObject(&params_json, {{"command", command}, {"k", 2.0}});
  EXPECT_EQ(text,
            "{\"job\":7,\"stream\":\"0f3c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6\",\"start\":1000,"
            "\"end\":2000,\"version\":42,\"attempt\":2,\"stream_earliest\":1010,"
            "\"stream_latest\":5000,\"params\":" +
                params_json +
                "}\n"
                "1010,1.5\n1020,nan\n1030,inf\n1040,-inf\n1050,-0\n1060,0.1\n1070,-12345678.25\n");
}

TEST_F(ExecTest, PythonRoundTrip) {
  if (!Executable(kPython)) GTEST_SKIP() << kPython << " is missing";
  const std::string script = dir_ + "/analytic.py";
  std::ofstream(script) << R"(import json, math, sys
ctx = json.loads(sys.stdin.readline())
n = 0
total = 0.0
nonfinite = 0
for line in sys.stdin:
    t, v = line.split(",")
    v = float(v)
    n += 1
    if math.isfinite(v):
        total += v
    else:
        nonfinite += 1
print(json.dumps({"count": n, "sum": total, "nonfinite": nonfinite, "stream": ctx["stream"],
                  "span": ctx["end"] - ctx["start"], "scale": ctx["params"]["scale"]}))
)";
  std::vector<RawPoint> points;
  for (int i = 0; i < 500; ++i) points.push_back({1000 + i, i == 7 ? std::nan("") : 0.5});
  ASSERT_OK_AND_ASSIGN(
      Fields f, Run({{"command", std::string(kPython) + " " + script}, {"scale", "x2"}}, points, 64));
  EXPECT_EQ(f, (Fields{{"count", int64_t{500}},
                       {"sum", 249.5},
                       {"nonfinite", int64_t{1}},
                       {"stream", "0f3c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6"},
                       {"span", int64_t{1000}},
                       {"scale", "x2"}}));
}

TEST_F(ExecTest, NonZeroExitIsPermanentAndQuotesStderr) {
  const Result<Fields> r =
      Run({{"command", Command({kSh, "-c", "cat >/dev/null; echo 'it broke' >&2; exit 3"})}},
          {{1500, 1.0}});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(r.status().IsTransient());
  EXPECT_THAT(r.status().message(), HasSubstr("exited with status 3"));
  EXPECT_THAT(r.status().message(), HasSubstr("stderr: it broke"));
}

TEST_F(ExecTest, DeathBySignalIsPermanent) {
  const Result<Fields> r = Run({{"command", Command({kSh, "-c", "kill -9 $$"})}}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("killed by signal 9"));
}

TEST_F(ExecTest, OutputThatIsNotAFlatJsonObjectIsPermanent) {
  for (const char* output : {"not json", "[1, 2]", "{\"a\": {\"b\": 1}}", ""}) {
    const std::string script = std::string("cat >/dev/null; echo '") + output + "'";
    const Result<Fields> r = Run({{"command", Command({kSh, "-c", script})}}, {{1500, 1.0}});
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << output;
    EXPECT_THAT(r.status().message(), HasSubstr("not a JSON object")) << output;
  }
}

TEST_F(ExecTest, TooMuchOutputIsPermanent) {
  const Result<Fields> r = Run(
      {{"command", Command({kSh, "-c", "cat >/dev/null; head -c 2000000 /dev/zero"})}}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("more than"));
}

TEST_F(ExecTest, TimeoutKillsTheCommand) {
  const std::string pid_file = dir_ + "/pid";
  const Result<Fields> r =
      Run({{"command", Command({kSh, "-c", "echo $$ > \"$0\"; exec sleep 30", pid_file})},
           {"timeout", "200ms"}},
          {{1500, 1.0}});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("timed out"));
  // The command was killed and reaped: its pid no longer exists.
  std::ifstream in(pid_file);
  pid_t pid = 0;
  ASSERT_TRUE(in >> pid);
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST_F(ExecTest, CommandThatCannotStartIsInvalid) {
  const Result<Fields> r = Run({{"command", "/nonexistent/analytic --flag"}}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/analytic"));
}

TEST_F(ExecTest, CommandMayStopReadingEarly) {
  std::vector<RawPoint> points;
  for (int i = 0; i < 200'000; ++i) points.push_back({1000 + i / 200, 1.0 * i});
  ASSERT_OK_AND_ASSIGN(Fields f, Run({{"command", Command({kSh, "-c", "echo '{\"early\": 1}'"})}},
                                     points, 5000));
  EXPECT_EQ(f, (Fields{{"early", int64_t{1}}}));
}

TEST_F(ExecTest, ReaderErrorsPassThroughUnchanged) {
  const std::string command = Command({kSh, "-c", "cat >/dev/null; echo '{}'"});
  const TaskSpec task = Task({{"command", command}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> exec, NewExec(task.params));
  VectorPointSource source({{1500, 1.0}, {1600, 2.0}}, 1);
  source.FailAfter(1, Status(StatusCode::kUnavailable, "btrdb restarting", 503));
  RunCounters counters;
  EXPECT_EQ(exec->Run(task, source, &counters).status(),
            Status(StatusCode::kUnavailable, "btrdb restarting", 503));
  EXPECT_EQ(counters.points_read, 1);
}

// examples/quality.py through exec agrees with the C++ quality on a series with every
// defect, both with a given period and with the median one.
TEST_F(ExecTest, ExampleQualityScriptAgreesWithTheBuiltin) {
  if (!Executable(kPython)) GTEST_SKIP() << kPython << " is missing";
  std::vector<RawPoint> points;
  int64_t t = 1000;
  for (int i = 0; i < 3000; ++i) {
    double v = 50 + (i % 17) * 0.5;
    if (i % 400 == 3) v = std::numeric_limits<double>::quiet_NaN();
    if (i % 700 == 5) v = -std::numeric_limits<double>::infinity();
    if (i % 300 == 7) v = 500;
    if (i >= 1000 && i < 1012) v = 9;
    points.push_back({t, v});
    if (i % 250 == 11) points.push_back({t, v + 1});
    t += i % 600 == 13 ? 7 : 1;
  }
  const std::string script = std::string(BTRQ_SOURCE_DIR) + "/examples/quality.py";
  for (const Fields& quality_params :
       {Fields{{"period_ns", int64_t{1}}, {"min", 0.0}, {"max", 100.0}}, Fields{{"stuck_min", int64_t{5}}}}) {
    TaskSpec task = Task(quality_params);
    task.key.start = 0;
    task.end = 10'000;
    task.stream_earliest = points.front().time;
    task.stream_latest = points.back().time;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> builtin, NewQuality(quality_params));
    VectorPointSource source(points, 100);
    RunCounters counters;
    ASSERT_OK_AND_ASSIGN(Fields expected, builtin->Run(task, source, &counters));

    Fields exec_params = quality_params;
    exec_params.emplace_back("command", Command({kPython, script}));
    task.params = exec_params;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> exec, NewExec(exec_params));
    ASSERT_OK_AND_ASSIGN(Fields got, exec->Run(task, source, &counters));

    ASSERT_EQ(testing::FieldNames(got), testing::FieldNames(expected));
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::holds_alternative<int64_t>(expected[i].second)) {
        EXPECT_EQ(got[i].second, expected[i].second) << got[i].first;
      } else {
        EXPECT_NEAR(std::get<double>(got[i].second), std::get<double>(expected[i].second), 1e-9)
            << got[i].first;
      }
    }
  }
}

TEST(ExecOptions, CommandIsSplitAtWhitespaceOrGivenAsAJsonArray) {
  ASSERT_OK_AND_ASSIGN(ExecOptions o, ParseExecOptions({{"command", "  python3  q.py\t--x 1 "}}));
  EXPECT_EQ(o.argv, (std::vector<std::string>{"python3", "q.py", "--x", "1"}));
  EXPECT_EQ(o.timeout_ns, kExecDefaultTimeoutNs);
  ASSERT_OK_AND_ASSIGN(o, ParseExecOptions({{"command", R"(["python3", "my q.py"])"},
                                            {"timeout", "90s"},
                                            {"anything", int64_t{1}}}));
  EXPECT_EQ(o.argv, (std::vector<std::string>{"python3", "my q.py"}));
  EXPECT_EQ(o.timeout_ns, int64_t{90} * 1'000'000'000);
}

TEST(ExecOptions, RejectsBadCommandsAndTimeouts) {
  for (const Fields& params : std::vector<Fields>{{},
                                                  {{"command", ""}},
                                                  {{"command", "   "}},
                                                  {{"command", "[]"}},
                                                  {{"command", "[\"\"]"}},
                                                  {{"command", "[\"a\", 1]"}},
                                                  {{"command", int64_t{3}}},
                                                  {{"command", "true"}, {"timeout", int64_t{0}}},
                                                  {{"command", "true"}, {"timeout", "later"}}}) {
    EXPECT_EQ(ParseExecOptions(params).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace btrq::analytics
