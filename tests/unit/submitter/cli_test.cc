// `btrq` run in-process (RunCli) against fake Broker and Sink gRPC services: submit, where
// the broker is and how it is reached, keygen.

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
