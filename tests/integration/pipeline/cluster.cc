#include "tests/integration/pipeline/cluster.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "btrdb/client.h"
#include "common/config.h"
#include "submitter/cli.h"

namespace btrq::pipeline {
namespace {

using testing::Json;
using testing::Subprocess;

// How often a poll asks again.
constexpr milliseconds kPollInterval{20};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Describe(const CliRun& run) {
  return "exit " + std::to_string(run.code) + ", stderr: " + Trim(run.err);
}

// The last lines of a process's log, for error messages.
std::string Tail(const Subprocess& p) {
  std::string text = p.Stderr();
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return text;
}

}  // namespace

Cluster::Cluster(std::string dir) : dir_(std::move(dir)), config_path_(dir_ + "/config.yaml") {}

Cluster::~Cluster() { static_cast<void>(StopAll()); }

std::string Cluster::Binary(const std::string& relative) const {
  return std::string(BTRQ_BINARY_DIR) + "/" + relative;
}

Result<std::string> Cluster::WaitForReady(Subprocess* p, const std::string& pattern,
                                          bool from_stderr) const {
  auto line = p->WaitForLine(pattern, kStartTimeout, from_stderr);
  if (!line.ok()) {
    return line.status().WithContext("waiting for /" + pattern + "/; its stderr:\n" + Tail(*p));
  }
  return line;
}

Status Cluster::StartBtrdb() {
  BTRQ_ASSIGN_OR_RETURN(btrdb_, Subprocess::Spawn({Binary("lite/btrdb-lite"), "--listen",
                                                   "127.0.0.1:0", "--data-dir", dir_ + "/btrdb",
                                                   "--enable-fault-inject", "--log-level",
                                                   "warn"}));
  BTRQ_ASSIGN_OR_RETURN(std::string line,
                        WaitForReady(btrdb_.get(), "btrdb-lite: ready on ", false));
  btrdb_endpoint_ = Trim(line.substr(line.find(" on ") + 4));
  return Status::OK();
}

Status Cluster::Generate(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {Binary("lite/btrdb-lite"), "generate", "--endpoint",
                                   btrdb_endpoint_, "--manifest", dir_ + "/manifest.json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> gen, Subprocess::Spawn(argv));
  BTRQ_ASSIGN_OR_RETURN(int code, gen->Wait(kJobTimeout));
  if (code != 0) {
    return Status::Internal("btrdb-lite generate exited " + std::to_string(code) + ": " +
                            gen->Stderr());
  }
  return LoadManifest();
}

Status Cluster::LoadManifest() {
  BTRQ_ASSIGN_OR_RETURN(std::string text, ReadFile(dir_ + "/manifest.json"));
  BTRQ_ASSIGN_OR_RETURN(manifest_, Json::Parse(text));
  return Status::OK();
}

Status Cluster::WriteConfig() {
  // Short heartbeats and backoffs so that lost workers and retries take well under a
  // second; every listener on port 0.
  std::ofstream out(config_path_, std::ios::trunc);
  out << "log:\n  level: info\n"
      << "btrdb:\n  endpoints: \"" << btrdb_endpoint_ << "\"\n  call_timeout: 10s\n"
      << "broker:\n"
      << "  control_listen: \"127.0.0.1:0\"\n"
      << "  tasks_listen: \"tcp://127.0.0.1:0\"\n"
      << "  http_listen: \"127.0.0.1:0\"\n"
      << "  data_dir: \"" << dir_ << "/broker\"\n"
      << "  heartbeat_interval: 200ms\n  liveness: 3\n"
      << "  retry_backoff: 50ms\n  retry_backoff_max: 200ms\n"
      << "sink:\n"
      << "  listen: \"tcp://127.0.0.1:0\"\n"
      << "  control_listen: \"127.0.0.1:0\"\n"
      << "  http_listen: \"127.0.0.1:0\"\n"
      << "  data_dir: \"" << dir_ << "/sink\"\n"
      << "worker:\n  threads: 2\n  heartbeat_interval: 200ms\n";
  out.close();
  if (!out) return Status::IoError("cannot write " + config_path_);
  return Status::OK();
}

Status Cluster::StartBroker() {
  BTRQ_RETURN_IF_ERROR(WriteConfig());
  return SpawnBroker({});
}

Status Cluster::RestartBroker() {
  if (broker_ && broker_->Running()) return Status::FailedPrecondition("the broker still runs");
  return SpawnBroker({"broker.control_listen=" + broker_control_,
                      "broker.tasks_listen=" + broker_tasks_});
}

Status Cluster::SpawnBroker(const std::vector<std::string>& sets) {
  std::vector<std::string> argv = {Binary("broker/btrq-broker"), "--config", config_path_};
  for (const std::string& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  if (broker_) stopped_logs_ += "===== btrq-broker (earlier) =====\n" + broker_->Stderr();
  BTRQ_ASSIGN_OR_RETURN(broker_, Subprocess::Spawn(argv));
  BTRQ_ASSIGN_OR_RETURN(std::string line, WaitForReady(broker_.get(), "btrq-broker: ready", true));
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(control (\S+), tasks (\S+), http)"))) {
    return Status::Internal("unexpected broker ready line: " + line);
  }
  broker_control_ = m[1];
  broker_tasks_ = m[2];
  return Status::OK();
}

Status Cluster::StartSink() { return SpawnSink({}); }

Status Cluster::RestartSink() {
  if (sink_ && sink_->Running()) return Status::FailedPrecondition("the sink still runs");
  return SpawnSink({"sink.listen=" + sink_results_, "sink.control_listen=" + sink_control_});
}

Status Cluster::SpawnSink(const std::vector<std::string>& sets) {
  std::vector<std::string> argv = {Binary("sink/btrq-sink"), "--config", config_path_};
  for (const std::string& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  if (sink_) stopped_logs_ += "===== btrq-sink (earlier) =====\n" + sink_->Stderr();
  BTRQ_ASSIGN_OR_RETURN(sink_, Subprocess::Spawn(argv));
  BTRQ_ASSIGN_OR_RETURN(std::string line, WaitForReady(sink_.get(), "btrq-sink: ready", true));
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(results (\S+), control (\S+), http)"))) {
    return Status::Internal("unexpected sink ready line: " + line);
  }
  sink_results_ = m[1];
  sink_control_ = m[2];
  return Status::OK();
}

Result<Subprocess*> Cluster::StartWorker(const std::vector<std::string>& sets) {
  std::vector<std::string> argv = {Binary("worker/btrq-worker"), "--config", config_path_,
                                   "--set", "worker.broker=" + broker_tasks_,
                                   "--set", "worker.sink=" + sink_results_};
  for (const std::string& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> worker, Subprocess::Spawn(argv));
  Subprocess* w = worker.get();
  workers_.push_back(std::move(worker));
  BTRQ_RETURN_IF_ERROR(WaitForReady(w, "btrq-worker: ready", true).status());
  // Ready means connecting; the broker lists the worker once its HELLO arrived.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(Json workers, Workers());
    for (const Json& info : workers.elements()) {
      if (static_cast<pid_t>(info["pid"].AsNumber()) == w->pid()) return w;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded("the broker never listed worker pid " +
                                      std::to_string(w->pid()) + "; its stderr:\n" + Tail(*w));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status Cluster::StartServices(int workers) {
  BTRQ_RETURN_IF_ERROR(StartBroker());
  BTRQ_RETURN_IF_ERROR(StartSink());
  for (int i = 0; i < workers; ++i) BTRQ_RETURN_IF_ERROR(StartWorker().status());
  return Status::OK();
}

Status Cluster::StopAll() {
  Status first;
  const auto stop = [this, &first](std::unique_ptr<Subprocess>& p, const std::string& what) {
    if (!p) return;
    if (p->Running()) {
      bool killed = false;
      Result<int> code = p->Stop(kStopGrace, &killed);
      if (first.ok()) {
        if (!code.ok()) {
          first = code.status().WithContext("stopping " + what);
        } else if (killed || *code != 0) {
          first = Status::Internal(what + " did not stop cleanly on SIGTERM (exit " +
                                   std::to_string(*code) + "); its stderr:\n" + Tail(*p));
        }
      }
    }
    stopped_logs_ += "===== " + what + " =====\n" + p->Stdout() + p->Stderr();
    p.reset();
  };
  for (size_t i = workers_.size(); i > 0; --i) {
    stop(workers_[i - 1], "worker " + std::to_string(i));
  }
  workers_.clear();
  stop(sink_, "btrq-sink");
  stop(broker_, "btrq-broker");
  stop(btrdb_, "btrdb-lite");
  return first;
}

std::string Cluster::Logs() const {
  std::string out = stopped_logs_;
  const auto add = [&out](const std::unique_ptr<Subprocess>& p, const std::string& what) {
    if (p) out += "===== " + what + " =====\n" + p->Stdout() + p->Stderr();
  };
  add(btrdb_, "btrdb-lite");
  add(broker_, "btrq-broker");
  add(sink_, "btrq-sink");
  for (size_t i = 0; i < workers_.size(); ++i) add(workers_[i], "worker " + std::to_string(i + 1));
  return out;
}

Status Cluster::SetBtrdbDelay(int ms) {
  btrdb::ConnectOptions options;
  options.endpoints = {btrdb_endpoint_};
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<btrdb::Client> client, btrdb::Client::Connect(options));
  return client->FaultInject(ms == 0 ? 0 : 2, std::to_string(ms)).status();
}

CliRun Cluster::Cli(std::vector<std::string> args) const {
  args.insert(args.begin(), "btrq");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = submitter::RunCli(
      static_cast<int>(argv.size()), argv.data(), out, err,
      Env::FromMap({{"BTRQ_BROKER", broker_control_}, {"BTRQ_SINK", sink_control_}}));
  run.out = out.str();
  run.err = err.str();
  return run;
}

Result<Json> Cluster::CliJson(std::vector<std::string> args) const {
  args.push_back("--json");
  const CliRun run = Cli(args);
  if (run.code != 0) return Status::Internal("btrq " + args[0] + ": " + Describe(run));
  return Json::Parse(run.out);
}

Result<JobId> Cluster::Submit(std::vector<std::string> args, int expected_exit) const {
  args.insert(args.begin(), "submit");
  args.push_back("-q");
  const CliRun run = Cli(args);
  if (run.code != expected_exit) {
    return Status::Internal("btrq submit: expected exit " + std::to_string(expected_exit) +
                            ", got " + Describe(run));
  }
  const std::string id = Trim(run.out);
  char* end = nullptr;
  const unsigned long long job = std::strtoull(id.c_str(), &end, 10);
  if (id.empty() || *end != '\0') return Status::Internal("btrq submit printed '" + id + "'");
  return static_cast<JobId>(job);
}

Result<Json> Cluster::Job(JobId job) const { return CliJson({"status", std::to_string(job)}); }

Result<Json> Cluster::WaitForJob(JobId job, const std::function<bool(const Json&)>& done,
                                 milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(Json doc, Job(job));
    if (done(doc)) return doc;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded(
          "job " + std::to_string(job) + " still " + doc["state"].AsString() + " with " +
          std::to_string(static_cast<int64_t>(doc["counts"]["done"].AsNumber())) + " of " +
          std::to_string(static_cast<int64_t>(doc["counts"]["total"].AsNumber())) +
          " tasks done");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<Json> Cluster::WaitForJobEnd(JobId job, milliseconds timeout) const {
  return WaitForJob(
      job,
      [](const Json& j) {
        const std::string& s = j["state"].AsString();
        return s == "done" || s == "done_with_failures" || s == "cancelled" || s == "failed";
      },
      timeout);
}

Result<std::vector<Json>> Cluster::Results(JobId job) const {
  const CliRun run = Cli({"results", std::to_string(job), "--format", "jsonl"});
  if (run.code != 0) return Status::Internal("btrq results: " + Describe(run));
  std::vector<Json> out;
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    BTRQ_ASSIGN_OR_RETURN(Json doc, Json::Parse(line));
    out.push_back(std::move(doc));
  }
  return out;
}

Result<Json> Cluster::Workers() const {
  BTRQ_ASSIGN_OR_RETURN(Json doc, CliJson({"workers"}));
  return doc["workers"];
}

}  // namespace btrq::pipeline
