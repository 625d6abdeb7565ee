// The `btrq` subcommands called directly (no argv parsing) against fake services.

#include "submitter/commands.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/submitter/fake_services.h"

namespace btrq::submitter {
namespace {

using ::testing::ElementsAre;
using testing::FakeBroker;
using testing::FakeServer;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

v1::Job AJob(JobId id, v1::JobState state) {
  v1::Job job;
  job.set_id(id);
  job.mutable_spec()->set_name("nightly");
  job.mutable_spec()->set_collection("sensors");
  job.mutable_spec()->set_analytic("quality");
  job.set_state(state);
  job.mutable_counts()->set_total(10);
  job.mutable_counts()->set_done(state == v1::DONE ? 10 : 4);
  job.set_submitted_at(kNow - 1'000'000'000);
  return job;
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(std::vector<grpc::Service*>{&broker_});
    ControlClientOptions options;
    options.endpoint = server_->address();
    options.read_retries = 0;
    ASSERT_OK_AND_ASSIGN(client_, BrokerClient::Create(options));
    ctx_.out = &out_;
    ctx_.err = &err_;
    ctx_.clock = &clock_;
    ctx_.sleep = [this](int64_t ns) {
      sleeps_.push_back(ns);
      clock_.Advance(Nanos(ns));
    };
  }

  FakeBroker broker_;
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<BrokerClient> client_;
  btrq::testing::FakeClock clock_{kNow};
  std::ostringstream out_, err_;
  std::vector<int64_t> sleeps_;
  CommandContext ctx_;
};

TEST_F(CommandsTest, ListJobsPassesFilterAndLimit) {
  broker_.jobs = {AJob(3, v1::DONE), AJob(4, v1::RUNNING)};
  ASSERT_OK(ListJobs(*client_, /*include_finished=*/true, /*limit=*/5, /*json=*/false, ctx_));
  ASSERT_EQ(broker_.list_requests().size(), 1u);
  EXPECT_TRUE(broker_.list_requests()[0].include_finished());
  EXPECT_EQ(broker_.list_requests()[0].limit(), 5u);
  EXPECT_THAT(out_.str(), HasSubstr("nightly"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, ListJobsSaysWhenThereAreNone) {
  ASSERT_OK(ListJobs(*client_, false, 0, false, ctx_));
  EXPECT_EQ(out_.str(), "no active jobs (--all shows finished ones)\n");
  out_.str("");
  ASSERT_OK(ListJobs(*client_, true, 0, false, ctx_));
  EXPECT_EQ(out_.str(), "no jobs\n");
  out_.str("");
  ASSERT_OK(ListJobs(*client_, true, 0, /*json=*/true, ctx_));
  EXPECT_EQ(out_.str(), "{\"jobs\":[]}\n");
}

TEST_F(CommandsTest, ErrorsAreReturnedNotPrinted) {
  broker_.fail = grpc::Status(grpc::StatusCode::NOT_FOUND, "no job 9");
  const Status cancel = CancelJob(*client_, 9, ctx_);
  EXPECT_FALSE(cancel.ok());
  EXPECT_THAT(cancel.message(), HasSubstr("no job 9"));
  EXPECT_FALSE(RetryJob(*client_, 9, ctx_).ok());
  EXPECT_FALSE(ShowJob(*client_, 9, 100, false, ctx_).ok());
  EXPECT_FALSE(ListWorkers(*client_, false, ctx_).ok());
  EXPECT_FALSE(DrainWorker(*client_, "w", ctx_).ok());
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, DrainNamesTheWorker) {
  ASSERT_OK(DrainWorker(*client_, "hostB:7:cd34", ctx_));
  EXPECT_THAT(broker_.drained(), ElementsAre("hostB:7:cd34"));
  EXPECT_THAT(out_.str(), HasSubstr("hostB:7:cd34"));
}

TEST_F(CommandsTest, SubmitQuietPrintsOnlyTheId) {
  broker_.next_job_id = 12;
  v1::JobSpec spec;
  spec.set_collection("sensors");
  spec.set_analytic("quality");
  SubmitOptions options;
  options.quiet = true;
  ASSERT_OK_AND_ASSIGN(int code, Submit(*client_, spec, options, ctx_));
  EXPECT_EQ(code, kExitOk);
  EXPECT_EQ(out_.str(), "12\n");
  ASSERT_EQ(broker_.submitted().size(), 1u);
  EXPECT_EQ(broker_.submitted()[0].analytic(), "quality");
}

TEST_F(CommandsTest, WaitForJobMapsTheFinalStateToTheExitCode) {
  const struct {
    v1::JobState state;
    uint64_t dead;
    int code;
  } cases[] = {
      {v1::DONE, 0, kExitOk},
      {v1::DONE_WITH_FAILURES, 2, kExitDeadLettered},
      {v1::FAILED, 0, kExitJobFailed},
      {v1::CANCELLED, 0, kExitJobFailed},
  };
  for (const auto& c : cases) {
    v1::Job last = AJob(7, c.state);
    last.mutable_counts()->set_dead(c.dead);
    broker_.watch_updates = {AJob(7, v1::RUNNING), last};
    SubmitOptions options;
    options.quiet = true;
    ASSERT_OK_AND_ASSIGN(int code, WaitForJob(*client_, 7, options, ctx_));
    EXPECT_EQ(code, c.code) << v1::JobState_Name(c.state);
  }
  EXPECT_EQ(err_.str(), "");  // quiet: no progress, no summary
}

TEST_F(CommandsTest, TopStopsAfterItsIterations) {
  TopOptions options;
  options.interval_ns = 500'000'000;
  options.iterations = 3;
  ASSERT_OK(Top(*client_, options, ctx_));
  EXPECT_THAT(sleeps_, ElementsAre(500'000'000, 500'000'000));
}

TEST_F(CommandsTest, KeygenRefusesBadNamesAndDirectories) {
  btrq::testing::TempDir dir;
  KeygenOptions options;
  options.out_dir = dir.path();
  options.name = "a/b";
  EXPECT_EQ(Keygen(options, ctx_).code(), StatusCode::kInvalidArgument);
  options.name = "";
  EXPECT_EQ(Keygen(options, ctx_).code(), StatusCode::kInvalidArgument);
  options.name = "ok";
  options.out_dir = dir.File("missing");
  EXPECT_EQ(Keygen(options, ctx_).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(broker_.calls(), 0);
}

}  // namespace
}  // namespace btrq::submitter
