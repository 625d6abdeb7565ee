#include "tests/integration/pipeline/cluster.h"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <utility>

#include "common/config.h"
#include "common/file_util.h"
#include "submitter/cli.h"

namespace btrq::pipeline {
namespace {

using testing::Json;
using testing::Subprocess;

// How often a poll asks again.
constexpr milliseconds kPollInterval{20};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Describe(const CliRun& run) {
  return "exit " + std::to_string(run.code) + ", stderr: " + Trim(run.err);
}

}  // namespace

Cluster::Cluster(std::string dir) : dir_(std::move(dir)) {}

Cluster::~Cluster() { static_cast<void>(StopAll()); }

Status Cluster::Prepare() {
  if (cluster_ != nullptr) return Status::OK();
  cluster::ClusterOptions o;
  o.dir = dir_;
  o.binaries = cluster::BuildTreeBinaries(BTRQ_BINARY_DIR);
  // Short heartbeats and backoffs so that lost workers and retries take well under a
  // second.
  BtrqConfig& c = o.config;
  c.log.level = LogLevel::kInfo;
  c.btrdb.call_timeout = 10'000'000'000;
  c.broker.heartbeat_interval = 200'000'000;
  c.broker.liveness = 3;
  c.broker.retry_backoff = 50'000'000;
  c.broker.retry_backoff_max = 200'000'000;
  c.worker.threads = 2;
  c.worker.heartbeat_interval = 200'000'000;
  c.worker.exec_commands = {"/bin/sh"};  // the tests' exec scripts
  o.btrdb_fault_inject = true;
  o.ready_timeout = kStartTimeout;
  BTRQ_ASSIGN_OR_RETURN(cluster_, cluster::Cluster::Create(std::move(o)));
  return Status::OK();
}

Status Cluster::StartBtrdb() {
  BTRQ_RETURN_IF_ERROR(Prepare());
  return cluster_->Start(cluster::Role::kBtrdb);
}

Status Cluster::Generate(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {cluster_->options().binaries.btrdb_lite, "generate",
                                   "--endpoint", btrdb_endpoint(), "--manifest",
                                   dir_ + "/manifest.json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  BTRQ_RETURN_IF_ERROR(cluster_->RunHelper("generate", argv, kJobTimeout));
  return LoadManifest();
}

Status Cluster::LoadManifest() {
  BTRQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(dir_ + "/manifest.json"));
  BTRQ_ASSIGN_OR_RETURN(manifest_, Json::Parse(text));
  return Status::OK();
}

Status Cluster::StartBroker() {
  BTRQ_RETURN_IF_ERROR(Prepare());
  return cluster_->Start(cluster::Role::kBroker);
}

Status Cluster::RestartBroker() { return cluster_->Start(cluster::Role::kBroker); }

Status Cluster::StartSink() {
  BTRQ_RETURN_IF_ERROR(Prepare());
  return cluster_->Start(cluster::Role::kSink);
}

Status Cluster::RestartSink() { return cluster_->Start(cluster::Role::kSink); }

Result<Subprocess*> Cluster::StartWorker(const std::vector<std::string>& sets) {
  BTRQ_ASSIGN_OR_RETURN(size_t index, cluster_->AddWorker(cluster::WorkerSpec{.sets = sets}));
  Subprocess* w = cluster_->process(cluster::Role::kWorker, index);
  // Ready means connecting; the broker lists the worker once its HELLO arrived.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(Json workers, Workers());
    for (const Json& info : workers.elements()) {
      if (static_cast<pid_t>(info["pid"].AsNumber()) == w->pid()) return w;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded(cluster_->WithLogExcerpt(
          "the broker never listed worker pid " + std::to_string(w->pid()),
          "worker-" + std::to_string(index + 1)));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::vector<Subprocess*> Cluster::workers() const {
  std::vector<Subprocess*> out;
  for (size_t i = 0; cluster_ != nullptr && i < cluster_->workers(); ++i) {
    if (Subprocess* p = cluster_->process(cluster::Role::kWorker, i)) out.push_back(p);
  }
  return out;
}

Status Cluster::StartServices(int workers) {
  BTRQ_RETURN_IF_ERROR(StartBroker());
  BTRQ_RETURN_IF_ERROR(StartSink());
  for (int i = 0; i < workers; ++i) BTRQ_RETURN_IF_ERROR(StartWorker().status());
  return Status::OK();
}

Status Cluster::StopAll() {
  if (cluster_ == nullptr) return Status::OK();
  const cluster::StopReport report = cluster_->StopAll(kStopGrace);
  if (!report.status.ok()) return report.status;
  // A process killed by the test had exited before; the others must exit 0 on SIGTERM.
  for (const cluster::StoppedProcess& p : report.processes) {
    if (!p.had_exited && p.exit_code != 0) {
      return Status::Internal(cluster_->WithLogExcerpt(
          p.name + " did not stop cleanly on SIGTERM (exit " + std::to_string(p.exit_code) + ")",
          p.name));
    }
  }
  return Status::OK();
}

std::string Cluster::Logs() const {
  return cluster_ == nullptr ? "" : cluster_->LogTail(std::numeric_limits<size_t>::max());
}

Status Cluster::SetBtrdbDelay(int ms) { return cluster_->SetBtrdbDelay(milliseconds(ms)); }

CliRun Cluster::Cli(std::vector<std::string> args) const {
  args.insert(args.begin(), "btrq");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = submitter::RunCli(static_cast<int>(argv.size()), argv.data(), out, err,
                               Env::FromMap({{"BTRQ_BROKER", cluster_->broker_control()},
                                             {"BTRQ_SINK", cluster_->sink_control()}}));
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
