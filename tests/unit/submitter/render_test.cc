#include "submitter/render.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/json_writer.h"

namespace btrq::submitter {
namespace {

TEST(ProgressBar, FillsByFraction) {
  EXPECT_EQ(ProgressBar(0, 10, 10), "[----------]");
  EXPECT_EQ(ProgressBar(5, 10, 10), "[#####-----]");
  EXPECT_EQ(ProgressBar(10, 10, 10), "[##########]");
  EXPECT_EQ(ProgressBar(12, 10, 4), "[####]");
  EXPECT_EQ(ProgressBar(0, 0, 4), "[----]");
}

TEST(Format, RatesCountsAndEta) {
  EXPECT_EQ(FormatRate(0), "-");
  EXPECT_EQ(FormatRate(2.25), "2.2/s");
  EXPECT_EQ(FormatRate(120.4), "120/s");
  EXPECT_EQ(FormatRate(2.5e6), "2.5M/s");
  EXPECT_EQ(FormatCount(1500), "1.5k");
  EXPECT_EQ(FormatEta(-1), "-");
  EXPECT_EQ(FormatEta(250), "4m10s");
  EXPECT_EQ(FormatEta(std::numeric_limits<double>::quiet_NaN()), "-");
}

TEST(ProgressLine, ShowsNonFinalTotalsAndDeadLetters) {
  v1::Job job;
  job.set_state(v1::EXPANDING);
  job.mutable_counts()->set_total(10);
  job.mutable_counts()->set_done(4);
  job.mutable_counts()->set_dead(1);
  job.set_eta_seconds(-1);
  EXPECT_EQ(ProgressLine(job, 10), "[#####-----]  50.0%  4/10+ tasks  -  ETA -  dead 1");
}

TEST(JsonWriter, EscapesAndSeparates) {
  JsonWriter w;
  w.BeginObject().Key("a\"b").String("line\n\x01").Key("n").BeginArray().Int(-1).Uint(2)
      .Double(0.1).Double(3).Double(std::nan("")).Bool(false).Null().EndArray().EndObject();
  EXPECT_EQ(w.str(), "{\"a\\\"b\":\"line\\n\\u0001\",\"n\":[-1,2,0.1,3.0,null,false,null]}");
}

TEST(JobState, Names) {
  EXPECT_EQ(JobStateName(v1::DONE_WITH_FAILURES), "done_with_failures");
  EXPECT_TRUE(IsTerminal(v1::CANCELLED));
  EXPECT_FALSE(IsTerminal(v1::EXPANDING));
}

}  // namespace
}  // namespace btrq::submitter
