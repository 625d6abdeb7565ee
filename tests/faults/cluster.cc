#include "tests/faults/cluster.h"

#include <sstream>
#include <thread>

#include <httplib.h>

#include "common/listen_gate.h"

namespace btrq::faults {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Json;
using testing::Subprocess;

constexpr Millis kPollInterval{100};

// Waits for both output streams of an exited child to be read to the end.
void DrainOutput(Subprocess* child) {
  // "(?!)" never matches: each call returns once its stream closes (or times out).
  (void)child->WaitForLine("(?!)", Millis(5'000), /*from_stderr=*/false);
  (void)child->WaitForLine("(?!)", Millis(5'000), /*from_stderr=*/true);
}

}  // namespace

bool JobEnded(const Json& job) {
  const std::string& s = job["state"].AsString();
  return s == "done" || s == "done_with_failures" || s == "cancelled" || s == "failed";
}

Cluster::Cluster(const ClusterOptions& options) : options_(options) {}

Cluster::~Cluster() = default;

Result<std::unique_ptr<Cluster>> Cluster::Start(const ClusterOptions& options) {
  std::unique_ptr<Cluster> c(new Cluster(options));
  cluster::ClusterOptions co;
  co.dir = c->dir_.path();
  co.binaries = {BTRQ_BTRDB_LITE_BINARY, BTRQ_BROKER_BINARY, BTRQ_SINK_BINARY,
                 BTRQ_WORKER_BINARY};
  BtrqConfig& config = co.config;
  const auto ns = [](Millis d) { return static_cast<int64_t>(d.count()) * 1'000'000; };
  config.broker.heartbeat_interval = ns(options.heartbeat_interval);
  config.broker.liveness = options.liveness;
  config.broker.retry_backoff = ns(options.retry_backoff);
  config.broker.retry_backoff_max = ns(options.retry_backoff_max);
  config.broker.task_timeout = ns(options.task_timeout);
  config.btrdb.call_timeout = ns(options.btrdb_call_timeout);
  config.worker.heartbeat_interval = ns(options.heartbeat_interval);
  config.worker.threads = options.worker_threads;
  co.data_host = options.data_host;
  // The fault suite's exec jobs run /bin/sh scripts (worker.exec.commands).
  config.worker.exec_commands = {"/bin/sh"};
  // A network-namespace link has no CURVE keys here: run open, as the config must say.
  if (!IsLoopbackEndpoint(options.data_host)) {
    config.broker.insecure = true;
    config.sink.insecure = true;
  }
  co.btrdb_fault_inject = true;
  for (size_t i = 0; i < options.workers; ++i) {
    co.workers.push_back(cluster::WorkerSpec{
        .prefix = options.worker_prefix ? options.worker_prefix(i) : std::vector<std::string>{}});
  }
  co.env = options.env;
  co.ready_timeout = options.ready_timeout;
  BTRQ_ASSIGN_OR_RETURN(c->cluster_, cluster::Cluster::Create(std::move(co)));
  BTRQ_RETURN_IF_ERROR(c->cluster_->StartAll());
  return c;
}

bool Cluster::Running(Role role, size_t index) const { return cluster_->Running(role, index); }

pid_t Cluster::Pid(Role role, size_t index) const {
  const Subprocess* p = cluster_->process(role, index);
  return p != nullptr ? p->pid() : -1;
}

Status Cluster::Signal(Role role, size_t index, int signo) {
  return cluster_->Signal(role, index, signo);
}

Status Cluster::Kill(Role role, size_t index) { return cluster_->Kill(role, index); }

Status Cluster::Restart(Role role, size_t index) { return cluster_->Start(role, index); }

Status Cluster::SetBtrdbDelay(Millis delay) { return cluster_->SetBtrdbDelay(delay); }

Status Cluster::Stop() {
  // A second SIGTERM makes workers hand back instead of finishing: nothing is left to finish.
  return cluster_->StopAll(Millis(20'000), /*hand_back=*/true).status;
}

std::string Cluster::LogTail(size_t lines) const { return cluster_->LogTail(lines); }

Result<std::string> Cluster::Generate(const GenerateSpec& spec) {
  const std::string manifest = dir_.File("manifest-" + std::to_string(spec.seed) + ".json");
  BTRQ_RETURN_IF_ERROR(cluster_->RunHelper(
      "generate-" + std::to_string(spec.seed),
      {BTRQ_BTRDB_LITE_BINARY, "generate", "--endpoint", btrdb_endpoint(), "--collection",
       spec.collection, "--streams", std::to_string(spec.streams), "--duration", spec.duration,
       "--rate", std::to_string(spec.rate_hz), "--seed", std::to_string(spec.seed),
       "--manifest", manifest, "--manifest-chunk", spec.chunk},
      Millis(120'000)));
  return manifest;
}

Result<std::unique_ptr<Subprocess>> Cluster::SpawnCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BTRQ_CLI_BINARY, "--broker", control_endpoint(), "--sink",
                                   sink_control_endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Subprocess::Spawn(argv, options_.env);
}

Result<CliRun> Cluster::Cli(const std::vector<std::string>& args, Millis timeout) {
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> cli, SpawnCli(args));
  BTRQ_ASSIGN_OR_RETURN(int code, cli->Wait(timeout));
  DrainOutput(cli.get());
  return CliRun{code, cli->Stdout(), cli->Stderr()};
}

Result<JobId> Cluster::Submit(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"submit", "-q"};
  full.insert(full.end(), args.begin(), args.end());
  BTRQ_ASSIGN_OR_RETURN(CliRun run, Cli(full));
  if (run.exit_code != 0) {
    return Status::Internal("btrq submit exited with " + std::to_string(run.exit_code) + ": " +
                            run.err);
  }
  std::string id = run.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return ParseJobId(id);
}

Result<Json> Cluster::Job(JobId job) {
  BTRQ_ASSIGN_OR_RETURN(CliRun run, Cli({"status", std::to_string(job), "--json"}));
  if (run.exit_code != 0) {
    return Status::Unavailable("btrq status exited with " + std::to_string(run.exit_code) +
                               ": " + run.err);
  }
  return Json::Parse(run.out);
}

Result<Json> Cluster::WaitForJob(JobId job, const std::function<bool(const Json&)>& pred,
                                 Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Status last = Status::DeadlineExceeded("no answer yet");
  for (;;) {
    Result<Json> doc = Job(job);
    if (doc.ok() && pred(*doc)) return doc;
    if (!doc.ok()) last = doc.status();
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded(
          "job " + std::to_string(job) + " did not reach the condition in time; last: " +
          (doc.ok() ? std::string("state ") + (*doc)["state"].AsString() + " counts done " +
                          std::to_string((*doc)["counts"]["done"].AsNumber()) + "/" +
                          std::to_string((*doc)["counts"]["total"].AsNumber())
                    : last.ToString()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<Json> Cluster::WaitForJobEnd(JobId job, Millis timeout) {
  return WaitForJob(job, JobEnded, timeout);
}

Status Cluster::WaitForWorkers(size_t n, Millis timeout) {
  return WaitForWorkerCount([n](size_t seen) { return seen >= n; },
                            "at least " + std::to_string(n), timeout);
}

Status Cluster::WaitForFewerWorkers(size_t n, Millis timeout) {
  return WaitForWorkerCount([n](size_t seen) { return seen < n; },
                            "fewer than " + std::to_string(n), timeout);
}

Status Cluster::WaitForWorkerCount(const std::function<bool(size_t)>& pred,
                                   const std::string& what, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string seen = "none";
  for (;;) {
    Result<CliRun> run = Cli({"workers", "--json"});
    if (run.ok() && run->exit_code == 0) {
      Result<Json> doc = Json::Parse(run->out);
      if (doc.ok()) {
        seen = std::to_string((*doc)["workers"].size());
        if (pred((*doc)["workers"].size())) return Status::OK();
      }
    }
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded("expected " + what + " workers registered; last seen " +
                                      seen);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<double> Cluster::Metric(Role role, const std::string& name) {
  const std::string& endpoint = role == Role::kSink ? cluster_->sink_http() : cluster_->broker_http();
  const size_t colon = endpoint.rfind(':');
  httplib::Client client(endpoint.substr(0, colon), std::stoi(endpoint.substr(colon + 1)));
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result res = client.Get("/metrics");
  if (!res) return Status::Unavailable("GET /metrics: " + httplib::to_string(res.error()));
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return Status::NotFound("no sample " + name);
}

}  // namespace btrq::faults
