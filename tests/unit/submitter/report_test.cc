#include "submitter/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace btrq::submitter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kStart = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000'000'000;

results::StoredResult Scored(const char* uuid, int64_t start, double score, Fields defects = {}) {
  results::StoredResult r;
  r.result.task.key.stream = *Uuid::Parse(uuid);
  r.result.task.key.start = start;
  r.result.points_read = 1000;
  r.result.fields = {{"score", score}, {"expected", int64_t{100}}, {"unique", int64_t{100}}};
  for (auto& f : defects) r.result.fields.push_back(std::move(f));
  return r;
}

v1::Job FinishedJob(uint64_t done) {
  v1::Job job;
  job.set_id(7);
  job.set_state(v1::DONE);
  job.mutable_counts()->set_total(done);
  job.mutable_counts()->set_done(done);
  job.set_submitted_at(kStart);
  job.set_finished_at(kStart + 2'000'000'000);  // 2 s
  return job;
}

TEST(RenderDemoSummary, TotalsComeFromTheBrokersClock) {
  const v1::Job job = FinishedJob(4);
  std::vector<results::StoredResult> results;
  for (int i = 0; i < 4; ++i) results.push_back(Scored("00000000-0000-0000-0000-000000000001", kStart + i * kHour, 1));
  DemoReportInput in;
  in.job = &job;
  in.results = &results;
  in.follow_seconds = 99;
  in.workers = 2;
  in.threads = 3;
  const std::string text = RenderDemoSummary(in);
  EXPECT_THAT(text, HasSubstr("  chunks processed  4 of 4 (job 7)\n"));
  EXPECT_THAT(text, HasSubstr("  points read       4,000\n"));
  EXPECT_THAT(text, HasSubstr("  wall time         2.00 s (submit to last result)\n"));
  EXPECT_THAT(text, HasSubstr("2.0 chunks/s with 2 x 3 worker threads\n"));
  EXPECT_THAT(text, HasSubstr("  every stream scored 1\n  (1 of 1 streams are perfect)\n"));
  EXPECT_THAT(text, HasSubstr("  every chunk scored 1\n"));
}

TEST(RenderDemoSummary, WorstStreamsAndChunksNameTheirDefects) {
  const v1::Job job = FinishedJob(3);
  const char* a = "00000000-0000-0000-0000-00000000000a";
  const char* b = "00000000-0000-0000-0000-00000000000b";
  std::vector<results::StoredResult> results = {
      Scored(a, kStart, 0.5, {{"duplicates", int64_t{4}}}),
      Scored(a, kStart + kHour, 1),
      Scored(b, kStart, 0.9, {{"out_of_range", int64_t{1}}}),
  };
  Manifest manifest;
  manifest.streams[a].name = "sensor00/voltage";
  DemoReportInput in;
  in.job = &job;
  in.results = &results;
  in.manifest = &manifest;
  const std::string text = RenderDemoSummary(in);
  EXPECT_THAT(text, HasSubstr("  0.750000  sensor00/voltage      4 duplicates\n"));
  EXPECT_THAT(text, HasSubstr("  0.900000  " + std::string(b)));  // no name: the UUID
  EXPECT_THAT(text, HasSubstr("  (0 of 2 streams are perfect)\n"));
  EXPECT_THAT(text, HasSubstr("  0.500000  sensor00/voltage      2024-01-01T00:00:00Z  4 duplicates\n"));
}

TEST(RenderDemoSummary, UnscoredResultsGetTotalsOnly) {
  const v1::Job job = FinishedJob(1);
  results::StoredResult r = Scored("00000000-0000-0000-0000-000000000001", kStart, 1);
  r.result.fields = {{"mean", 1.5}};
  r.result.points_read = 0;
  std::vector<results::StoredResult> results = {r};
  DemoReportInput in;
  in.job = &job;
  in.results = &results;
  const std::string text = RenderDemoSummary(in);
  EXPECT_THAT(text, HasSubstr("0 (the analytic read no raw points)"));
  EXPECT_THAT(text, Not(HasSubstr("Worst")));
}

TEST(RenderTruthCheck, SaysHowManyMatchedAndListsTheFirstProblems) {
  EXPECT_EQ(RenderTruthCheck(TruthCheck{.matched = 96}, 96),
            "\nGround truth\n  results match the generator's ground truth: 96/96 chunks\n");
  TruthCheck bad{.matched = 80};
  for (int i = 0; i < 12; ++i) bad.problems.push_back("p" + std::to_string(i));
  const std::string text = RenderTruthCheck(bad, 96);
  EXPECT_THAT(text, HasSubstr("results DIFFER from the generator's ground truth: 80/96 chunks match\n"));
  EXPECT_THAT(text, HasSubstr("  p9\n  ... and 2 more\n"));
  EXPECT_THAT(text, Not(HasSubstr("p10")));
}

TEST(WhyScoreLost, WorstReasonFirst) {
  EXPECT_EQ(WhyScoreLost({}), "-");
  EXPECT_EQ(WhyScoreLost({{"expected", int64_t{100}},
                          {"unique", int64_t{90}},
                          {"gaps", int64_t{2}},
                          {"missing_seconds", 10.0},
                          {"duplicates", int64_t{1}},
                          {"stuck_runs", int64_t{1}},
                          {"longest_stuck", int64_t{20}}}),
            "1 stuck run (longest 20 points), 10.0 s missing in 2 gaps, 1 duplicate");
}

}  // namespace
}  // namespace btrq::submitter
