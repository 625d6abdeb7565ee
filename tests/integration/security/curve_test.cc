// The ZeroMQ links of the secure setup (secure_cluster.h): CURVE with listed worker keys,
// a refused worker, and the authorized-keys file edited while broker and sink run.

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/integration/security/secure_cluster.h"
#include "tests/support/json.h"
#include "tests/support/status_matchers.h"

namespace btrq::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(SecurityTest, JobCompletesOverCurveTlsAndTheApiKey) {
  const Job& job = RunJobOnce();
  ASSERT_EQ(job.submit.code, 0) << job.submit.err << c().AllLogs();
  ASSERT_FALSE(job.id.empty());

  // Results from the sink over TLS with the token: one per task.
  std::vector<std::string> args = c().CliFlags(c().config);
  args.insert(args.end(), {"results", job.id});
  const Ran results = Cli(args);
  ASSERT_EQ(results.code, 0) << results.err;
  size_t lines = 0;
  std::istringstream in(results.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    // Computed by the listed worker (the other one never got in).
    EXPECT_THAT(line, HasSubstr("\"worker\":\"" + c().good_id + "\""));
    EXPECT_THAT(line, HasSubstr("\"status\":\"done\""));
  }
  EXPECT_EQ(lines, static_cast<size_t>(kStreams * kChunks)) << results.out;
}

TEST_F(SecurityTest, WorkerWithAnUnlistedKeyIsRefusedLoggedCountedAndGetsNoTask) {
  // Both servers log the refusal of the bad worker's key...
  const std::string refusal = "refused CURVE peer .* key " + RegexEscape(c().bad_keys.public_key) +
                              ": public key not authorized";
  ASSERT_OK(c().broker().WaitForLine(refusal, kStartTimeout, true).status());
  ASSERT_OK(c().sink().WaitForLine(refusal, kStartTimeout, true).status());
  // ...and count it.
  ASSERT_OK_AND_ASSIGN(testing::Exposition broker_metrics, Metrics(c().cluster->broker_http()));
  EXPECT_GE(broker_metrics.Value("btrq_auth_refused_total", {{"reason", "unknown_key"}}).value_or(0),
            1);
  EXPECT_GE(broker_metrics.Value("btrq_auth_accepted_total").value_or(0), 1);
  ASSERT_OK_AND_ASSIGN(testing::Exposition sink_metrics, Metrics(c().cluster->sink_http()));
  EXPECT_GE(sink_metrics.Value("btrq_auth_refused_total", {{"reason", "unknown_key"}}).value_or(0),
            1);

  // The job completes through the good worker alone.
  const Job& job = RunJobOnce();
  ASSERT_EQ(job.submit.code, 0) << job.submit.err;

  // The broker never saw the bad worker: it is not listed, and it ran nothing.
  std::vector<std::string> args = c().CliFlags(c().config);
  args.insert(args.end(), {"workers", "--json"});
  const Ran workers = Cli(args);
  ASSERT_EQ(workers.code, 0) << workers.err;
  ASSERT_OK_AND_ASSIGN(testing::Json doc, testing::Json::Parse(workers.out));
  std::vector<std::string> ids;
  for (const testing::Json& w : doc["workers"].elements()) ids.push_back(w["id"].AsString());
  EXPECT_THAT(ids, ::testing::ElementsAre(c().good_id));
  ASSERT_OK_AND_ASSIGN(testing::Exposition bad_metrics,
                       Metrics(c().cluster->worker_http(SecureCluster::kBad)));
  EXPECT_EQ(bad_metrics.Sum("btrq_worker_tasks_total"), 0);
  EXPECT_EQ(bad_metrics.Value("btrq_worker_tasks_active").value_or(-1), 0);
  EXPECT_THAT(c().broker().Stderr(), Not(HasSubstr("worker " + c().bad_id)));
}

TEST_F(SecurityTest, KeysFileEditsApplyWithoutARestart) {
  const std::string refusal = "refused CURVE peer .* key " + RegexEscape(c().bad_keys.public_key);
  ASSERT_OK(c().broker().WaitForLine(refusal, kStartTimeout, true).status());
  ASSERT_OK(c().sink().WaitForLine(refusal, kStartTimeout, true).status());

  // The operator lists the second worker and takes the first one off, replacing the file
  // whole (a new file renamed over the old one). Broker and sink keep running.
  const std::string keys_file = c().cluster->config().curve.authorized_keys_file;
  ASSERT_OK(WriteFileAtomically(keys_file + ".new", c().bad_keys.public_key + " worker-two\n"));
  ASSERT_EQ(std::rename((keys_file + ".new").c_str(), keys_file.c_str()), 0);

  // The listed worker gets in at its next handshake...
  Result<std::string> hello = c().broker().WaitForLine(
      "worker " + RegexEscape(c().bad_id) + " .*said HELLO", kStartTimeout, true);
  ASSERT_TRUE(hello.ok()) << hello.status().ToString() << c().AllLogs();
  // ...and the one taken off is forgotten by the broker at its next frame, told why, and
  // stops with that reason.
  Result<std::string> revoked = c().broker().WaitForLine(
      "worker " + RegexEscape(c().good_id) + ": its CURVE key was revoked", kStartTimeout, true);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString() << c().AllLogs();
  Result<int> code = c().worker(SecureCluster::kGood).Wait(kStartTimeout);
  ASSERT_OK(code);
  EXPECT_NE(*code, 0);
  EXPECT_THAT(c().worker(SecureCluster::kGood).Stderr(),
              HasSubstr("CURVE key is no longer authorized"));

  // The job runs on the newly listed worker alone.
  const Job& job = RunJobOnce();
  ASSERT_EQ(job.submit.code, 0) << job.submit.err << c().AllLogs();
  std::vector<std::string> args = c().CliFlags(c().config);
  args.insert(args.end(), {"results", job.id});
  const Ran results = Cli(args);
  ASSERT_EQ(results.code, 0) << results.err;
  EXPECT_THAT(results.out, HasSubstr("\"worker\":\"" + c().bad_id + "\""));
  EXPECT_THAT(results.out, Not(HasSubstr("\"worker\":\"" + c().good_id + "\"")));

  for (const std::string& http : {c().cluster->broker_http(), c().cluster->sink_http()}) {
    ASSERT_OK_AND_ASSIGN(testing::Exposition metrics, Metrics(http));
    EXPECT_EQ(metrics.Value("btrq_auth_authorized_keys").value_or(-1), 1) << http;
    EXPECT_EQ(metrics.Value("btrq_auth_keys_file_errors_total").value_or(-1), 0) << http;
  }
  ASSERT_OK_AND_ASSIGN(testing::Exposition broker_metrics, Metrics(c().cluster->broker_http()));
  EXPECT_GE(broker_metrics.Value("btrq_bad_messages_total", {{"reason", "revoked_key"}})
                .value_or(0),
            1);
}

}  // namespace
}  // namespace btrq::security
