// The control APIs and BTrDB of the secure setup (secure_cluster.h): the bearer token,
// TLS and its certificate checks, BTrDB's API key, and secrets kept out of logs and
// command lines.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btrdb/client.h"
#include "common/file_util.h"
#include "tests/integration/security/secure_cluster.h"
#include "tests/support/status_matchers.h"

namespace btrq::security {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(SecurityTest, WrongOrMissingTokenIsRefusedWithAClearError) {
  std::vector<std::string> args = c().CliFlags(c().config);
  args.push_back("jobs");
  const Ran wrong = Cli(args, {{"BTRQ_CONTROL_TOKEN", "not-the-token"}});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("the broker at " + c().cluster->broker_control() + " refused"));
  EXPECT_THAT(wrong.err, HasSubstr("wrong bearer token"));

  std::vector<std::string> missing_args = c().CliFlags(c().config_no_token);
  missing_args.push_back("jobs");
  const Ran missing = Cli(missing_args);
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("the broker requires a token"));

  // The sink's results API checks the same token.
  std::vector<std::string> results_args = c().CliFlags(c().config);
  results_args.insert(results_args.end(), {"results", "1"});
  const Ran sink = Cli(results_args, {{"BTRQ_CONTROL_TOKEN", "not-the-token"}});
  EXPECT_EQ(sink.code, 1);
  EXPECT_THAT(sink.err, HasSubstr("the sink at " + c().cluster->sink_control() + " refused"));
}

TEST_F(SecurityTest, PlaintextClientOfATlsServerGetsAClearError) {
  std::vector<std::string> args = c().CliFlags(c().config_no_tls);
  args.insert(args.end(), {"--timeout", "5s", "jobs"});
  const Ran ran = Cli(args);
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("the broker at " + c().cluster->broker_control()));
  EXPECT_THAT(ran.err, HasSubstr("control.tls_ca"));
}

TEST_F(SecurityTest, ClientThatDoesNotTrustTheCertificateGetsAClearError) {
  // A CA of its own, which did not sign the broker's certificate.
  const std::string other_ca = c().dir.File("other-ca.pem");
  ASSERT_OK_AND_ASSIGN(
      Ran made, RunToEnd({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                          c().dir.File("other-ca.key"), "-out", other_ca, "-days", "2", "-subj",
                          "/CN=another CA"}));
  ASSERT_EQ(made.code, 0) << made.err;
  std::vector<std::string> args = c().CliFlags(c().config);
  args.insert(args.end(), {"--timeout", "5s", "jobs"});
  const Ran ran = Cli(args, {{"BTRQ_CONTROL_TLS_CA", other_ca}});
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("the broker at " + c().cluster->broker_control()));
  EXPECT_THAT(ran.err, HasSubstr("TLS failed"));
}

TEST_F(SecurityTest, BtrdbRefusesCallsWithoutTheApiKey) {
  btrdb::ConnectOptions options;
  options.endpoints = {c().cluster->btrdb_endpoint()};
  options.tls = btrdb::ConnectOptions::Tls::kOn;
  options.ca_bundle = c().etc + "/btrdb-ca.pem";
  options.connect_timeout_ns = 5'000'000'000;
  Result<std::unique_ptr<btrdb::Client>> without = btrdb::Client::Connect(options);
  ASSERT_THAT(without.status(), StatusIs(StatusCode::kUnauthenticated));

  options.api_key = "not-" + c().api_key;
  Result<std::unique_ptr<btrdb::Client>> wrong = btrdb::Client::Connect(options);
  ASSERT_THAT(wrong.status(), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(wrong.status().ToString(), Not(HasSubstr(c().api_key)));
}

TEST_F(SecurityTest, SecretsAppearInNoLogAndNoCommandLine) {
  // Run the job first so that the logs cover a whole job.
  ASSERT_EQ(RunJobOnce().submit.code, 0);
  const std::vector<std::string> secrets = {
      c().api_key, c().token, c().broker_keys.secret_key, c().sink_keys.secret_key,
      c().good_keys.secret_key, c().bad_keys.secret_key};
  const std::string logs = c().AllLogs();
  ASSERT_THAT(logs, HasSubstr("btrq-broker: ready"));
  const std::vector<Subprocess*> processes = c().Processes();
  ASSERT_EQ(processes.size(), 5u);
  for (Subprocess* p : processes) {
    ASSERT_OK_AND_ASSIGN(std::string cmdline,
                         ReadFileToString("/proc/" + std::to_string(p->pid()) + "/cmdline"));
    ASSERT_FALSE(cmdline.empty());
    for (const std::string& secret : secrets) {
      EXPECT_THAT(cmdline, Not(HasSubstr(secret))) << "pid " << p->pid();
    }
  }
  for (const std::string& secret : secrets) EXPECT_THAT(logs, Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace btrq::security
