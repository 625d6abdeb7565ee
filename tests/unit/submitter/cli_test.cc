// `btrq` run in-process (RunCli) against fake Broker and Sink gRPC services.

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

namespace btrq::submitter {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::FakeBroker;
using testing::FakeServer;
using testing::FakeSink;

constexpr const char* kStream = "0f3c6a5e-1d2b-4c3a-9e8f-112233445566";
// FakeClock's wall start: 2023-11-14T22:13:20Z.
constexpr int64_t kNow = 1'700'000'000'000'000'000;

std::string StreamBytes() { return std::string(Uuid::Parse(kStream).value().AsBytes()); }

std::string ReadFile(const std::string& path) { return ReadFileToString(path).value_or(""); }

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

MATCHER_P(EqualsProto, expected, "") {
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  if (differ.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

v1::Job RunningJob() {
  v1::Job job;
  job.set_id(7);
  job.mutable_spec()->set_name("nightly");
  job.mutable_spec()->set_collection("sensors/");
  job.mutable_spec()->set_collection_prefix(true);
  job.mutable_spec()->set_analytic("quality");
  job.set_state(v1::RUNNING);
  v1::JobCounts* c = job.mutable_counts();
  c->set_total(1000);
  c->set_total_final(true);
  c->set_pending(300);
  c->set_in_flight(200);
  c->set_done(490);
  c->set_dead(10);
  c->set_streams(4);
  c->set_points_read(123456);
  job.set_submitted_at(kNow - 60'000'000'000);
  job.set_started_at(kNow - 59'000'000'000);
  job.set_tasks_per_second(120.0);
  job.set_points_per_second(2.5e6);
  job.set_eta_seconds(250);
  return job;
}

v1::Worker AWorker() {
  v1::Worker w;
  w.set_id("hostA:42:ab12");
  w.set_host("hostA");
  w.set_pid(42);
  w.set_threads(8);
  w.add_analytics("quality");
  w.add_analytics("noop");
  w.set_credit(16);
  w.set_in_flight(5);
  w.set_tasks_done(900);
  w.set_tasks_per_second(30);
  w.set_points_per_second(1e6);
  w.set_last_heartbeat(kNow - 2'000'000'000);
  w.set_draining(true);
  return w;
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(std::vector<grpc::Service*>{&broker_, &sink_});
  }

  std::map<std::string, std::string> DefaultEnv() const {
    return {{"BTRQ_BROKER", server_->address()}, {"BTRQ_SINK", server_->address()}};
  }

  CliRun Run(std::vector<std::string> args) { return RunWith(std::move(args), DefaultEnv()); }

  CliRun RunWith(std::vector<std::string> args, std::map<std::string, std::string> env,
                 bool tty = false) {
    args.insert(args.begin(), "btrq");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    CliOptions options;
    options.out_tty = tty;
    options.err_tty = tty;
    options.clock = &clock_;
    options.sleep = [this](int64_t ns) {
      sleeps_.push_back(ns);
      clock_.Advance(Nanos(ns));
    };
    CliRun run;
    run.code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err,
                      Env::FromMap(std::move(env)), options);
    run.out = out.str();
    run.err = err.str();
    return run;
  }

  FakeBroker broker_;
  FakeSink sink_;
  std::unique_ptr<FakeServer> server_;
  btrq::testing::FakeClock clock_{kNow};
  btrq::testing::TempDir dir_;
  std::vector<int64_t> sleeps_;
};

// ---- submit ---------------------------------------------------------------------------------

TEST_F(CliTest, SubmitFromFlagsSendsTheExactSpecAndPrintsTheId) {
  const CliRun run = Run({"submit", "--name", "nightly", "--collection", "sensors/", "--prefix",
                          "--tag", "unit=volts", "--tag", "phase", "--annotation", "site=north",
                          "--stream", kStream, "--start", "2023-01-01", "--end", "now",
                          "--chunk", "6h", "--analytic", "quality", "--param", "rate=120",
                          "--param", "gap_factor=2.5", "--param", "label=abc", "--priority", "5",
                          "--max-attempts", "4", "--task-timeout", "10m"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "7\n");  // not a terminal: just the id

  v1::JobSpec want;
  want.set_name("nightly");
  want.set_collection("sensors/");
  want.set_collection_prefix(true);
  v1::TagFilter* tag = want.add_tags();
  tag->set_key("unit");
  tag->set_has_value(true);
  tag->set_value("volts");
  want.add_tags()->set_key("phase");
  v1::TagFilter* annotation = want.add_annotations();
  annotation->set_key("site");
  annotation->set_has_value(true);
  annotation->set_value("north");
  want.add_streams(StreamBytes());
  want.set_has_start(true);
  want.set_start(1'672'531'200'000'000'000);  // 2023-01-01T00:00:00Z
  want.set_has_end(true);
  want.set_end(kNow);
  want.set_chunk_ns(6 * 3600 * int64_t{1'000'000'000});
  want.set_analytic("quality");
  v1::Field* p = want.add_params();
  p->set_name("rate");
  p->mutable_value()->set_int_value(120);
  p = want.add_params();
  p->set_name("gap_factor");
  p->mutable_value()->set_double_value(2.5);
  p = want.add_params();
  p->set_name("label");
  p->mutable_value()->set_string_value("abc");
  want.set_priority(5);
  want.set_max_attempts(4);
  want.set_task_timeout_ns(600'000'000'000);

  ASSERT_EQ(broker_.submitted().size(), 1u);
  EXPECT_THAT(broker_.submitted()[0], EqualsProto(want));
}

TEST_F(CliTest, SubmitFromYamlFileWithFlagsOverridingIt) {
  const std::string path = dir_.File("job.yaml");
  WriteFile(path, std::string("name: from file\n"
                              "collection: sensors/\n"
                              "prefix: true\n"
                              "tags:\n"
                              "  unit: volts\n"
                              "  phase: ~\n"
                              "streams:\n"
                              "  - ") + kStream + "\n"
                  "versions:\n"
                  "  " + kStream + ": 12\n"
                  "start: 2024-01-01T00:00:00Z\n"
                  "end: 2024-01-08\n"
                  "chunk: 12h\n"
                  "analytic: quality\n"
                  "params:\n"
                  "  rate: 120\n"
                  "  gap_factor: 2.5\n"
                  "  label: \"5\"\n"
                  "priority: 1\n"
                  "max_attempts: 3\n"
                  "task_timeout: 10m\n");
  const CliRun run = Run({"submit", "-f", path, "--priority", "9", "--param", "rate=60"});
  ASSERT_EQ(run.code, 0) << run.err;

  v1::JobSpec want;
  want.set_name("from file");
  want.set_collection("sensors/");
  want.set_collection_prefix(true);
  v1::TagFilter* tag = want.add_tags();
  tag->set_key("unit");
  tag->set_has_value(true);
  tag->set_value("volts");
  want.add_tags()->set_key("phase");
  want.add_streams(StreamBytes());
  v1::PinnedVersion* pin = want.add_versions();
  pin->set_stream(StreamBytes());
  pin->set_version(12);
  want.set_has_start(true);
  want.set_start(1'704'067'200'000'000'000);
  want.set_has_end(true);
  want.set_end(1'704'672'000'000'000'000);
  want.set_chunk_ns(12 * 3600 * int64_t{1'000'000'000});
  want.set_analytic("quality");
  v1::Field* p = want.add_params();
  p->set_name("rate");
  p->mutable_value()->set_int_value(60);  // the flag replaced the file's 120
  p = want.add_params();
  p->set_name("gap_factor");
  p->mutable_value()->set_double_value(2.5);
  p = want.add_params();
  p->set_name("label");
  p->mutable_value()->set_string_value("5");  // quoted in YAML: stays a string
  want.set_priority(9);  // the flag wins
  want.set_max_attempts(3);
  want.set_task_timeout_ns(600'000'000'000);

  ASSERT_EQ(broker_.submitted().size(), 1u);
  EXPECT_THAT(broker_.submitted()[0], EqualsProto(want));
}

TEST_F(CliTest, SubmitOnATerminalPrintsAFriendlyLineUnlessQuiet) {
  const std::vector<std::string> args = {"submit", "--collection", "c", "--analytic", "noop"};
  CliRun run = RunWith(args, DefaultEnv(), /*tty=*/true);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "submitted job 7 (noop); follow it with `btrq status 7`\n");

  std::vector<std::string> quiet = args;
  quiet.push_back("--quiet");
  run = RunWith(quiet, DefaultEnv(), /*tty=*/true);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "7\n");
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(CliTest, BadInputsFailWithClearMessagesWithoutCallingTheBroker) {
  const std::string yaml = dir_.File("job.yaml");
  WriteFile(yaml, "analytic: quality\ncolection: sensors\n");
  const std::string yaml_time = dir_.File("time.yaml");
  WriteFile(yaml_time, "analytic: quality\ncollection: c\nstart: someday\n");
  const std::vector<std::string> base = {"submit", "--collection", "c", "--analytic", "quality"};
  const auto with = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const std::vector<BadInput> cases = {
      {with({"--start", "yesterday"}), "--start: bad timestamp \"yesterday\""},
      {with({"--chunk", "12x"}), "--chunk: "},
      {with({"--task-timeout", "-5m"}), "--task-timeout: "},
      {with({"--tag", "=volts"}), "--tag: bad tag \"=volts\": expected KEY=VALUE or KEY"},
      {with({"--param", "rate"}), "--param: bad param \"rate\": expected KEY=VALUE"},
      {with({"--stream", "not-a-uuid"}), "--stream: bad stream UUID \"not-a-uuid\""},
      {with({"--max-attempts", "0"}), "--max-attempts: must be between 1 and 1000"},
      {with({"--start", "2024-01-02", "--end", "2024-01-01"}),
       "the start (2024-01-02T00:00:00Z) must be before the end (2024-01-01T00:00:00Z)"},
      {{"submit", "--analytic", "quality"}, "no streams selected"},
      {{"submit", "--collection", "c"}, "no analytic"},
      {{"submit", "-f", yaml}, "job.yaml:2: unknown key \"colection\" (did you mean \"collection\"?)"},
      {{"submit", "-f", yaml_time}, "time.yaml:3: start: bad timestamp \"someday\""},
      {{"submit", "-f", dir_.File("missing.yaml")}, "cannot read job file"},
      {{"status", "abc"}, "bad job id \"abc\": expected a positive number"},
      {{"cancel", "0"}, "bad job id \"0\""},
      {{"frobnicate"}, "unknown command \"frobnicate\" (see btrq --help)"},
      {{"submit", "--priority", "high"}, "--priority"},
  };
  for (const BadInput& c : cases) {
    const CliRun run = Run(c.args);
    EXPECT_EQ(run.code, kExitUsage) << c.args[1] << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.message));
    EXPECT_EQ(run.out, "");
  }
  EXPECT_EQ(broker_.calls(), 0);
}

// ---- where the broker is --------------------------------------------------------------------

TEST_F(CliTest, BrokerAddressPrecedenceIsFlagThenEnvThenConfigFile) {
  FakeBroker flag_broker, env_broker, file_broker, env_file_broker;
  FakeServer flag_server({&flag_broker}), env_server({&env_broker}), file_server({&file_broker}),
      env_file_server({&env_file_broker});
  const std::string file = dir_.File("btrq.yaml");
  WriteFile(file, "control:\n  broker: " + file_server.address() + "\n");
  const std::string env_file = dir_.File("env.yaml");
  WriteFile(env_file, "control:\n  broker: " + env_file_server.address() + "\n");

  CliRun run = RunWith({"jobs", "--broker", flag_server.address(), "--config", file},
                       {{"BTRQ_BROKER", env_server.address()}, {"BTRQ_CONFIG", env_file}});
  ASSERT_EQ(run.code, 0) << run.err;
  run = RunWith({"jobs", "--config", file},
                {{"BTRQ_BROKER", env_server.address()}, {"BTRQ_CONFIG", env_file}});
  ASSERT_EQ(run.code, 0) << run.err;
  run = RunWith({"jobs", "--config", file}, {{"BTRQ_CONFIG", env_file}});
  ASSERT_EQ(run.code, 0) << run.err;
  run = RunWith({"jobs"}, {{"BTRQ_CONFIG", env_file}});
  ASSERT_EQ(run.code, 0) << run.err;

  EXPECT_EQ(flag_broker.calls(), 1);
  EXPECT_EQ(env_broker.calls(), 1);
  EXPECT_EQ(file_broker.calls(), 1);
  EXPECT_EQ(env_file_broker.calls(), 1);
}

TEST_F(CliTest, TokenFromConfigIsSentAsBearer) {
  const std::string file = dir_.File("btrq.yaml");
  WriteFile(file, "control:\n  token: s3cret\n");
  const CliRun run = RunWith({"jobs", "--config", file}, DefaultEnv());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(broker_.last_authorization(), "Bearer s3cret");
}

TEST_F(CliTest, UnreachableBrokerIsOneClearLineAndExitOne) {
  const std::string address = "127.0.0.1:" + std::to_string(btrq::testing::FreePort());
  const CliRun run = RunWith({"jobs"}, {{"BTRQ_BROKER", address}});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "btrq: cannot reach the broker at " + address +
                         ": connection refused (is btrq-broker running? set --broker or "
                         "BTRQ_BROKER)\n");
}

TEST_F(CliTest, UnreachableSinkNamesTheSink) {
  const std::string address = "127.0.0.1:" + std::to_string(btrq::testing::FreePort());
  const CliRun run = RunWith({"results", "7"}, {{"BTRQ_SINK", address}});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("cannot reach the sink at " + address));
  EXPECT_THAT(run.err, HasSubstr("set --sink or BTRQ_SINK"));
}

TEST_F(CliTest, BrokerErrorsArePrintedOnce) {
  broker_.job = RunningJob();
  CliRun run = Run({"status", "9"});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_EQ(run.err, "btrq: job 9 not found\n");

  broker_.fail = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
  run = Run({"jobs"});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("refused the request: bad token (set control.token"));
}

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

// ---- keygen ---------------------------------------------------------------------------------

TEST_F(CliTest, KeygenWritesASecretAndAPublicKeyFile) {
  CliRun run = Run({"keygen", "--out-dir", dir_.path(), "--name", "worker1"});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string secret_path = dir_.File("worker1.key");
  const std::string public_path = dir_.File("worker1.pub");
  struct stat st;
  ASSERT_EQ(::stat(secret_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(public_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  const std::string secret = ReadFile(secret_path);
  const std::string pub = ReadFile(public_path);
  ASSERT_EQ(secret.size(), 41u);  // 40 Z85 characters and a newline
  ASSERT_EQ(pub.size(), 41u);
  ASSERT_OK_AND_ASSIGN(std::string derived, CurvePublicKey(secret.substr(0, 40)));
  EXPECT_EQ(derived + "\n", pub);
  EXPECT_THAT(run.out, HasSubstr(pub));

  run = Run({"keygen", "--out-dir", dir_.path(), "--name", "worker1"});
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("worker1.pub exists (use --force to overwrite it)"));
  EXPECT_EQ(ReadFile(secret_path), secret);

  run = Run({"keygen", "--out-dir", dir_.path(), "--name", "worker1", "--force"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(ReadFile(secret_path), secret);
  EXPECT_EQ(broker_.calls(), 0);
}

}  // namespace
}  // namespace btrq::submitter
