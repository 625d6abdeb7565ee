// `btrq` read commands against the fake services: status, jobs, workers, show, cancel,
// retry, drain, top, and results to files and stdout.

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

// ---- read commands --------------------------------------------------------------------------

TEST_F(CliTest, StatusListsActiveJobsWithProgress) {
  broker_.jobs = {RunningJob()};
  broker_.stats.set_queue_depth(300);
  broker_.stats.set_in_flight(200);
  broker_.stats.set_workers(2);
  const CliRun run = Run({"status"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("queue 300  in flight 200  workers 2"));
  EXPECT_THAT(run.out, HasSubstr("[##########----------]  50.0%    490/1000  120/s  4m10s"));
  EXPECT_THAT(run.out, HasSubstr("nightly"));
  ASSERT_EQ(broker_.list_requests().size(), 1u);
  EXPECT_FALSE(broker_.list_requests()[0].include_finished());
}

TEST_F(CliTest, StatusOfOneJobInDetail) {
  broker_.job = RunningJob();
  const CliRun run = Run({"status", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("job 7 (nightly): running\n"));
  EXPECT_THAT(run.out, HasSubstr("pending 300, in flight 200, done 490, dead 10"));
  EXPECT_THAT(run.out, HasSubstr("ETA 4m10s"));
  EXPECT_THAT(run.out, HasSubstr("  nonce      0 (legacy)\n"));
}

TEST_F(CliTest, StatusJsonHasTheDocumentedShape) {
  broker_.job = RunningJob();
  broker_.job.set_nonce(0x9f3a1c2b4d5e6f70);
  const CliRun run = Run({"status", "7", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "{\"id\":7,\"nonce\":\"9f3a1c2b4d5e6f70\",\"name\":\"nightly\",\"state\":\"running\",\"analytic\":\"quality\","
            "\"counts\":{\"total\":1000,\"total_final\":true,\"pending\":300,\"in_flight\":200,"
            "\"done\":490,\"retried\":0,\"dead\":10,\"cancelled\":0,\"streams\":4,"
            "\"points_read\":123456},\"progress\":0.5,\"tasks_per_second\":120.0,"
            "\"points_per_second\":2500000.0,\"eta_seconds\":250.0,"
            "\"submitted_at\":\"2023-11-14T22:12:20Z\",\"started_at\":\"2023-11-14T22:12:21Z\","
            "\"finished_at\":null,\"error\":null,"
            "\"spec\":{\"name\":\"nightly\",\"collection\":\"sensors/\",\"prefix\":true,"
            "\"tags\":{},\"annotations\":{},\"streams\":[],\"versions\":{},\"start\":null,"
            "\"end\":null,\"chunk\":null,\"analytic\":\"quality\",\"params\":{},\"priority\":0,"
            "\"max_attempts\":null,\"task_timeout\":null}}\n");
}

TEST_F(CliTest, JobsTableAndAllIncludesFinished) {
  v1::Job done = RunningJob();
  done.set_id(6);
  done.set_state(v1::DONE);
  broker_.jobs = {done, RunningJob()};
  const CliRun run = Run({"jobs", "--all"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("JOB  STATE    ANALYTIC  SELECTION  DONE  TOTAL  DEAD  SUBMITTED"));
  EXPECT_THAT(run.out, HasSubstr("  6  done     quality   sensors/*   490   1000    10  "
                                 "2023-11-14T22:12:20Z  nightly\n"));
  ASSERT_EQ(broker_.list_requests().size(), 1u);
  EXPECT_TRUE(broker_.list_requests()[0].include_finished());

  const CliRun json = Run({"jobs", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, ::testing::StartsWith("{\"jobs\":[{\"id\":6,"));
}

TEST_F(CliTest, WorkersHumanAndJson) {
  broker_.workers = {AWorker()};
  CliRun run = Run({"workers"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("WORKER"));
  EXPECT_THAT(run.out, HasSubstr("hostA:42:ab12  hostA   42        8          5      16   900  30/s  1.0M/s"));
  EXPECT_THAT(run.out, HasSubstr("2s ago  draining\n"));

  run = Run({"workers", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "{\"workers\":[{\"id\":\"hostA:42:ab12\",\"host\":\"hostA\",\"pid\":42,\"threads\":8,"
            "\"analytics\":[\"quality\",\"noop\"],\"credit\":16,\"in_flight\":5,"
            "\"tasks_done\":900,\"tasks_per_second\":30.0,\"points_per_second\":1000000.0,"
            "\"last_heartbeat\":\"2023-11-14T22:13:18Z\",\"draining\":true}]}\n");

  broker_.workers.clear();
  run = Run({"workers"});
  EXPECT_EQ(run.out, "no workers connected\n");
}

TEST_F(CliTest, ShowPrintsSpecCountsAndDeadLetters) {
  broker_.job = RunningJob();
  v1::DeadLetter d;
  d.mutable_key()->set_job(7);
  d.mutable_key()->set_stream(StreamBytes());
  d.mutable_key()->set_start(1'704'067'200'000'000'000);
  d.set_end(1'704'110'400'000'000'000);
  d.set_attempt(3);
  d.set_error("analytic threw: bad rate");
  broker_.dead = {d};
  CliRun run = Run({"show", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("collection  sensors/ (prefix)"));
  EXPECT_THAT(run.out, HasSubstr("`btrq retry 7` requeues them"));
  EXPECT_THAT(run.out, HasSubstr(std::string(kStream) +
                                 "  2024-01-01T00:00:00Z  2024-01-01T12:00:00Z        3  "
                                 "analytic threw: bad rate\n"));
  EXPECT_THAT(broker_.methods(), ::testing::Contains("ListDeadLetters:7"));

  run = Run({"show", "7", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\"dead_letters\":[{\"stream\":\"" + std::string(kStream) +
                                 "\",\"start\":\"2024-01-01T00:00:00Z\",\"end\":"
                                 "\"2024-01-01T12:00:00Z\",\"start_ns\":1704067200000000000,"
                                 "\"attempt\":3,\"error\":\"analytic threw: bad rate\"}]}\n"));
}

TEST_F(CliTest, CancelRetryAndDrainCallTheirRpcs) {
  broker_.job = RunningJob();
  CliRun run = Run({"cancel", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "job 7 cancelled: 490 of 1000 tasks were done\n");
  run = Run({"retry", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "job 7 requeued its dead-lettered tasks; now running\n");
  run = Run({"drain", "hostA:42:ab12"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(broker_.methods(), ::testing::ElementsAre("CancelJob:7", "RetryJob:7", "DrainWorker"));
  EXPECT_THAT(broker_.drained(), ::testing::ElementsAre("hostA:42:ab12"));
}

TEST_F(CliTest, TopRepeatsPlainBlocksWithoutATerminal) {
  broker_.jobs = {RunningJob()};
  broker_.workers = {AWorker()};
  const CliRun run = Run({"top", "--iterations", "2", "--interval", "1s"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr("\x1b")));
  size_t blocks = 0;
  for (size_t at = run.out.find("btrq top"); at != std::string::npos;
       at = run.out.find("btrq top", at + 1)) {
    ++blocks;
  }
  EXPECT_EQ(blocks, 2u);
  EXPECT_THAT(sleeps_, ::testing::ElementsAre(1'000'000'000));  // between the two refreshes
}

TEST_F(CliTest, TopRedrawsInPlaceOnATerminal) {
  const CliRun run = RunWith({"top", "--iterations", "1"}, DefaultEnv(), /*tty=*/true);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, ::testing::StartsWith("\x1b[H\x1b[2J" "btrq top  "));
  EXPECT_THAT(run.out, HasSubstr("no active jobs\n"));
}

// ---- results --------------------------------------------------------------------------------

std::vector<results::StoredResult> SomeResults() {
  std::vector<results::StoredResult> results;
  for (int i = 0; i < 3; ++i) {
    results::StoredResult r;
    r.result.task.key.job = 7;
    r.result.task.key.stream = Uuid::Parse(kStream).value();
    r.result.task.key.start = int64_t{1'704'067'200'000'000'000} + i * int64_t{43'200'000'000'000};
    r.result.task.attempt = 1;
    r.result.end = r.result.task.key.start + 43'200'000'000'000;
    r.result.version = 12;
    r.result.worker_id = "hostA:42:ab12";
    r.result.fields = {{"count", int64_t{100 + i}}, {"score", 0.5 + i}, {"note", std::string("ok")}};
    r.stored_at = kNow;
    results.push_back(r);
  }
  return results;
}

TEST_F(CliTest, ResultsAsJsonLinesToAFile) {
  const std::vector<results::StoredResult> results = SomeResults();
  sink_.batches.resize(2);
  results::ToProto(results[0], sink_.batches[0].add_results());
  results::ToProto(results[1], sink_.batches[0].add_results());
  results::ToProto(results[2], sink_.batches[1].add_results());
  broker_.job = RunningJob();
  broker_.job.set_nonce(0x9f3a1c2b4d5e6f70);
  const std::string out = dir_.File("results.jsonl");
  const CliRun run = Run({"results", "7", "--out", out, "--limit", "10"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(ReadFile(out), results::ToJsonLine(results[0]) + results::ToJsonLine(results[1]) +
                               results::ToJsonLine(results[2]));
  EXPECT_EQ(run.err, "wrote 3 results of job 7 to " + out + "\n");
  ASSERT_EQ(sink_.requests().size(), 1u);
  EXPECT_EQ(sink_.requests()[0].job_id(), 7u);
  EXPECT_EQ(sink_.requests()[0].limit(), 10u);
  // The incarnation the broker named, so an earlier job with the same id never shows.
  EXPECT_TRUE(sink_.requests()[0].has_nonce());
  EXPECT_EQ(sink_.requests()[0].nonce(), 0x9f3a1c2b4d5e6f70u);
  // Only the renamed file remains: no temporary beside it.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(CliTest, ResultsOfAnIncarnationTheBrokerDoesNotKnow) {
  // --nonce picks one without asking the broker.
  CliRun run = Run({"results", "7", "--nonce", "00ff"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(broker_.calls(), 0);
  ASSERT_EQ(sink_.requests().size(), 1u);
  EXPECT_TRUE(sink_.requests()[0].has_nonce());
  EXPECT_EQ(sink_.requests()[0].nonce(), 0xffu);
  EXPECT_EQ(Run({"results", "7", "--nonce", "xyz"}).code, kExitUsage);
  // A job the broker no longer knows: the sink's current incarnation, with a note.
  run = Run({"results", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("showing the sink's current one"));
  ASSERT_EQ(sink_.requests().size(), 2u);
  EXPECT_FALSE(sink_.requests()[1].has_nonce());
}

TEST_F(CliTest, ResultsAsCsvToAFile) {
  // The columns come from every page, not the first (a field first seen on page 2 was
  // dropped), and a formula-like text cell is neutralised.
  std::vector<results::StoredResult> results = SomeResults();
  results.back().result.fields.emplace_back("late", std::string("=HYPERLINK(1)"));
  sink_.batches.resize(2);
  for (size_t i = 0; i < results.size(); ++i) {
    results::ToProto(results[i], sink_.batches[i + 1 < results.size() ? 0 : 1].add_results());
  }
  const std::string out = dir_.File("results.csv");
  const CliRun run = Run({"results", "7", "--format", "csv", "-o", out});
  ASSERT_EQ(run.code, 0) << run.err;
  results::CsvWriter csv(results);
  std::string want;
  csv.AppendHeader(&want);
  for (const auto& r : results) csv.AppendRow(r, &want);
  EXPECT_EQ(ReadFile(out), want);
  EXPECT_NE(want.find(",late\r\n"), std::string::npos) << want;
  EXPECT_NE(want.find(",'=HYPERLINK(1)\r\n"), std::string::npos) << want;
}

TEST_F(CliTest, ResultsToStdoutAndAFailedStreamLeavesNoFile) {
  const std::vector<results::StoredResult> results = SomeResults();
  sink_.batches.resize(1);
  results::ToProto(results[0], sink_.batches[0].add_results());
  CliRun run = Run({"results", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, results::ToJsonLine(results[0]));

  sink_.fail = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job_id 0");
  const std::string out = dir_.File("never.jsonl");
  run = Run({"results", "7", "--out", out});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("results of job 7: sink rejected the request: job_id 0"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
}

}  // namespace
}  // namespace btrq::submitter
