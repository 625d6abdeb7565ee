#include "broker/job.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

JobSpec ValidSpec() {
  JobSpec s;
  s.collection = "sensors/";
  s.analytic = "quality";
  return s;
}

TEST(JobSpec, DefaultsWithCollectionAndAnalyticAreValid) {
  EXPECT_OK(ValidSpec().Validate());
  EXPECT_EQ(ValidSpec().chunk, int64_t{12} * 3600 * 1'000'000'000);
}

TEST(JobSpec, EachFaultHasItsOwnError) {
  struct Case {
    const char* what;
    void (*mutate)(JobSpec&);
    const char* message_part;
  };
  const Case cases[] = {
      {"zero chunk", [](JobSpec& s) { s.chunk = 0; }, "chunk must be positive"},
      {"negative chunk", [](JobSpec& s) { s.chunk = -5; }, "chunk must be positive"},
      {"start after end", [](JobSpec& s) { s.start = 10; s.end = 10; }, "not before end"},
      {"start too early", [](JobSpec& s) { s.start = kMinTime - 1; }, "outside BTrDB"},
      {"end too late", [](JobSpec& s) { s.end = kMaxTime + 1; }, "outside BTrDB"},
      {"no attempts", [](JobSpec& s) { s.max_attempts = 0; }, "max_attempts"},
      {"no analytic", [](JobSpec& s) { s.analytic.clear(); }, "analytic is empty"},
      {"no streams", [](JobSpec& s) { s.collection.clear(); }, "collection or a list"},
      {"no timeout", [](JobSpec& s) { s.task_timeout = 0; }, "task_timeout"},
      {"task_timeout near int64", [](JobSpec& s) { s.task_timeout = INT64_MAX - 5; },
       "task_timeout is 9223372036854775802 ns; the limit is 604800000000000"},
      {"priority too high", [](JobSpec& s) { s.priority = 1001; }, "outside [-1000, 1000]"},
      {"priority too low", [](JobSpec& s) { s.priority = INT32_MIN; }, "outside [-1000, 1000]"},
      {"1.1 MB param", [](JobSpec& s) { s.params = {{"x", std::string(1153433, 'x')}}; },
       "job: param 'x' is 1153433 bytes; the limit is 65536"},
      {"4097 params",
       [](JobSpec& s) {
         for (int i = 0; i < 4097; ++i) s.params.emplace_back("p" + std::to_string(i), int64_t{i});
       },
       "job: params is 4097 entries; the limit is 1024"},
      {"duplicate params",
       [](JobSpec& s) { s.params = {{"rate", 1.0}, {"rate", 2.0}}; },
       "job: param 'rate' is given twice"},
      {"33 MB of names", [](JobSpec& s) { s.name.assign(33 << 20, 'n'); }, "job: name is"},
      {"too many streams",
       [](JobSpec& s) { s.streams.assign(100'001, Uuid::Random()); }, "the stream list"},
  };
  for (const Case& c : cases) {
    JobSpec s = ValidSpec();
    c.mutate(s);
    const Status st = s.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(st.message().find(c.message_part), std::string::npos) << c.what << ": " << st.message();
  }
}

TEST(JobSpec, ExplicitStreamsNeedNoCollectionAndBoundsAreInclusiveOfBtrdbRange) {
  JobSpec s = ValidSpec();
  s.collection.clear();
  s.streams.push_back(Uuid::Random());
  s.start = kMinTime;
  s.end = kMaxTime;
  EXPECT_OK(s.Validate());
}

TEST(JobState, FinishedStates) {
  EXPECT_FALSE(IsFinished(JobState::kRunning));
  EXPECT_TRUE(IsFinished(JobState::kDoneWithFailures));
  EXPECT_EQ(JobStateName(JobState::kCancelled), "cancelled");
}

}  // namespace
}  // namespace btrq::broker
