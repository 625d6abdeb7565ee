// `btrq submit --wait` against the fake broker's WatchJob stream: exit codes, the
// progress bar, resumed and abandoned watches.

#include "submitter/cli.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/ids.h"
#include "common/zmq_util.h"
#include "results/export.h"
#include "results/result_proto.h"
#include "submitter/commands.h"
#include "tests/support/fake_clock.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/submitter/fake_services.h"
#include "tests/unit/submitter/cli_fixture.h"

namespace btrq::submitter {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- submit --wait --------------------------------------------------------------------------

class WaitTest : public CliTest {
 protected:
  void Updates(v1::JobState final_state, uint64_t dead) {
    v1::Job j = RunningJob();
    j.mutable_counts()->set_total(4);
    j.mutable_counts()->set_done(0);
    j.mutable_counts()->set_dead(0);
    broker_.watch_updates.push_back(j);
    j.mutable_counts()->set_done(2);
    broker_.watch_updates.push_back(j);
    j.set_state(final_state);
    j.mutable_counts()->set_done(4 - dead);
    j.mutable_counts()->set_dead(dead);
    broker_.watch_updates.push_back(j);
  }

  CliRun SubmitAndWait(bool tty = false) {
    return RunWith({"submit", "--collection", "c", "--analytic", "quality", "--wait"},
                   DefaultEnv(), tty);
  }
};

TEST_F(WaitTest, DoneExitsZero) {
  Updates(v1::DONE, 0);
  const CliRun run = SubmitAndWait();
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "7\n");
  EXPECT_THAT(run.err, HasSubstr("job 7 done: 4 done, 0 dead-lettered\n"));
  EXPECT_THAT(broker_.methods(), ::testing::ElementsAre("SubmitJob", "WatchJob:7"));
}

TEST_F(WaitTest, DeadLettersExitTwo) {
  Updates(v1::DONE_WITH_FAILURES, 1);
  const CliRun run = SubmitAndWait();
  EXPECT_EQ(run.code, kExitDeadLettered);
  EXPECT_THAT(run.err, HasSubstr("job 7 done_with_failures: 3 done, 1 dead-lettered; see "
                                 "`btrq show 7`\n"));
  // Without a terminal: a plain line at the start and at state changes, not for every update
  // (the clock did not move).
  EXPECT_THAT(run.err, ::testing::StartsWith("job 7 running [------------------------]   0.0%  "
                                             "0/4 tasks  120/s  ETA 4m10s\njob 7 done_with"));
}

TEST_F(WaitTest, FailedOrCancelledExitsThree) {
  Updates(v1::FAILED, 0);
  EXPECT_EQ(SubmitAndWait().code, kExitJobFailed);
  broker_.watch_updates.clear();
  Updates(v1::CANCELLED, 0);
  EXPECT_EQ(SubmitAndWait().code, kExitJobFailed);
}

TEST_F(WaitTest, OnATerminalTheBarIsRedrawnInPlace) {
  Updates(v1::DONE, 0);
  const CliRun run = SubmitAndWait(/*tty=*/true);
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.err, HasSubstr("\rjob 7 running [------------------------]"));
  EXPECT_THAT(run.err, HasSubstr("\rjob 7 running [############------------]  50.0%  2/4 tasks"));
}

TEST_F(WaitTest, AStreamThatEndsEarlyIsCheckedWithGetJob) {
  broker_.watch_updates = {RunningJob()};  // ends while running
  broker_.job = RunningJob();
  const CliRun run = SubmitAndWait();
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("stopped reporting job 7 before it ended"));
}

TEST_F(WaitTest, AWatchBrokenByABrokerRestartIsResumed) {
  Updates(v1::DONE, 0);
  broker_.watch_breaks = 2;
  const CliRun run = SubmitAndWait();
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.err, HasSubstr("lost the job's progress (cannot reach the broker at "));
  EXPECT_THAT(run.err, HasSubstr("job 7 done: 4 done, 0 dead-lettered\n"));
  EXPECT_THAT(broker_.methods(),
              ::testing::ElementsAre("SubmitJob", "WatchJob:7", "WatchJob:7", "WatchJob:7"));
  EXPECT_THAT(sleeps_, ::testing::ElementsAre(1'000'000'000, 1'000'000'000));
}

TEST_F(WaitTest, GivesUpWhenTheBrokerStaysAway) {
  broker_.fail = grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone");
  ControlClientOptions client_options;
  client_options.endpoint = server_->address();
  client_options.read_retries = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BrokerClient> client, BrokerClient::Create(client_options));
  std::ostringstream out, err;
  CommandContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.clock = &clock_;
  ctx.sleep = [this](int64_t ns) { clock_.Advance(Nanos(ns)); };
  SubmitOptions options;
  options.reconnect_timeout_ns = 3'000'000'000;
  const Result<int> code = WaitForJob(*client, 7, options, ctx);
  ASSERT_THAT(code.status(), StatusIs(StatusCode::kUnavailable,
                                      HasSubstr("watching job 7: cannot reach the broker")));
  EXPECT_EQ(broker_.calls(), 4);  // at 0s, 1s, 2s and 3s
}

}  // namespace
}  // namespace btrq::submitter
