// The secure setup end to end, started from config/secure.yaml: every ZeroMQ link under
// CurveZMQ with only listed worker keys let in, the control APIs over TLS with a bearer
// token, BTrDB (btrdb-lite) over TLS demanding the API key. Keys come from `btrq keygen`,
// certificates from openssl, secrets from files (and, for one worker, BTRDB_API_KEY), all
// in a temporary directory that stands in for /etc/btrq and /var/lib/btrq.
//
// One cluster serves the whole suite: btrdb-lite, broker, sink, a worker with a listed key
// and a worker with an unlisted one.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "btrdb/client.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/ids.h"
#include "common/readiness.h"
#include "submitter/cli.h"
#include "tests/support/json.h"
#include "tests/support/ports.h"
#include "tests/support/prometheus.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Subprocess;

constexpr milliseconds kStartTimeout{20000};
constexpr milliseconds kJobTimeout{60000};
constexpr milliseconds kStopGrace{10000};
constexpr milliseconds kShortRun{30000};

// The job: kStreams streams of one point a second over kChunks hours, one task per hour.
constexpr int kStreams = 2;
constexpr int kChunks = 2;
constexpr int64_t kHourNs = 3'600'000'000'000;
constexpr int64_t kStartNs = 1'699'999'200'000'000'000;  // on the hour: chunks align
constexpr char kCollection[] = "secure/test";

std::string BinaryPath(const std::string& relative) {
  return std::string(BTRQ_BINARY_DIR) + "/" + relative;
}

Result<std::string> ReadFile(const std::string& path) { return ReadFileToString(path); }

Status WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  if (::chmod(path.c_str(), mode) != 0) return Status::IoError("cannot chmod " + path);
  return Status::OK();
}

void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  for (size_t at = text->find(from); at != std::string::npos; at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
  }
}

std::string RegexEscape(std::string_view text) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{}/-)";
  std::string out;
  for (char c : text) {
    if (kSpecial.find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned v = random() & 0xff;
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 0xf]);
  }
  return out;
}

// The key of a `btrq keygen` file: its last line that is neither blank nor a comment.
std::string KeyIn(const std::string& text) {
  std::istringstream lines(text);
  std::string line, key;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#') key = line;
  }
  return key;
}

