#include "analytics/python.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "analytics/flat_json.h"
#include "common/file_util.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/analytics/vector_point_source.h"

namespace btrq::analytics {
namespace {

using ::testing::HasSubstr;
using ::btrq::testing::StatusIs;
using testing::VectorPointSource;

constexpr char kPython[] = "/usr/bin/python3";

constexpr char kModule[] = R"py(
import os, time
import numpy as np
import btrq

def summary(times, values, task):
    print("user output goes to stderr, not into the protocol")
    return {"count": len(values), "sum": float(values.sum()), "first": int(times[0]),
            "last": int(times[-1]), "stream": task.stream, "version": task.version,
            "rate": task.params["rate"], "pid": os.getpid()}

def seed_shaped(values):
    return {"count": len(values), "last": values[-1][0].value, "version": values[-1][1]}

def first_only(batches, task):
    for times, values in batches:
        return float(values[0])

def fails(times, values, task):
    raise ValueError("bad chunk %d" % task.start)

def retry(times, values, task):
    raise btrq.Retry("later")

def crash(times, values, task):
    os._exit(3)

def hang(times, values, task):
    time.sleep(600)

def hog(times, values, task):
    return len(bytearray(1 << 33))
)py";

std::vector<RawPoint> Points(int64_t n) {
  std::vector<RawPoint> points;
  points.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) points.push_back({1000 + i, 0.5 * static_cast<double>(i)});
  return points;
}

TaskSpec Task(const std::string& function, Fields extra = {}) {
  TaskSpec task;
  task.key.job = 7;
  task.key.stream = Uuid::Parse("0f3c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6").value();
  task.key.start = 1000;
  task.end = int64_t{1} << 40;
  task.version = 42;
  task.attempt = 1;
  task.analytic = "python";
  task.params = {{"function", "userfns:" + function}, {"rate", int64_t{30}}};
  for (auto& f : extra) task.params.push_back(std::move(f));
  return task;
}

const FieldValue& Get(const Fields& fields, const std::string& name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  static const FieldValue kMissing = std::string("<missing>");
  return kMissing;
}

class PythonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is missing";
    ASSERT_OK(WriteFileAtomically(dir_.File("userfns.py"), kModule));
    PythonRuntimeOptions options;
    options.interpreter = kPython;
    options.path = {BTRQ_PYTHON_DIR, dir_.path()};
    options.memory_limit_bytes = uint64_t{2} << 30;
    pool_ = std::make_shared<PythonPool>(options);
  }

  Result<Fields> Run(const TaskSpec& task, VectorPointSource& source) {
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Analytic> analytic,
                          NewPython(task.params, {"userfns"}, pool_));
    RunCounters counters;
    return analytic->Run(task, source, &counters);
  }

  Result<Fields> Run(const TaskSpec& task, int64_t points = 10) {
    VectorPointSource source(Points(points), 1000);
    return Run(task, source);
  }

  ::btrq::testing::TempDir dir_;
  std::shared_ptr<PythonPool> pool_;
};

TEST_F(PythonTest, NumpyArraysAcrossManyFramesAndOneInterpreter) {
  const int64_t n = 200'000;  // four P frames
  ASSERT_OK_AND_ASSIGN(Fields first, Run(Task("summary"), n));
  EXPECT_EQ(std::get<int64_t>(Get(first, "count")), n);
  EXPECT_DOUBLE_EQ(std::get<double>(Get(first, "sum")), 0.5 * n * (n - 1) / 2);
  EXPECT_EQ(std::get<int64_t>(Get(first, "first")), 1000);
  EXPECT_EQ(std::get<int64_t>(Get(first, "last")), 1000 + n - 1);
  EXPECT_EQ(std::get<std::string>(Get(first, "stream")), "0f3c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6");
  EXPECT_EQ(std::get<int64_t>(Get(first, "version")), 42);
  EXPECT_EQ(std::get<int64_t>(Get(first, "rate")), 30);
  ASSERT_OK_AND_ASSIGN(Fields second, Run(Task("summary")));
  EXPECT_EQ(Get(first, "pid"), Get(second, "pid"));
  EXPECT_EQ(pool_->started(), 1u);
}

