#pragma once

// The secure setup end to end, started from config/secure.yaml on a cluster::Cluster with
// `secure` on: every ZeroMQ link under CurveZMQ with a key pair per process and only listed
// worker keys let in, the control APIs over TLS with a bearer token, BTrDB (btrdb-lite)
// over TLS demanding the API key. Certificates come from openssl, the lease secret from
// `btrq keygen`, secrets from files (and, for one worker, BTRDB_API_KEY), all in a
// temporary directory that stands in for /etc/btrq and /var/lib/btrq.
//
// One cluster per test process: btrdb-lite, broker, sink, a worker with a listed key
// (worker 0) and a worker with an unlisted one (worker 1).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "common/status.h"
#include "common/zmq_util.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::security {

using std::chrono::milliseconds;
using cluster::Role;

inline constexpr milliseconds kStartTimeout{20000};
inline constexpr milliseconds kStopGrace{10000};

// The job: kStreams streams of one point a second over kChunks hours, one task per hour.
inline constexpr int kStreams = 2;
inline constexpr int kChunks = 2;
inline constexpr int64_t kHourNs = 3'600'000'000'000;
inline constexpr int64_t kStartNs = 1'699'999'200'000'000'000;  // on the hour: chunks align
inline constexpr char kCollection[] = "secure/test";

// What a program that ran to its end printed.
struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` to its end (within 30 s) and collects all of its output.
Result<Ran> RunToEnd(const std::vector<std::string>& argv);
// One in-process `btrq` invocation with `env` as its whole environment.
Ran Cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});
// GET http://HOST_PORT/metrics, parsed.
Result<testing::Exposition> Metrics(const std::string& host_port);
// `text` with the ECMAScript regex specials escaped.
std::string RegexEscape(std::string_view text);

class SecureCluster {
 public:
  static constexpr size_t kGood = 0;  // worker indexes
  static constexpr size_t kBad = 1;

  Status Start();
  void Stop();

  // `btrq` flags reaching this cluster with `config_file`.
  std::vector<std::string> CliFlags(const std::string& config_file) const {
    return {"--config", config_file};
  }
  Subprocess& broker() const { return *cluster->process(Role::kBroker); }
  Subprocess& sink() const { return *cluster->process(Role::kSink); }
  Subprocess& worker(size_t index) const { return *cluster->process(Role::kWorker, index); }
  // Every process started so far.
  std::vector<Subprocess*> Processes() const;
  // Every line the cluster's processes wrote so far.
  std::string AllLogs() const;

  testing::TempDir dir;
  std::string etc;              // stands in for /etc/btrq
  std::string config;           // the cluster's config.yaml (secure.yaml, adapted)
  std::string config_no_token;  // ... without control.token_file
  std::string config_no_tls;    // ... without control.tls_ca
  std::string api_key;
  std::string token;
  CurveKeyPair broker_keys, sink_keys, good_keys, bad_keys;
  std::string good_id, bad_id;
  std::unique_ptr<cluster::Cluster> cluster;

 private:
  Status MakeCertificates();
  Status MakeSecrets();
  Result<BtrqConfig> LoadSecureYaml();
  Status WriteConfigVariants();
  Status LoadStreams();
  Status StartWorkers();
};

// A SecureCluster started once per test suite (so once per process under ctest).
class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  SecureCluster& c() { return *cluster_; }

  // The job, submitted and waited for through the CLI over TLS with the token; once.
  struct Job {
    Ran submit;
    std::string id;
  };
  const Job& RunJobOnce();

  static SecureCluster* cluster_;
  static std::string* start_error_;
  static Job* job_;
};

}  // namespace btrq::security