// What a program that ran to its end printed.
struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` to its end (within kShortRun) and collects all of its output.
Result<Ran> RunToEnd(const std::vector<std::string>& argv) {
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> p, Subprocess::Spawn(argv));
  Ran ran;
  BTRQ_ASSIGN_OR_RETURN(ran.code, p->Wait(kShortRun));
  // A pattern that never matches returns once the stream is closed: all output is in.
  (void)p->WaitForLine("(?!)", kShortRun);
  (void)p->WaitForLine("(?!)", kShortRun, /*from_stderr=*/true);
  ran.out = p->Stdout();
  ran.err = p->Stderr();
  return ran;
}

// One in-process `btrq` invocation with `env` as its whole environment.
Ran Cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  std::vector<const char*> argv = {"btrq"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  Ran ran;
  ran.code = submitter::RunCli(static_cast<int>(argv.size()), argv.data(), out, err,
                               Env::FromMap(env));
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

Result<testing::Exposition> Metrics(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  httplib::Client client(host_port.substr(0, colon), std::stoi(host_port.substr(colon + 1)));
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return Status::Unavailable("GET http://" + host_port + "/metrics failed");
  }
  return testing::Exposition::Parse(response->body);
}

// The daemon's ready line (common/readiness.h) on the stream it prints it to.
Result<std::string> ReadyLine(Subprocess& p, btrq::Daemon daemon) {
  return p.WaitForLine(ReadyPattern(daemon), kStartTimeout, !ReadyOnStdout(daemon));
}

// A key pair made by `btrq keygen`.
struct KeyPair {
  std::string public_key;
  std::string secret_key;   // read back only to check that it is never printed
  std::string secret_path;  // what the process is given
};

class SecureCluster {
 public:
  Status Start();
  // Workers first, then sink, broker, btrdb-lite.
  void Stop();

  // Flags that every btrq process gets: secure.yaml as adapted, and its own key pair.
  std::vector<std::string> Daemon(const std::string& binary, const KeyPair& keys) const;
  Status StartWorker(const KeyPair& keys, const std::vector<std::string>& env,
                     std::unique_ptr<Subprocess>* worker, std::string* id);
  // `btrq` flags reaching this cluster with `config`.
  std::vector<std::string> CliFlags(const std::string& config) const {
    return {"--config", config, "--broker", broker_control, "--sink", sink_control};
  }

  testing::TempDir dir;
  std::string etc;  // stands in for /etc/btrq
  std::string config;           // secure.yaml with the paths of this directory
  std::string config_no_token;  // ... without control.token_file
  std::string config_no_tls;    // ... without control.tls_ca
  std::string api_key;
  std::string token;
  KeyPair broker_keys, sink_keys, good_keys, bad_keys;

  std::unique_ptr<Subprocess> lite, broker, sink, good_worker, bad_worker;
  std::string lite_endpoint;
  std::string broker_control, broker_tasks, broker_http;
  std::string sink_results, sink_control, sink_http;
  std::string good_id, bad_id, bad_http;

 private:
  Status MakeCertificates();
  Status MakeKeys(const std::string& name, KeyPair* keys);
  Status WriteConfigs();
  Status LoadStreams();
};

Status SecureCluster::MakeCertificates() {
  // A CA, and a server certificate it signed for 127.0.0.1 and localhost (EC keys: fast).
  const std::string openssl = "/usr/bin/openssl";
  BTRQ_RETURN_IF_ERROR(WriteFile(dir.File("server.ext"),
                                 "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                 "basicConstraints=CA:FALSE\n"
                                 "keyUsage=digitalSignature,keyEncipherment\n"
                                 "extendedKeyUsage=serverAuth\n"));
  const std::vector<std::vector<std::string>> steps = {
      {openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", dir.File("ca.key"), "-out", etc + "/ca.pem", "-days", "2", "-subj",
       "/CN=btrq test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"},
      {openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", etc + "/server.key", "-out", dir.File("server.csr"), "-subj", "/CN=localhost"},
      {openssl, "x509", "-req", "-in", dir.File("server.csr"), "-CA", etc + "/ca.pem", "-CAkey",
       dir.File("ca.key"), "-CAcreateserial", "-out", etc + "/server.crt", "-days", "2",
       "-extfile", dir.File("server.ext")},
  };
  for (const auto& step : steps) {
    BTRQ_ASSIGN_OR_RETURN(Ran ran, RunToEnd(step));
    if (ran.code != 0) return Status::Internal("openssl " + step[1] + " failed: " + ran.err);
  }
  // One certificate serves the broker, the sink and BTrDB here; secure.yaml names each.
  BTRQ_ASSIGN_OR_RETURN(std::string cert, ReadFile(etc + "/server.crt"));
  BTRQ_ASSIGN_OR_RETURN(std::string key, ReadFile(etc + "/server.key"));
  BTRQ_ASSIGN_OR_RETURN(std::string ca, ReadFile(etc + "/ca.pem"));
  for (const std::string name : {"broker", "sink"}) {
    BTRQ_RETURN_IF_ERROR(WriteFile(etc + "/" + name + ".crt", cert, 0644));
    BTRQ_RETURN_IF_ERROR(WriteFile(etc + "/" + name + ".key", key));
  }
  return WriteFile(etc + "/btrdb-ca.pem", ca, 0644);
}

Status SecureCluster::MakeKeys(const std::string& name, KeyPair* keys) {
  const Ran ran = Cli({"keygen", "--out-dir", etc, "--name", name});
  if (ran.code != 0) return Status::Internal("btrq keygen failed: " + ran.err);
  BTRQ_ASSIGN_OR_RETURN(std::string pub, ReadFile(etc + "/" + name + ".pub"));
  keys->secret_path = etc + "/" + name + ".key";
  BTRQ_ASSIGN_OR_RETURN(std::string secret, ReadFile(keys->secret_path));
  keys->public_key = KeyIn(pub);
  keys->secret_key = KeyIn(secret);
  if (keys->public_key.size() != 40 || keys->secret_key.size() != 40) {
    return Status::Internal("btrq keygen wrote no Z85 keys for " + name);
  }
  return Status::OK();
}

Status SecureCluster::WriteConfigs() {
  // secure.yaml itself, its /etc/btrq and /var/lib/btrq moved into this directory.
  BTRQ_ASSIGN_OR_RETURN(std::string text,
                        ReadFile(std::string(BTRQ_SOURCE_DIR) + "/config/secure.yaml"));
  ReplaceAll(&text, "/etc/btrq/", etc + "/");
  ReplaceAll(&text, "/var/lib/btrq/", dir.File("var") + "/");
  config = dir.File("secure.yaml");
  BTRQ_RETURN_IF_ERROR(WriteFile(config, text, 0644));

  std::string no_token = text;
  const std::string token_line = "\n  token_file: " + etc + "/control-token";
  if (no_token.find(token_line) == std::string::npos) {
    return Status::Internal("secure.yaml has no control.token_file");
  }
  ReplaceAll(&no_token, token_line, "");
  config_no_token = dir.File("secure-no-token.yaml");
  BTRQ_RETURN_IF_ERROR(WriteFile(config_no_token, no_token, 0644));

  std::string no_tls = text;
  const std::string tls_line = "\n  tls_ca: " + etc + "/ca.pem";
  if (no_tls.find(tls_line) == std::string::npos) {
    return Status::Internal("secure.yaml has no control.tls_ca");
  }
  ReplaceAll(&no_tls, tls_line, "\n  # no tls_ca:");
  config_no_tls = dir.File("secure-no-tls.yaml");
  return WriteFile(config_no_tls, no_tls, 0644);
}

std::vector<std::string> SecureCluster::Daemon(const std::string& binary,
                                               const KeyPair& keys) const {
  return {BinaryPath(binary),
          "--config", config,
          "--set", "btrdb.endpoints=" + lite_endpoint,
          // The public key follows from the secret key (config/secure.yaml leaves it out).
          "--set", "curve.secret_key_file=" + keys.secret_path};
}

Status SecureCluster::LoadStreams() {
  // Through our client, over TLS with the key, as the broker and workers will read them.
  btrdb::ConnectOptions options;
  options.endpoints = {lite_endpoint};
  options.tls = btrdb::ConnectOptions::Tls::kOn;
  options.ca_bundle = etc + "/btrdb-ca.pem";
  options.api_key = api_key;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<btrdb::Client> client, btrdb::Client::Connect(options));
  for (int s = 0; s < kStreams; ++s) {
    const Uuid uuid = Uuid::Random();
    BTRQ_RETURN_IF_ERROR(client->Create(uuid, kCollection, {{"name", "s" + std::to_string(s)}}, {}));
    std::vector<btrdb::RawPoint> points;
    for (int64_t t = kStartNs; t < kStartNs + kChunks * kHourNs; t += 1'000'000'000) {
      points.push_back({t, static_cast<double>(t % 97)});
    }
    BTRQ_RETURN_IF_ERROR(client->Insert(uuid, points).status());
    BTRQ_RETURN_IF_ERROR(client->Flush(uuid).status());
  }
  return Status::OK();
}

Status SecureCluster::StartWorker(const KeyPair& keys, const std::vector<std::string>& env,
                                  std::unique_ptr<Subprocess>* worker, std::string* id) {
  std::vector<std::string> argv = Daemon("worker/btrq-worker", keys);
  const std::vector<std::string> more = {
      "--broker", broker_tasks, "--sink", sink_results, "--threads", "2",
      "--set", "curve.broker_public_key=" + broker_keys.public_key,
      "--set", "curve.sink_public_key=" + sink_keys.public_key};
  argv.insert(argv.end(), more.begin(), more.end());
  if (worker == &bad_worker) {
    argv.push_back("--http-listen");
    argv.push_back(bad_http);
  }
  BTRQ_ASSIGN_OR_RETURN(*worker, Subprocess::Spawn(argv, env));
  BTRQ_ASSIGN_OR_RETURN(std::string line, ReadyLine(**worker, btrq::Daemon::kWorker));
  BTRQ_ASSIGN_OR_RETURN(*id, ParseWorkerReady(line));
  return Status::OK();
}

Status SecureCluster::Start() {
  etc = dir.File("etc");
  if (::mkdir(etc.c_str(), 0700) != 0) return Status::IoError("mkdir " + etc);
  api_key = "btrdb-" + RandomHex(16);
  token = "control-" + RandomHex(16);
  BTRQ_RETURN_IF_ERROR(WriteFile(etc + "/btrdb-api-key", api_key + "\n"));
  BTRQ_RETURN_IF_ERROR(WriteFile(etc + "/control-token", token + "\n"));
  BTRQ_RETURN_IF_ERROR(MakeCertificates());
  BTRQ_RETURN_IF_ERROR(MakeKeys("curve-broker", &broker_keys));
  BTRQ_RETURN_IF_ERROR(MakeKeys("curve-sink", &sink_keys));
  BTRQ_RETURN_IF_ERROR(MakeKeys("worker-good", &good_keys));
  BTRQ_RETURN_IF_ERROR(MakeKeys("worker-bad", &bad_keys));
  // The broker's and sink's lease secret, as secure.yaml names it (btrq.lease).
  if (const Ran ran = Cli({"keygen", "--out-dir", etc, "--name", "btrq", "--lease-secret"});
      ran.code != 0) {
    return Status::Internal("btrq keygen --lease-secret failed: " + ran.err);
  }
  // Only the good worker is listed, with a label as operators write them.
  BTRQ_RETURN_IF_ERROR(WriteFile(etc + "/authorized_workers",
                                 "# workers allowed to connect\n" + good_keys.public_key +
                                     " worker-good\n",
                                 0644));
  BTRQ_RETURN_IF_ERROR(WriteConfigs());

  BTRQ_ASSIGN_OR_RETURN(lite, Subprocess::Spawn({BinaryPath("lite/btrdb-lite"),
                                                 "--listen", "127.0.0.1:0",
                                                 "--tls-cert", etc + "/server.crt",
                                                 "--tls-key", etc + "/server.key",
                                                 "--api-key-file", etc + "/btrdb-api-key"}));
  BTRQ_ASSIGN_OR_RETURN(std::string lite_line, ReadyLine(*lite, btrq::Daemon::kBtrdbLite));
  BTRQ_ASSIGN_OR_RETURN(lite_endpoint, ParseBtrdbLiteReady(lite_line));
  BTRQ_RETURN_IF_ERROR(LoadStreams());

  std::vector<std::string> broker_argv = Daemon("broker/btrq-broker", broker_keys);
  for (const char* set : {"broker.control_listen=127.0.0.1:0", "broker.tasks_listen=tcp://127.0.0.1:0",
                          "broker.http_listen=127.0.0.1:0"}) {
    broker_argv.push_back("--set");
    broker_argv.push_back(set);
  }
  BTRQ_ASSIGN_OR_RETURN(broker, Subprocess::Spawn(broker_argv));
  BTRQ_ASSIGN_OR_RETURN(std::string broker_line, ReadyLine(*broker, btrq::Daemon::kBroker));
  BTRQ_ASSIGN_OR_RETURN(BrokerReady broker_ready, ParseBrokerReady(broker_line));
  broker_control = broker_ready.control;
  broker_tasks = broker_ready.tasks;
  broker_http = broker_ready.http;

  std::vector<std::string> sink_argv = Daemon("sink/btrq-sink", sink_keys);
  for (const char* set : {"sink.listen=tcp://127.0.0.1:0", "sink.control_listen=127.0.0.1:0",
                          "sink.http_listen=127.0.0.1:0"}) {
    sink_argv.push_back("--set");
    sink_argv.push_back(set);
  }
  BTRQ_ASSIGN_OR_RETURN(sink, Subprocess::Spawn(sink_argv));
  BTRQ_ASSIGN_OR_RETURN(std::string sink_line, ReadyLine(*sink, btrq::Daemon::kSink));
  BTRQ_ASSIGN_OR_RETURN(SinkReady sink_ready, ParseSinkReady(sink_line));
  sink_results = sink_ready.results;
  sink_control = sink_ready.control;
  sink_http = sink_ready.http;

  // The good worker takes its API key from the environment, as the Python client would;
  // everyone else reads btrdb.api_key_file.
  BTRQ_RETURN_IF_ERROR(
      StartWorker(good_keys, {"BTRDB_API_KEY=" + api_key}, &good_worker, &good_id));
  // The broker hears the good worker's HELLO: the CURVE handshake and ZAP let it in.
  BTRQ_RETURN_IF_ERROR(
      broker->WaitForLine("worker " + RegexEscape(good_id) + " .*said HELLO", kStartTimeout, true)
          .status());
  bad_http = "127.0.0.1:" + std::to_string(testing::FreePort());
  return StartWorker(bad_keys, {}, &bad_worker, &bad_id);
}

void SecureCluster::Stop() {
  for (std::unique_ptr<Subprocess>* p : {&good_worker, &bad_worker, &sink, &broker, &lite}) {
    if (*p) (void)(*p)->Stop(kStopGrace);
  }
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::access("/usr/bin/openssl", X_OK) != 0) {
      start_error_ = new std::string("/usr/bin/openssl is missing (scripts/bootstrap installs it)");
      return;
    }
    cluster_ = new SecureCluster();
    if (Status s = cluster_->Start(); !s.ok()) start_error_ = new std::string(s.ToString());
  }
  static void TearDownTestSuite() {
    if (cluster_ != nullptr) cluster_->Stop();
    delete cluster_;
    delete start_error_;
    delete job_;
    cluster_ = nullptr;
    start_error_ = nullptr;
    job_ = nullptr;
  }

  void SetUp() override {
    if (start_error_ != nullptr) {
      std::string logs;
      if (cluster_ != nullptr) {
        for (Subprocess* p : {cluster_->lite.get(), cluster_->broker.get(), cluster_->sink.get(),
                              cluster_->good_worker.get(), cluster_->bad_worker.get()}) {
          if (p != nullptr) logs += p->Stdout() + p->Stderr();
        }
      }
      FAIL() << "the secure cluster did not start: " << *start_error_ << "\n" << logs;
    }
  }

  SecureCluster& c() { return *cluster_; }

  // The job, submitted and waited for through the CLI over TLS with the token; once.
  struct Job {
    Ran submit;
    std::string id;
  };
  const Job& RunJobOnce() {
    if (job_ == nullptr) {
      job_ = new Job();
      std::vector<std::string> args = c().CliFlags(c().config);
      const std::vector<std::string> submit = {
          "--timeout", "30s", "submit", "--collection", kCollection,
          "--start", std::to_string(kStartNs), "--end", std::to_string(kStartNs + kChunks * kHourNs),
          "--chunk", "1h", "--analytic", "count", "--wait", "-q"};
      args.insert(args.end(), submit.begin(), submit.end());
      job_->submit = Cli(args);
      std::istringstream out(job_->submit.out);
      std::getline(out, job_->id);
    }
    return *job_;
  }

  // Every line the cluster's processes wrote so far.
  std::string AllLogs() {
    std::string logs;
    for (Subprocess* p : {c().lite.get(), c().broker.get(), c().sink.get(), c().good_worker.get(),
                          c().bad_worker.get()}) {
      logs += p->Stdout() + p->Stderr();
    }
    return logs;
  }

  static SecureCluster* cluster_;
  static std::string* start_error_;
  static Job* job_;
};

SecureCluster* SecurityTest::cluster_ = nullptr;
std::string* SecurityTest::start_error_ = nullptr;
SecurityTest::Job* SecurityTest::job_ = nullptr;

TEST_F(SecurityTest, JobCompletesOverCurveTlsAndTheApiKey) {
  const Job& job = RunJobOnce();
  ASSERT_EQ(job.submit.code, 0) << job.submit.err << AllLogs();
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
  ASSERT_OK(c().broker->WaitForLine(refusal, kStartTimeout, true).status());
  ASSERT_OK(c().sink->WaitForLine(refusal, kStartTimeout, true).status());
  // ...and count it.
  ASSERT_OK_AND_ASSIGN(testing::Exposition broker_metrics, Metrics(c().broker_http));
  EXPECT_GE(broker_metrics.Value("btrq_auth_refused_total", {{"reason", "unknown_key"}}).value_or(0),
            1);
  EXPECT_GE(broker_metrics.Value("btrq_auth_accepted_total").value_or(0), 1);
  ASSERT_OK_AND_ASSIGN(testing::Exposition sink_metrics, Metrics(c().sink_http));
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
  ASSERT_OK_AND_ASSIGN(testing::Exposition bad_metrics, Metrics(c().bad_http));
  EXPECT_EQ(bad_metrics.Sum("btrq_worker_tasks_total"), 0);
  EXPECT_EQ(bad_metrics.Value("btrq_worker_tasks_active").value_or(-1), 0);
  EXPECT_THAT(c().broker->Stderr(), Not(HasSubstr("worker " + c().bad_id)));
}

TEST_F(SecurityTest, KeysFileEditsApplyWithoutARestart) {
  const std::string refusal = "refused CURVE peer .* key " + RegexEscape(c().bad_keys.public_key);
  ASSERT_OK(c().broker->WaitForLine(refusal, kStartTimeout, true).status());
  ASSERT_OK(c().sink->WaitForLine(refusal, kStartTimeout, true).status());

  // The operator lists the second worker and takes the first one off, replacing the file
  // whole (a new file renamed over the old one). Broker and sink keep running.
  const std::string keys_file = c().etc + "/authorized_workers";
  ASSERT_OK(WriteFile(keys_file + ".new", c().bad_keys.public_key + " worker-two\n", 0644));
  ASSERT_EQ(::rename((keys_file + ".new").c_str(), keys_file.c_str()), 0);

  // The listed worker gets in at its next handshake...
  Result<std::string> hello = c().broker->WaitForLine(
      "worker " + RegexEscape(c().bad_id) + " .*said HELLO", kStartTimeout, true);
  ASSERT_TRUE(hello.ok()) << hello.status().ToString() << AllLogs();
  // ...and the one taken off is forgotten by the broker at its next frame, told why, and
  // stops with that reason.
  Result<std::string> revoked = c().broker->WaitForLine(
      "worker " + RegexEscape(c().good_id) + ": its CURVE key was revoked", kStartTimeout, true);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString() << AllLogs();
  Result<int> code = c().good_worker->Wait(kStartTimeout);
  ASSERT_OK(code);
  EXPECT_NE(*code, 0);
  EXPECT_THAT(c().good_worker->Stderr(), HasSubstr("CURVE key is no longer authorized"));

  // The job runs on the newly listed worker alone.
  const Job& job = RunJobOnce();
  ASSERT_EQ(job.submit.code, 0) << job.submit.err << AllLogs();
  std::vector<std::string> args = c().CliFlags(c().config);
  args.insert(args.end(), {"results", job.id});
  const Ran results = Cli(args);
  ASSERT_EQ(results.code, 0) << results.err;
  EXPECT_THAT(results.out, HasSubstr("\"worker\":\"" + c().bad_id + "\""));
  EXPECT_THAT(results.out, Not(HasSubstr("\"worker\":\"" + c().good_id + "\"")));

  for (const std::string& http : {c().broker_http, c().sink_http}) {
    ASSERT_OK_AND_ASSIGN(testing::Exposition metrics, Metrics(http));
    EXPECT_EQ(metrics.Value("btrq_auth_authorized_keys").value_or(-1), 1) << http;
    EXPECT_EQ(metrics.Value("btrq_auth_keys_file_errors_total").value_or(-1), 0) << http;
  }
  ASSERT_OK_AND_ASSIGN(testing::Exposition broker_metrics, Metrics(c().broker_http));
  EXPECT_GE(broker_metrics.Value("btrq_bad_messages_total", {{"reason", "revoked_key"}})
                .value_or(0),
            1);
}

TEST_F(SecurityTest, WrongOrMissingTokenIsRefusedWithAClearError) {
  std::vector<std::string> args = c().CliFlags(c().config);
  args.push_back("jobs");
  const Ran wrong = Cli(args, {{"BTRQ_CONTROL_TOKEN", "not-the-token"}});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("the broker at " + c().broker_control + " refused"));
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
  EXPECT_THAT(sink.err, HasSubstr("the sink at " + c().sink_control + " refused"));
}

TEST_F(SecurityTest, PlaintextClientOfATlsServerGetsAClearError) {
  std::vector<std::string> args = c().CliFlags(c().config_no_tls);
  args.insert(args.end(), {"--timeout", "5s", "jobs"});
  const Ran ran = Cli(args);
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("the broker at " + c().broker_control));
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
  EXPECT_THAT(ran.err, HasSubstr("the broker at " + c().broker_control));
  EXPECT_THAT(ran.err, HasSubstr("TLS failed"));
}

TEST_F(SecurityTest, BtrdbRefusesCallsWithoutTheApiKey) {
  btrdb::ConnectOptions options;
  options.endpoints = {c().lite_endpoint};
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
  const std::string logs = AllLogs();
  ASSERT_THAT(logs, HasSubstr("btrq-broker: ready"));
  for (Subprocess* p : {c().lite.get(), c().broker.get(), c().sink.get(), c().good_worker.get(),
                        c().bad_worker.get()}) {
    ASSERT_OK_AND_ASSIGN(std::string cmdline,
                         ReadFile("/proc/" + std::to_string(p->pid()) + "/cmdline"));
    ASSERT_FALSE(cmdline.empty());
    for (const std::string& secret : secrets) {
      EXPECT_THAT(cmdline, Not(HasSubstr(secret))) << "pid " << p->pid();
    }
  }
  for (const std::string& secret : secrets) EXPECT_THAT(logs, Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace btrq
