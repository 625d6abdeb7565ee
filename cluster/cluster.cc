#include "cluster/cluster.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "btrdb/client.h"
#include "cluster/ports.h"
#include "cluster/secure.h"
#include "common/file_util.h"
#include "common/lease_token.h"
#include "common/readiness.h"
#include "common/zap.h"

namespace btrq::cluster {

// One supervised program: a daemon (ready line awaited) or a helper (run as is).
struct Cluster::Process {
  std::string name;  // "broker", "worker-1", "generate"
  Daemon daemon = Daemon::kBroker;
  bool helper = false;
  int tier = 0;  // StopAll order: 0 workers, 1 broker and sink, 2 btrdb-lite and helpers
  std::vector<std::string> argv;
  std::string http;  // workers with WorkerSpec::http_host
  std::vector<std::string> env;  // WorkerSpec::env
  std::unique_ptr<Subprocess> child;
  std::vector<std::unique_ptr<Subprocess>> past;  // stopped or killed incarnations
};

namespace {

namespace fs = std::filesystem;

// How often a wait checks ClusterOptions::cancelled.
constexpr Millis kCancelPoll{100};
// After SIGKILL, how long the kernel may take to report the exit.
constexpr Millis kReapTimeout{10'000};

std::string Seconds(Millis d) { return std::to_string(d.count() / 1000) + " s"; }

std::string LastLines(const std::string& text, size_t n) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (size_t i = 0; i < n; ++i) {
    const size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

// Everything the child wrote: with a log file, the file's text (both streams).
std::string Output(const Subprocess& p) { return p.Stdout() + p.Stderr(); }

std::string Join(const std::string& host, int port) { return host + ":" + std::to_string(port); }

// Rendering redacts secrets, so a config file can carry only their *_file options.
Status CheckNoInlineSecrets(const BtrqConfig& c) {
  const std::pair<const std::string*, const char*> secrets[] = {
      {&c.btrdb.api_key, "btrdb.api_key"},
      {&c.broker.control_token, "broker.control_token"},
      {&c.sink.control_token, "sink.control_token"},
      {&c.curve.secret_key, "curve.secret_key"},
      {&c.control.token, "control.token"},
  };
  for (const auto& [value, path] : secrets) {
    if (!value->empty()) {
      return Status::InvalidArgument(std::string(path) +
                                     ": a local cluster takes secrets from files (the _file key)");
    }
  }
  return Status::OK();
}

Status WriteConfigFile(const std::string& path, const BtrqConfig& config) {
  return WriteFileAtomically(
      path, "# Every btrq process of this cluster was started with --config " + path + "\n" +
                "# Use it with the CLI: btrq --config " + path + " status\n" +
                RenderConfig(config, /*docs=*/false));
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

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {}

Cluster::~Cluster() = default;

Result<std::unique_ptr<Cluster>> Cluster::Create(ClusterOptions options) {
  if (options.dir.empty()) return Status::InvalidArgument("ClusterOptions::dir is empty");
  BTRQ_RETURN_IF_ERROR(CheckNoInlineSecrets(options.config));
  std::unique_ptr<Cluster> c(new Cluster(std::move(options)));
  BTRQ_RETURN_IF_ERROR(c->Prepare());
  return c;
}

Status Cluster::Prepare() {
  const fs::path dir(options_.dir);
  std::error_code ec;
  for (const char* sub : {"broker", "sink", "btrdb", "logs", "keys"}) {
    if (std::string_view(sub) == "btrdb" && !options_.btrdb_durable) continue;
    if (std::string_view(sub) == "logs" && !options_.log_files) continue;
    if (std::string_view(sub) == "keys" && !options_.secure) continue;
    fs::create_directories(dir / sub, ec);
    if (ec) return Status::IoError("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  // One call per host keeps the ports of a host distinct.
  const std::string& dh = options_.data_host;
  const std::string& ch = options_.control_host;
  const bool one_host = dh == ch;
  BTRQ_ASSIGN_OR_RETURN(std::vector<int> data, FreePorts(one_host ? 7 : 3, dh));
  std::vector<int> control(data.begin() + 3, data.end());
  if (!one_host) {
    BTRQ_ASSIGN_OR_RETURN(control, FreePorts(4, ch));
  }

  BtrqConfig& c = options_.config;
  c.btrdb.endpoints = Join(dh, data[0]);
  // btrdb-lite serves plaintext; kAuto would pick TLS should the free port be 4411.
  if (c.btrdb.tls == TlsMode::kAuto) c.btrdb.tls = TlsMode::kOff;
  c.broker.tasks_listen = "tcp://" + Join(dh, data[1]);
  c.sink.listen = "tcp://" + Join(dh, data[2]);
  c.broker.control_listen = Join(ch, control[0]);
  c.broker.http_listen = Join(ch, control[1]);
  c.sink.control_listen = Join(ch, control[2]);
  c.sink.http_listen = Join(ch, control[3]);
  c.broker.data_dir = (dir / "broker").string();
  c.sink.data_dir = (dir / "sink").string();
  c.worker.broker = c.broker.tasks_listen;
  c.worker.sink = c.sink.listen;
  c.control.broker = c.broker.control_listen;
  c.control.sink = c.sink.control_listen;
  // One lease secret per deployment, shared by its broker and sink, unless given.
  if (c.broker.lease_secret_file.empty() && c.sink.lease_secret_file.empty()) {
    const std::string secret = (dir / "lease.secret").string();
    BTRQ_RETURN_IF_ERROR(WriteNewLeaseSecret(secret, /*overwrite=*/true));
    c.broker.lease_secret_file = secret;
    c.sink.lease_secret_file = secret;
  }
  if (options_.secure) BTRQ_RETURN_IF_ERROR(MakeSecure(KeysDir(), &c));
  config_path_ = (dir / "config.yaml").string();
  BTRQ_RETURN_IF_ERROR(WriteConfigFile(config_path_, c));

  btrdb_ = BtrdbProcess();
  const auto daemon = [this](const std::string& name, Daemon d, const std::string& binary) {
    auto p = std::make_unique<Process>();
    p->name = name;
    p->daemon = d;
    p->tier = 1;
    p->argv = {binary, "--config", config_path_};
    if (options_.secure) {
      p->argv.insert(p->argv.end(),
                     {"--set", "curve.secret_key_file=" + SecretKeyFile(KeysDir(), name)});
    }
    return p;
  };
  broker_ = daemon("broker", Daemon::kBroker, options_.binaries.broker);
  sink_ = daemon("sink", Daemon::kSink, options_.binaries.sink);
  return Status::OK();
}

std::unique_ptr<Cluster::Process> Cluster::BtrdbProcess() const {
  auto p = std::make_unique<Process>();
  p->name = "btrdb-lite";
  p->daemon = Daemon::kBtrdbLite;
  p->tier = 2;
  p->argv = {options_.binaries.btrdb_lite, "--listen", btrdb_endpoint()};
  if (options_.btrdb_durable) p->argv.insert(p->argv.end(), {"--data-dir", options_.dir + "/btrdb"});
  if (options_.btrdb_fault_inject) p->argv.push_back("--enable-fault-inject");
  if (!options_.btrdb_tls_cert.empty()) {
    p->argv.insert(p->argv.end(),
                   {"--tls-cert", options_.btrdb_tls_cert, "--tls-key", options_.btrdb_tls_key});
    const std::string& key_file = options_.config.btrdb.api_key_file;
    if (!key_file.empty()) p->argv.insert(p->argv.end(), {"--api-key-file", key_file});
  }
  p->argv.insert(p->argv.end(), {"--log-level", options_.btrdb_log_level});
  return p;
}

Status Cluster::StartAll() {
  BTRQ_RETURN_IF_ERROR(Start(Role::kBtrdb));
  BTRQ_RETURN_IF_ERROR(Start(Role::kSink));
  BTRQ_RETURN_IF_ERROR(Start(Role::kBroker));
  for (const WorkerSpec& spec : options_.workers) BTRQ_RETURN_IF_ERROR(AddWorker(spec).status());
  return Status::OK();
}

std::vector<std::string> Cluster::WorkerArgv(const WorkerSpec& spec, const std::string& name,
                                             const std::string& http) const {
  std::vector<std::string> argv = spec.prefix;
  argv.insert(argv.end(), {options_.binaries.worker, "--config", config_path_});
  if (!spec.source_address.empty()) {
    // ZeroMQ's source-address form: "tcp://SRC:SRCPORT;DST:DSTPORT", port 0 = any.
    const auto via = [&spec](const std::string& endpoint) {
      return "tcp://" + spec.source_address + ":0;" + endpoint.substr(endpoint.find("//") + 2);
    };
    argv.insert(argv.end(), {"--set", "worker.broker=" + via(broker_tasks()), "--set",
                             "worker.sink=" + via(sink_results())});
  }
  if (!http.empty()) argv.insert(argv.end(), {"--set", "worker.http_listen=" + http});
  if (options_.secure) {
    argv.insert(argv.end(), {"--set", "curve.secret_key_file=" + SecretKeyFile(KeysDir(), name)});
  }
  for (const std::string& s : spec.sets) argv.insert(argv.end(), {"--set", s});
  return argv;
}

Result<size_t> Cluster::AddWorker(const WorkerSpec& spec) {
  BTRQ_ASSIGN_OR_RETURN(size_t index, SpawnWorker(spec));
  BTRQ_RETURN_IF_ERROR(WaitForReady(Role::kWorker, index));
  return index;
}

Result<size_t> Cluster::SpawnWorker(const WorkerSpec& spec) {
  auto p = std::make_unique<Process>();
  p->name = "worker-" + std::to_string(workers_.size() + 1);
  p->daemon = Daemon::kWorker;
  p->tier = 0;
  if (!spec.http_host.empty()) {
    // An address of another network namespace cannot be bound from here: a port free on
    // this host's loopback is then the best guess.
    Result<std::vector<int>> port = FreePorts(1, spec.http_host);
    if (!port.ok()) port = FreePorts(1);
    if (!port.ok()) return port.status();
    p->http = Join(spec.http_host, (*port)[0]);
  }
  if (options_.secure) {
    BTRQ_RETURN_IF_ERROR(
        AddWorkerKey(KeysDir(), p->name, spec.authorized, options_.config.curve).status());
  }
  p->env = spec.env;
  p->argv = WorkerArgv(spec, p->name, p->http);
  workers_.push_back(std::move(p));
  BTRQ_RETURN_IF_ERROR(Launch(workers_.back().get()));
  return workers_.size() - 1;
}

const std::string& Cluster::worker_http(size_t index) const { return workers_.at(index)->http; }

Result<std::string> Cluster::WorkerId(size_t index) const {
  const Process* p = Find(Role::kWorker, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition("worker " + std::to_string(index) + " was not started");
  }
  BTRQ_ASSIGN_OR_RETURN(std::string line,
                        p->child->WaitForLine(ReadyPattern(Daemon::kWorker), options_.ready_timeout,
                                              !ReadyOnStdout(Daemon::kWorker)));
  return ParseWorkerReady(line);
}

Result<CurveKeyPair> Cluster::CurveKeys(Role role, size_t index) const {
  const Process* p = Find(role, index);
  if (!options_.secure || p == nullptr || role == Role::kBtrdb) {
    return Status::FailedPrecondition("no CURVE keys for " + std::string(RoleName(role)));
  }
  return ReadKeyPair(SecretKeyFile(KeysDir(), p->name));
}

Cluster::Process* Cluster::Find(Role role, size_t index) const {
  switch (role) {
    case Role::kBtrdb: return btrdb_.get();
    case Role::kBroker: return broker_.get();
    case Role::kSink: return sink_.get();
    case Role::kWorker: return index < workers_.size() ? workers_[index].get() : nullptr;
  }
  return nullptr;
}

Cluster::Process* Cluster::FindByName(const std::string& name) const {
  for (Process* p : {btrdb_.get(), broker_.get(), sink_.get()}) {
    if (p->name == name) return p;
  }
  for (const auto* list : {&workers_, &helpers_}) {
    for (const auto& p : *list) {
      if (p->name == name) return p.get();
    }
  }
  return nullptr;
}

Status Cluster::Launch(Process* p) {
  if (p->child != nullptr) p->past.push_back(std::move(p->child));
  SpawnOptions so;
  so.env = options_.env;
  so.env.insert(so.env.end(), p->env.begin(), p->env.end());
  if (options_.log_files) so.log_path = options_.dir + "/logs/" + p->name + ".log";
  so.new_process_group = options_.new_process_groups;
  so.die_with_parent = options_.die_with_parent;
  Result<std::unique_ptr<Subprocess>> child = Subprocess::Start(p->argv, so);
  if (!child.ok()) return child.status().WithContext("starting " + p->name);
  p->child = std::move(*child);
  return Status::OK();
}

Status Cluster::WaitReady(Process* p) {
  const std::string pattern = ReadyPattern(p->daemon);
  const bool from_stderr = !ReadyOnStdout(p->daemon);
  const auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  for (;;) {
    if (options_.cancelled && options_.cancelled()) {
      return Status::Cancelled("cancelled while waiting for " + p->name);
    }
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    const Millis slice = options_.cancelled ? std::min(left, kCancelPoll) : left;
    Result<std::string> line = p->child->WaitForLine(pattern, std::max(slice, Millis(0)), from_stderr);
    if (line.ok()) return Status::OK();
    if (line.status().code() != StatusCode::kDeadlineExceeded) {
      Result<int> code = p->child->Wait(Millis(2'000));
      return Status::Unavailable(WithLogExcerpt(
          p->name + " exited" + (code.ok() ? " with code " + std::to_string(*code) : std::string()) +
              " before it was ready",
          p->name));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded(WithLogExcerpt(
          p->name + " was not ready within " + Seconds(options_.ready_timeout), p->name));
    }
  }
}

Status Cluster::Start(Role role, size_t index) {
  BTRQ_RETURN_IF_ERROR(Spawn(role, index));
  BTRQ_RETURN_IF_ERROR(WaitForReady(role, index));
  if (role == Role::kBtrdb && btrdb_delay_.count() > 0) return SetBtrdbDelay(btrdb_delay_);
  return Status::OK();
}

Status Cluster::Spawn(Role role, size_t index) {
  Process* p = Find(role, index);
  if (p == nullptr) {
    return Status::InvalidArgument("no " + std::string(RoleName(role)) + " " + std::to_string(index));
  }
  if (p->child != nullptr && p->child->Running()) {
    return Status::FailedPrecondition(p->name + " still runs");
  }
  return Launch(p);
}

Status Cluster::WaitForReady(Role role, size_t index) {
  Process* p = Find(role, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition(std::string(RoleName(role)) + " was not started");
  }
  return WaitReady(p);
}

Status Cluster::SetBtrdbDelay(Millis delay) {
  btrdb::ConnectOptions options;
  options.endpoints = {btrdb_endpoint()};
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  options.call_timeout_ns = 10'000'000'000;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<btrdb::Client> client, btrdb::Client::Connect(options));
  BTRQ_RETURN_IF_ERROR(client->FaultInject(2, std::to_string(delay.count())).status());
  btrdb_delay_ = delay;
  return Status::OK();
}

Status Cluster::Signal(Role role, size_t index, int signo) {
  Process* p = Find(role, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition(std::string(RoleName(role)) + " is not running");
  }
  return p->child->Kill(signo);
}

Status Cluster::Pause(Role role, size_t index) { return Signal(role, index, SIGSTOP); }

Status Cluster::Resume(Role role, size_t index) { return Signal(role, index, SIGCONT); }

Status Cluster::Kill(Role role, size_t index) {
  Process* p = Find(role, index);
  if (p == nullptr || p->child == nullptr) {
    return Status::FailedPrecondition(std::string(RoleName(role)) + " is not running");
  }
  BTRQ_RETURN_IF_ERROR(p->child->Kill(SIGKILL));
  // A stopped (SIGSTOP) process dies of SIGKILL too; no SIGCONT needed.
  Result<int> code = p->child->Wait(kReapTimeout);
  p->past.push_back(std::move(p->child));
  if (!code.ok()) return code.status().WithContext("reaping " + p->name);
  if (*code != 128 + SIGKILL) {
    return Status::Internal(p->name + " exited with " + std::to_string(*code) + " before the kill");
  }
  return Status::OK();
}

Status Cluster::Stop(Role role, size_t index, Millis grace) {
  Process* p = Find(role, index);
  if (p == nullptr) return Status::InvalidArgument("no such process");
  if (p->child == nullptr) return Status::OK();
  p->child->Kill(SIGCONT).IgnoreError();  // a paused process cannot act on SIGTERM
  bool killed = false;
  Result<int> code = p->child->Stop(grace, &killed);
  p->past.push_back(std::move(p->child));
  if (!code.ok()) return code.status().WithContext("stopping " + p->name);
  if (killed) return Status::DeadlineExceeded(p->name + " needed SIGKILL after " + Seconds(grace));
  return Status::OK();
}

Status Cluster::Restart(Role role, size_t index) {
  BTRQ_RETURN_IF_ERROR(Stop(role, index));
  return Start(role, index);
}

bool Cluster::Running(Role role, size_t index) const {
  const Process* p = Find(role, index);
  return p != nullptr && p->child != nullptr && p->child->Running();
}

Subprocess* Cluster::process(Role role, size_t index) const {
  const Process* p = Find(role, index);
  return p == nullptr ? nullptr : p->child.get();
}

StopReport Cluster::StopAll(Millis grace, bool hand_back) {
  std::vector<Process*> all = {btrdb_.get(), broker_.get(), sink_.get()};
  for (const auto* list : {&workers_, &helpers_}) {
    for (const auto& p : *list) all.push_back(p.get());
  }
  StopReport report;
  for (int tier = 0; tier <= 2; ++tier) {
    std::vector<std::pair<Process*, bool>> group;  // (process, had exited already)
    for (Process* p : all) {
      if (p->tier != tier || p->child == nullptr) continue;
      group.emplace_back(p, !p->child->Running());
      if (group.back().second) continue;
      p->child->Kill(SIGCONT).IgnoreError();
      p->child->Kill(SIGTERM).IgnoreError();
      if (hand_back && p->daemon == Daemon::kWorker && !p->helper) {
        p->child->Kill(SIGTERM).IgnoreError();
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (const auto& [p, had_exited] : group) {
      StoppedProcess s{p->name, p->child->pid()};
      s.had_exited = had_exited;
      s.helper = p->helper;
      const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
      Result<int> code = p->child->Wait(std::max(left, Millis(0)));
      if (!code.ok()) {
        p->child->Kill(SIGKILL).IgnoreError();
        code = p->child->Wait(kReapTimeout);
        s.killed = true;
        if (report.status.ok()) {
          report.status = Status::DeadlineExceeded(
              WithLogExcerpt(p->name + " needed SIGKILL after " + Seconds(grace), p->name));
        }
      }
      s.exit_code = code.ok() ? *code : -1;
      report.processes.push_back(std::move(s));
      p->past.push_back(std::move(p->child));
    }
  }
  return report;
}

void Cluster::ReleaseAll() {
  for (Process* p : {btrdb_.get(), broker_.get(), sink_.get()}) {
    if (p->child != nullptr) p->child->Release();
  }
  for (const auto* list : {&workers_, &helpers_}) {
    for (const auto& p : *list) {
      if (p->child != nullptr) p->child->Release();
    }
  }
}

Result<Subprocess*> Cluster::StartHelper(const std::string& name,
                                         const std::vector<std::string>& argv) {
  auto p = std::make_unique<Process>();
  p->name = name;
  p->helper = true;
  p->tier = 2;
  p->argv = argv;
  helpers_.push_back(std::move(p));
  BTRQ_RETURN_IF_ERROR(Launch(helpers_.back().get()));
  return helpers_.back()->child.get();
}

Status Cluster::RunHelper(const std::string& name, const std::vector<std::string>& argv,
                          Millis timeout) {
  BTRQ_ASSIGN_OR_RETURN(Subprocess * p, StartHelper(name, argv));
  Result<int> code = p->Wait(timeout);
  if (!code.ok()) {
    p->Kill(SIGKILL).IgnoreError();
    (void)p->Wait(kReapTimeout);
    return Status::DeadlineExceeded(WithLogExcerpt(name + " did not finish within " + Seconds(timeout), name));
  }
  // Captured output: both streams read to their end ("(?!)" never matches).
  (void)p->WaitForLine("(?!)", kReapTimeout, /*from_stderr=*/false);
  (void)p->WaitForLine("(?!)", kReapTimeout, /*from_stderr=*/true);
  if (*code != 0) {
    return Status::Internal(WithLogExcerpt(name + " exited with code " + std::to_string(*code), name));
  }
  return Status::OK();
}

std::string Cluster::WithLogExcerpt(const std::string& message, const std::string& name,
                                    size_t lines) const {
  const Process* p = FindByName(name);
  const Subprocess* child = p == nullptr ? nullptr
                            : p->child != nullptr ? p->child.get()
                            : p->past.empty() ? nullptr
                                              : p->past.back().get();
  if (child == nullptr) return message;
  const std::string log = Output(*child);
  if (log.empty()) return message;
  const std::string what = child->log_path().empty() ? name + "'s output" : child->log_path();
  std::string out = message + "\n--- last lines of " + what + " ---\n" + LastLines(log, lines);
  if (out.back() != '\n') out += "\n";
  return out + "---";
}

std::string Cluster::LogTail(size_t lines) const {
  std::string out;
  const auto add = [&out, lines](const Process& p) {
    std::vector<const Subprocess*> runs;
    for (const auto& past : p.past) runs.push_back(past.get());
    if (p.child != nullptr) runs.push_back(p.child.get());
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::string run = runs.size() > 1 ? " (run " + std::to_string(i + 1) + ")" : "";
      out += "==== " + p.name + run + "\n" + LastLines(Output(*runs[i]), lines) + "\n";
    }
  };
  for (const Process* p : {btrdb_.get(), broker_.get(), sink_.get()}) add(*p);
  for (const auto* list : {&workers_, &helpers_}) {
    for (const auto& p : *list) add(*p);
  }
  return out;
}

}  // namespace btrq::cluster