TEST_F(PythonTest, PointsModeRunsAClientShapedFunctionUnchanged) {
  ASSERT_OK_AND_ASSIGN(Fields r, Run(Task("seed_shaped", {{"input", std::string("points")}})));
  EXPECT_EQ(std::get<int64_t>(Get(r, "count")), 10);
  EXPECT_DOUBLE_EQ(std::get<double>(Get(r, "last")), 4.5);
  EXPECT_EQ(std::get<int64_t>(Get(r, "version")), 42);
}

TEST_F(PythonTest, EarlyAnswerStaysInStep) {
  ASSERT_OK_AND_ASSIGN(Fields r,
                       Run(Task("first_only", {{"input", std::string("batches")}}), 300'000));
  EXPECT_DOUBLE_EQ(std::get<double>(Get(r, "value")), 0.0);
  ASSERT_OK_AND_ASSIGN(Fields next, Run(Task("summary")));
  EXPECT_EQ(std::get<int64_t>(Get(next, "count")), 10);
  EXPECT_EQ(pool_->started(), 1u);
}

TEST_F(PythonTest, ExceptionIsPermanentWithTraceback) {
  const Result<Fields> r = Run(Task("fails"));
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(r.status().message(), HasSubstr("ValueError: bad chunk 1000"));
  EXPECT_THAT(r.status().message(), HasSubstr("userfns.py"));
  EXPECT_EQ(pool_->replaced(), 0u);
}

TEST_F(PythonTest, RetryIsTransient) {
  const Result<Fields> r = Run(Task("retry"));
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(r.status().IsTransient());
}

TEST_F(PythonTest, CrashHangAndHogReplaceTheInterpreterAndFailTransiently) {
  Result<Fields> crash = Run(Task("crash"));
  EXPECT_TRUE(crash.status().IsTransient()) << crash.status().ToString();
  Result<Fields> hang = Run(Task("hang", {{"timeout", std::string("1s")}}));
  EXPECT_THAT(hang.status(), StatusIs(StatusCode::kDeadlineExceeded));
  Result<Fields> hog = Run(Task("hog"));
  EXPECT_TRUE(hog.status().IsTransient()) << hog.status().ToString();
  EXPECT_THAT(hog.status().message(), HasSubstr("MemoryError"));
  EXPECT_EQ(pool_->replaced(), 3u);
  ASSERT_OK_AND_ASSIGN(Fields after, Run(Task("summary")));
  EXPECT_EQ(std::get<int64_t>(Get(after, "count")), 10);
  EXPECT_EQ(pool_->busy(), 0);
}

TEST_F(PythonTest, ReaderErrorIsReturnedUnchangedAndTheInterpreterKept) {
  VectorPointSource source(Points(100'000), 10'000);
  source.FailAfter(3, Status::Unavailable("btrdb went away"));
  const Result<Fields> r = Run(Task("summary"), source);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r.status().message(), HasSubstr("btrdb went away"));
  ASSERT_OK(Run(Task("summary")).status());
  EXPECT_EQ(pool_->started(), 1u);
}

TEST_F(PythonTest, ModuleOutsideTheAllowListIsRefused) {
  const Result<std::unique_ptr<Analytic>> a =
      NewPython({{"function", std::string("os:system")}}, {"userfns", "lab.*"}, pool_);
  EXPECT_THAT(a.status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(PythonModuleAllowed({"lab.*"}, "lab.checks"));
  EXPECT_FALSE(PythonModuleAllowed({"lab.*"}, "lab"));
  EXPECT_FALSE(PythonModuleAllowed({}, "userfns"));
}

TEST_F(PythonTest, BadParams) {
  for (const char* f : {"nocolon", "a:", ":b", "a b:c", "a:b..c", "1a:b"}) {
    EXPECT_THAT(ParsePythonOptions({{"function", std::string(f)}}).status(),
                StatusIs(StatusCode::kInvalidArgument))
        << f;
  }
  EXPECT_THAT(ParsePythonOptions({{"function", std::string("a:b")},
                                  {"input", std::string("text")}})
                  .status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePythonOptions({}).status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PythonTest, AnInterpreterThatCannotStartIsUnavailable) {
  PythonRuntimeOptions options;
  options.interpreter = "/nonexistent/python3";
  auto pool = std::make_shared<PythonPool>(options);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> analytic,
                       NewPython(Task("summary").params, {"userfns"}, pool));
  VectorPointSource source(Points(3));
  RunCounters counters;
  const Result<Fields> r = analytic->Run(Task("summary"), source, &counters);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/python3"));
}

}  // namespace
}  // namespace btrq::analytics
