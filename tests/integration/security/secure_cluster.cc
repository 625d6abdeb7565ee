#include "tests/integration/security/secure_cluster.h"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include <httplib.h>

#include "btrdb/client.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/ids.h"
#include "common/lease_token.h"
#include "common/options.h"
#include "submitter/cli.h"

namespace btrq::security {
namespace {

constexpr milliseconds kShortRun{30000};

void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  for (size_t at = text->find(from); at != std::string::npos; at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
  }
}

}  // namespace

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

Ran Cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
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

std::string RegexEscape(std::string_view text) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{}/-)";
  std::string out;
  for (char c : text) {
    if (kSpecial.find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Status SecureCluster::MakeCertificates() {
  // A CA, and a server certificate it signed for 127.0.0.1 and localhost (EC keys: fast).
  const std::string openssl = "/usr/bin/openssl";
  BTRQ_RETURN_IF_ERROR(WriteFileAtomically(dir.File("server.ext"),
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
  BTRQ_ASSIGN_OR_RETURN(std::string cert, ReadFileToString(etc + "/server.crt"));
  BTRQ_ASSIGN_OR_RETURN(std::string key, ReadFileToString(etc + "/server.key"));
  BTRQ_ASSIGN_OR_RETURN(std::string ca, ReadFileToString(etc + "/ca.pem"));
  for (const std::string name : {"broker", "sink"}) {
    BTRQ_RETURN_IF_ERROR(WriteFileAtomically(etc + "/" + name + ".crt", cert, 0644));
    BTRQ_RETURN_IF_ERROR(WriteFileAtomically(etc + "/" + name + ".key", key, 0600));
  }
  return WriteFileAtomically(etc + "/btrdb-ca.pem", ca, 0644);
}

Status SecureCluster::MakeSecrets() {
  // The BTrDB API key: a random secret, written the way lease secrets are.
  const std::string api_key_file = etc + "/btrdb-api-key";
  BTRQ_RETURN_IF_ERROR(WriteNewLeaseSecret(api_key_file, /*overwrite=*/true));
  BTRQ_ASSIGN_OR_RETURN(api_key, ResolveSecret("", api_key_file, "btrdb.api_key_file"));
  BTRQ_RETURN_IF_ERROR(MakeCertificates());
  // The broker's and sink's lease secret, as secure.yaml names it (btrq.lease).
  if (const Ran ran = Cli({"keygen", "--out-dir", etc, "--name", "btrq", "--lease-secret"});
      ran.code != 0) {
    return Status::Internal("btrq keygen --lease-secret failed: " + ran.err);
  }
  return Status::OK();
}

Result<BtrqConfig> SecureCluster::LoadSecureYaml() {
  // secure.yaml itself, its /etc/btrq and /var/lib/btrq moved into this directory.
  BTRQ_ASSIGN_OR_RETURN(std::string text,
                        ReadFileToString(std::string(BTRQ_SOURCE_DIR) + "/config/secure.yaml"));
  ReplaceAll(&text, "/etc/btrq/", etc + "/");
  ReplaceAll(&text, "/var/lib/btrq/", dir.File("var") + "/");
  const std::string path = dir.File("secure.yaml");
  BTRQ_RETURN_IF_ERROR(WriteFileAtomically(path, text, 0644));
  BtrqConfig loaded;
  BTRQ_RETURN_IF_ERROR(LoadConfig(path, Env::FromMap({}), {}, &loaded));
  if (loaded.control.token_file.empty()) return Status::Internal("secure.yaml has no control.token_file");
  if (loaded.control.tls_ca.empty()) return Status::Internal("secure.yaml has no control.tls_ca");
  return loaded;
}

Status SecureCluster::WriteConfigVariants() {
  config = cluster->config_path();
  BtrqConfig no_token = cluster->config();
  no_token.control.token_file.clear();
  config_no_token = dir.File("secure-no-token.yaml");
  BTRQ_RETURN_IF_ERROR(WriteFileAtomically(config_no_token, RenderConfig(no_token, false)));
  BtrqConfig no_tls = cluster->config();
  no_tls.control.tls_ca.clear();
  config_no_tls = dir.File("secure-no-tls.yaml");
  return WriteFileAtomically(config_no_tls, RenderConfig(no_tls, false));
}

Status SecureCluster::LoadStreams() {
  // Through our client, over TLS with the key, as the broker and workers will read them.
  btrdb::ConnectOptions options;
  options.endpoints = {cluster->btrdb_endpoint()};
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

Status SecureCluster::StartWorkers() {
  // The good worker takes its API key from the environment, as the Python client would;
  // everyone else reads btrdb.api_key_file.
  cluster::WorkerSpec good;
  good.sets = {"worker.threads=2"};
  good.env = {"BTRDB_API_KEY=" + api_key};
  BTRQ_ASSIGN_OR_RETURN(size_t good_index, cluster->AddWorker(good));
  BTRQ_ASSIGN_OR_RETURN(good_id, cluster->WorkerId(good_index));
  BTRQ_ASSIGN_OR_RETURN(good_keys, cluster->CurveKeys(Role::kWorker, good_index));
  // The broker hears the good worker's HELLO: the CURVE handshake and ZAP let it in.
  BTRQ_RETURN_IF_ERROR(
      broker().WaitForLine("worker " + RegexEscape(good_id) + " .*said HELLO", kStartTimeout, true)
          .status());
  // The bad one's key is not listed; it serves HTTP to show that it ran nothing.
  cluster::WorkerSpec bad;
  bad.sets = {"worker.threads=2"};
  bad.http_host = "127.0.0.1";
  bad.authorized = false;
  BTRQ_ASSIGN_OR_RETURN(size_t bad_index, cluster->AddWorker(bad));
  BTRQ_ASSIGN_OR_RETURN(bad_id, cluster->WorkerId(bad_index));
  BTRQ_ASSIGN_OR_RETURN(bad_keys, cluster->CurveKeys(Role::kWorker, bad_index));
  return Status::OK();
}

Status SecureCluster::Start() {
  etc = dir.File("etc");
  if (::mkdir(etc.c_str(), 0700) != 0) return Status::IoError("cannot create " + etc);
  BTRQ_RETURN_IF_ERROR(MakeSecrets());
  cluster::ClusterOptions options;
  options.dir = dir.File("cluster");
  options.binaries = cluster::BuildTreeBinaries(BTRQ_BINARY_DIR);
  BTRQ_ASSIGN_OR_RETURN(options.config, LoadSecureYaml());
  options.secure = true;
  options.btrdb_durable = false;
  options.btrdb_tls_cert = etc + "/server.crt";
  options.btrdb_tls_key = etc + "/server.key";
  options.ready_timeout = kStartTimeout;
  BTRQ_ASSIGN_OR_RETURN(cluster, cluster::Cluster::Create(std::move(options)));
  BTRQ_RETURN_IF_ERROR(WriteConfigVariants());
  BTRQ_ASSIGN_OR_RETURN(token, ResolveSecret("", cluster->config().control.token_file, "token"));
  BTRQ_ASSIGN_OR_RETURN(broker_keys, cluster->CurveKeys(Role::kBroker));
  BTRQ_ASSIGN_OR_RETURN(sink_keys, cluster->CurveKeys(Role::kSink));
  BTRQ_RETURN_IF_ERROR(cluster->StartAll());
  BTRQ_RETURN_IF_ERROR(LoadStreams());
  return StartWorkers();
}

void SecureCluster::Stop() {
  if (cluster != nullptr) (void)cluster->StopAll(kStopGrace);
}

std::vector<Subprocess*> SecureCluster::Processes() const {
  std::vector<Subprocess*> all;
  for (Role role : {Role::kBtrdb, Role::kBroker, Role::kSink}) all.push_back(cluster->process(role));
  for (size_t i = 0; i < cluster->workers(); ++i) all.push_back(cluster->process(Role::kWorker, i));
  std::erase(all, nullptr);
  return all;
}

std::string SecureCluster::AllLogs() const {
  std::string logs;
  for (Subprocess* p : Processes()) logs += p->Stdout() + p->Stderr();
  return logs;
}

SecureCluster* SecurityTest::cluster_ = nullptr;
std::string* SecurityTest::start_error_ = nullptr;
SecurityTest::Job* SecurityTest::job_ = nullptr;

void SecurityTest::SetUpTestSuite() {
  if (::access("/usr/bin/openssl", X_OK) != 0) {
    start_error_ = new std::string("/usr/bin/openssl is missing (scripts/bootstrap installs it)");
    return;
  }
  cluster_ = new SecureCluster();
  if (Status s = cluster_->Start(); !s.ok()) start_error_ = new std::string(s.ToString());
}

void SecurityTest::TearDownTestSuite() {
  if (cluster_ != nullptr) cluster_->Stop();
  delete cluster_;
  delete start_error_;
  delete job_;
  cluster_ = nullptr;
  start_error_ = nullptr;
  job_ = nullptr;
}

void SecurityTest::SetUp() {
  if (start_error_ != nullptr) {
    const std::string logs =
        cluster_ != nullptr && cluster_->cluster != nullptr ? cluster_->cluster->LogTail(50) : "";
    FAIL() << "the secure cluster did not start: " << *start_error_ << "\n" << logs;
  }
}

const SecurityTest::Job& SecurityTest::RunJobOnce() {
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

}  // namespace btrq::security
