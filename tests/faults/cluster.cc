#include "tests/faults/cluster.h"

#include <signal.h>

#include <httplib.h>

#include <sstream>
#include <thread>

#include "tests/support/ports.h"

namespace btrq::faults {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Json;
using testing::Subprocess;

constexpr Millis kPollInterval{100};

std::string Ms(Millis d) { return std::to_string(d.count()) + "ms"; }

std::string HostPort(const std::string& host) {
  return host + ":" + std::to_string(testing::FreePort());
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
    if (n == lines) return text.substr(pos + 1);
  }
  return text.substr(pos);
}

// Waits for both output streams of an exited child to be read to the end.
void DrainOutput(Subprocess* child) {
  // "(?!)" never matches: each call returns once its stream closes (or times out).
  (void)child->WaitForLine("(?!)", Millis(5'000), /*from_stderr=*/false);
  (void)child->WaitForLine("(?!)", Millis(5'000), /*from_stderr=*/true);
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kBtrdb: return "btrdb-lite";
    case Role::kBroker: return "broker";
    case Role::kSink: return "sink";
    case Role::kWorker: return "worker";
  }
  return "?";
}

bool JobEnded(const Json& job) {
  const std::string& s = job["state"].AsString();
  return s == "done" || s == "done_with_failures" || s == "cancelled" || s == "failed";
}

Cluster::Cluster(const ClusterOptions& options) : options_(options) {}

Cluster::~Cluster() = default;

Result<std::unique_ptr<Cluster>> Cluster::Start(const ClusterOptions& options) {
  std::unique_ptr<Cluster> c(new Cluster(options));
  const std::string& host = options.data_host;
  c->btrdb_ = HostPort(host);
  c->broker_control_ = testing::FreeHostPort();
  c->broker_tasks_ = "tcp://" + HostPort(host);
  c->broker_http_ = testing::FreeHostPort();
  c->sink_results_ = "tcp://" + HostPort(host);
  c->sink_control_ = testing::FreeHostPort();
  c->sink_http_ = testing::FreeHostPort();

  c->btrdb_process_.name = "btrdb-lite";
  c->btrdb_process_.argv = {BTRQ_BTRDB_LITE_BINARY, "--listen", c->btrdb_, "--data-dir",
                            c->dir_.File("btrdb"), "--enable-fault-inject",
                            "--log-level", "warn"};
  c->btrdb_process_.ready_pattern = "btrdb-lite: ready on";
  c->btrdb_process_.ready_on_stderr = false;

  const std::vector<std::string> common_sets = {
      "--set", "broker.heartbeat_interval=" + Ms(options.heartbeat_interval),
      "--set", "broker.liveness=" + std::to_string(options.liveness),
      "--set", "btrdb.call_timeout=" + Ms(options.btrdb_call_timeout),
  };

  c->sink_process_.name = "sink";
  c->sink_process_.argv = {BTRQ_SINK_BINARY, "--data-dir", c->dir_.File("sink"), "--listen",
                           c->sink_results_, "--control-listen", c->sink_control_,
                           "--http-listen", c->sink_http_};
  c->sink_process_.ready_pattern = "btrq-sink: ready";

  c->broker_process_.name = "broker";
  c->broker_process_.argv = {BTRQ_BROKER_BINARY, "--data-dir", c->dir_.File("broker"),
                             "--listen-control", c->broker_control_, "--listen-tasks",
                             c->broker_tasks_, "--listen-http", c->broker_http_, "--btrdb",
                             c->btrdb_,
                             "--set", "broker.retry_backoff=" + Ms(options.retry_backoff),
                             "--set", "broker.retry_backoff_max=" + Ms(options.retry_backoff_max),
                             "--set", "broker.task_timeout=" + Ms(options.task_timeout)};
  c->broker_process_.argv.insert(c->broker_process_.argv.end(), common_sets.begin(),
                                 common_sets.end());
  c->broker_process_.ready_pattern = "btrq-broker: ready";

  for (size_t i = 0; i < options.workers; ++i) {
    Process w;
    w.name = "worker-" + std::to_string(i);
    if (options.worker_prefix) w.argv = options.worker_prefix(i);
    const std::vector<std::string> args = {
        BTRQ_WORKER_BINARY, "--broker", c->broker_tasks_, "--sink", c->sink_results_,
        "--threads", std::to_string(options.worker_threads), "--btrdb", c->btrdb_,
        "--set", "worker.heartbeat_interval=" + Ms(options.heartbeat_interval)};
    w.argv.insert(w.argv.end(), args.begin(), args.end());
    w.argv.insert(w.argv.end(), common_sets.begin(), common_sets.end());
    w.ready_pattern = "btrq-worker: ready";
    c->workers_.push_back(std::move(w));
  }

  BTRQ_RETURN_IF_ERROR(c->Launch(&c->btrdb_process_));
  BTRQ_RETURN_IF_ERROR(c->Launch(&c->sink_process_));
  BTRQ_RETURN_IF_ERROR(c->Launch(&c->broker_process_));
  for (Process& w : c->workers_) BTRQ_RETURN_IF_ERROR(c->Launch(&w));
  return c;
}

Status Cluster::Launch(Process* p) {
  if (p->child != nullptr) p->past.push_back(std::move(p->child));
  BTRQ_ASSIGN_OR_RETURN(p->child, Subprocess::Spawn(p->argv, options_.env));
  auto ready = p->child->WaitForLine(p->ready_pattern, options_.ready_timeout, p->ready_on_stderr);
  if (!ready.ok()) {
    return ready.status().WithContext(p->name + " did not get ready; its stderr:\n" +
                                      Tail(p->child->Stderr(), 20));
  }
  return Status::OK();
}

Cluster::Process* Cluster::Find(Role role, size_t index) {
  return const_cast<Process*>(static_cast<const Cluster*>(this)->Find(role, index));
}

const Cluster::Process* Cluster::Find(Role role, size_t index) const {
  switch (role) {
    case Role::kBtrdb: return &btrdb_process_;
    case Role::kBroker: return &broker_process_;
    case Role::kSink: return &sink_process_;
    case Role::kWorker: return index < workers_.size() ? &workers_[index] : nullptr;
  }
  return nullptr;
}

bool Cluster::Running(Role role, size_t index) const {
  const Process* p = Find(role, index);
  return p != nullptr && p->child != nullptr;
}

pid_t Cluster::Pid(Role role, size_t index) const {
  const Process* p = Find(role, index);
  return p != nullptr && p->child != nullptr ? p->child->pid() : -1;
}

Status Cluster::Signal(Role role, size_t index, int signo) {
  Process* p = Find(role, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition(std::string(RoleName(role)) + " is not running");
  }
  return p->child->Kill(signo);
}

Status Cluster::Kill(Role role, size_t index) {
  Process* p = Find(role, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition(std::string(RoleName(role)) + " is not running");
  }
  BTRQ_RETURN_IF_ERROR(p->child->Kill(SIGKILL));
  // A stopped process dies of SIGKILL too; no SIGCONT needed.
  BTRQ_ASSIGN_OR_RETURN(int code, p->child->Wait(Millis(10'000)));
  if (code != 128 + SIGKILL) {
    return Status::Internal(p->name + " exited with " + std::to_string(code) +
                            " before the kill");
  }
  p->past.push_back(std::move(p->child));
  return Status::OK();
}

Status Cluster::Restart(Role role, size_t index) {
  Process* p = Find(role, index);
  if (p == nullptr) return Status::InvalidArgument("no such process");
  if (p->child != nullptr) return Status::FailedPrecondition(p->name + " still runs");
  BTRQ_RETURN_IF_ERROR(Launch(p));
  if (role == Role::kBtrdb && btrdb_delay_.count() > 0) {
    return SetBtrdbCallDelay(btrdb_, btrdb_delay_);
  }
  return Status::OK();
}

Status Cluster::SetBtrdbDelay(Millis delay) {
  btrdb_delay_ = delay;
  return SetBtrdbCallDelay(btrdb_, delay);
}

Status Cluster::StopProcess(Process* p, Millis timeout) {
  if (p->child == nullptr) return Status::OK();
  (void)p->child->Kill(SIGCONT);
  BTRQ_RETURN_IF_ERROR(p->child->Kill(SIGTERM));
  auto code = p->child->Wait(timeout);
  if (!code.ok()) {
    (void)p->child->Kill(SIGKILL);
    (void)p->child->Wait(timeout);
    return code.status().WithContext(p->name + " did not stop on SIGTERM");
  }
  p->past.push_back(std::move(p->child));
  return Status::OK();
}

Status Cluster::Stop() {
  Status first;
  const auto keep = [&first](Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  for (Process& w : workers_) {
    // A second SIGTERM hands back instead of finishing: nothing is left to finish.
    if (w.child != nullptr) {
      (void)w.child->Kill(SIGCONT);
      (void)w.child->Kill(SIGTERM);
    }
    keep(StopProcess(&w, Millis(20'000)));
  }
  keep(StopProcess(&broker_process_, Millis(20'000)));
  keep(StopProcess(&sink_process_, Millis(20'000)));
  keep(StopProcess(&btrdb_process_, Millis(20'000)));
  return first;
}

Result<std::string> Cluster::Generate(const GenerateSpec& spec) {
  const std::string manifest = dir_.File("manifest-" + std::to_string(spec.seed) + ".json");
  BTRQ_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> gen,
      Subprocess::Spawn({BTRQ_BTRDB_LITE_BINARY, "generate", "--endpoint", btrdb_,
                         "--collection", spec.collection, "--streams",
                         std::to_string(spec.streams), "--duration", spec.duration, "--rate",
                         std::to_string(spec.rate_hz), "--seed", std::to_string(spec.seed),
                         "--manifest", manifest, "--manifest-chunk", spec.chunk},
                        options_.env));
  BTRQ_ASSIGN_OR_RETURN(int code, gen->Wait(Millis(120'000)));
  DrainOutput(gen.get());
  if (code != 0) {
    return Status::Internal("btrdb-lite generate exited with " + std::to_string(code) + ": " +
                            gen->Stderr());
  }
  return manifest;
}

Result<std::unique_ptr<Subprocess>> Cluster::SpawnCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BTRQ_CLI_BINARY, "--broker", broker_control_, "--sink",
                                   sink_control_};
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
  const std::string& endpoint = role == Role::kSink ? sink_http_ : broker_http_;
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

std::string Cluster::LogTail(size_t lines) const {
  std::string out;
  const auto add = [&](const Process& p) {
    for (const auto& past : p.past) {
      out += "---- " + p.name + " (earlier run) stderr:\n" + Tail(past->Stderr(), lines) + "\n";
    }
    if (p.child != nullptr) {
      out += "---- " + p.name + " stderr:\n" + Tail(p.child->Stderr(), lines) + "\n";
    }
  };
  add(btrdb_process_);
  add(broker_process_);
  add(sink_process_);
  for (const Process& w : workers_) add(w);
  return out;
}

}  // namespace btrq::faults
