#include "submitter/job_file.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::submitter {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::HasSubstr;

TEST(JobFile, EmptyFileIsAnEmptySpec) {
  ASSERT_OK_AND_ASSIGN(v1::JobSpec spec, ParseJobText("", "job.yaml", 0));
  EXPECT_EQ(spec.ByteSizeLong(), 0u);
}

TEST(JobFile, TagsWithoutValueMeanPresent) {
  ASSERT_OK_AND_ASSIGN(v1::JobSpec spec,
                       ParseJobText("tags: {unit: volts, phase: ~, site:}\n", "j", 0));
  ASSERT_EQ(spec.tags_size(), 3);
  EXPECT_TRUE(spec.tags(0).has_value());
  EXPECT_FALSE(spec.tags(1).has_value());
  EXPECT_FALSE(spec.tags(2).has_value());
}

struct BadFile {
  std::string text;
  std::string message;
};

TEST(JobFile, ErrorsNameFileLineAndKey) {
  const BadFile cases[] = {
      {"analytic: quality\nchunk: 12x\n", "job.yaml:2: chunk: "},
      {"priority: high\n", "job.yaml:1: priority: expected an integer, not \"high\""},
      {"priority: 1001\n", "job.yaml:1: priority: must be between -1000 and 1000"},
      {"max_attempts: 0\n", "job.yaml:1: max_attempts: must be between 1 and 1000"},
      {"prefix: maybe\n", "job.yaml:1: prefix: expected true or false"},
      {"streams: abc\n", "job.yaml:1: streams: expected a list of stream UUIDs"},
      {"streams: [abc]\n", "job.yaml:1: streams: bad stream UUID \"abc\""},
      {"tags: [a, b]\n", "job.yaml:1: tags: expected a mapping of tag: value"},
      {"name: a\nname: b\n", "job.yaml:2: name: duplicate key"},
      {"params: {rate: [1, 2]}\n", "job.yaml:1: params.rate: expected a single value"},
      {"- a\n- b\n", "job.yaml:1: the job file must be a mapping of keys"},
      {"analytic: [unclosed\n", "job.yaml:2: "},
      {"anlytic: quality\n", "job.yaml:1: unknown key \"anlytic\" (did you mean \"analytic\"?)"},
      {"end: 2024-02-30\n", "job.yaml:1: end: "},
  };
  for (const BadFile& c : cases) {
    const Result<v1::JobSpec> spec = ParseJobText(c.text, "job.yaml", 0);
    ASSERT_THAT(spec.status(), StatusIs(StatusCode::kInvalidArgument)) << c.text;
    EXPECT_THAT(spec.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(JobFile, UnreadableFile) {
  const Result<v1::JobSpec> spec = LoadJobFile("/nonexistent/job.yaml", 0);
  EXPECT_EQ(spec.status().message(), "cannot read job file /nonexistent/job.yaml");
}

}  // namespace
}  // namespace btrq::submitter
