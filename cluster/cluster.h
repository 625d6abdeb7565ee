#pragma once

// A btrq deployment of real processes on one host: btrdb-lite, btrq-broker, btrq-sink and
// any number of btrq-workers, each a child process (common/subprocess.h) on ports picked
// once at Create() and kept across restarts, with one config file (DIR/config.yaml,
// rendered from a BtrqConfig) that every btrq daemon is started with. Used by `btrq demo`
// and by the multi-process tests (tests/faults, tests/integration/{pipeline,observability}).
//
//   ClusterOptions o;
//   o.dir = temp_dir;  o.binaries = BuildTreeBinaries(BTRQ_BINARY_DIR);
//   o.workers = {WorkerSpec{}, WorkerSpec{}};
//   BTRQ_ASSIGN_OR_RETURN(auto cluster, Cluster::Create(std::move(o)));
//   BTRQ_RETURN_IF_ERROR(cluster->StartAll());
//   cluster->Kill(Role::kBroker);  cluster->Start(Role::kBroker);  // same ports, same data
//   cluster->Pause(Role::kWorker, 1);  cluster->Resume(Role::kWorker, 1);
//   StopReport report = cluster->StopAll(std::chrono::seconds(10));
//
// Every wait has a deadline and waits on a process's output or exit (the ready lines of
// common/readiness.h). Errors about a process carry the end of its output. Not
// thread-safe: one thread drives a cluster. Directory layout: config.yaml, lease.secret,
// btrdb/ (when durable), broker/, sink/, keys/ (when secure), and logs/NAME.log with
// ClusterOptions::log_files.
//
// A secure cluster (ClusterOptions::secure) runs every ZeroMQ link under CURVE, each
// process with its own key pair (keys/NAME.key, given as --set curve.secret_key_file), the
// broker and sink letting in the workers listed in keys/authorized_workers; the control
// APIs demand the token in keys/control-token (config.yaml names it for the CLI).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/binaries.h"
#include "common/options.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "common/zmq_util.h"

namespace btrq::cluster {

using Millis = std::chrono::milliseconds;

enum class Role { kBtrdb, kBroker, kSink, kWorker };
// "btrdb-lite", "broker", "sink", "worker".
std::string_view RoleName(Role role);

struct WorkerSpec {
  // Run the worker under this command, e.g. {"/usr/sbin/ip", "netns", "exec", "ns1"}.
  std::vector<std::string> prefix;
  // ZeroMQ connect source address ("tcp://SRC:0;HOST:PORT"); empty: the default route.
  std::string source_address;
  // Non-empty: the worker serves HTTP on a free port of this host (worker_http()); for a
  // host this process cannot bind (another network namespace), a port free on 127.0.0.1.
  std::string http_host;
  // "section.key=value" overrides of this worker only, as --set.
  std::vector<std::string> sets;
  // "KEY=VALUE" added to this worker's environment (after ClusterOptions::env).
  std::vector<std::string> env;
  // Secure clusters: list this worker's public key in the authorized-keys file; false
  // starts a worker that broker and sink refuse.
  bool authorized = true;
};

struct ClusterOptions {
  // Run directory, created when missing. Must be set.
  std::string dir;
  Binaries binaries;
  // The base config. Create() replaces the endpoints (btrdb.endpoints, every *listen,
  // worker.broker/sink, control.broker/sink) and the data dirs, and, when neither
  // broker.lease_secret_file nor sink.lease_secret_file is set, sets both to a new
  // secret in DIR/lease.secret. With `secure`, also every curve.* key and the control
  // token files (broker.control_token_file, sink.control_token_file, control.token_file).
  BtrqConfig config;
  // CURVE with a key pair per process and a control token, made in DIR/keys (see above).
  bool secure = false;
  // The host of the ZeroMQ endpoints and btrdb-lite, and of the control and HTTP ones.
  std::string data_host = "127.0.0.1";
  std::string control_host = "127.0.0.1";
  // btrdb-lite keeps its data in DIR/btrdb (and recovers it on restart); false: in memory.
  bool btrdb_durable = true;
  bool btrdb_fault_inject = false;
  // Both set: btrdb-lite serves TLS with this certificate and key, and demands the key of
  // config.btrdb.api_key_file when set (set btrdb.tls and btrdb.ca_bundle to match).
  std::string btrdb_tls_cert;
  std::string btrdb_tls_key;
  std::string btrdb_log_level = "warn";
  // The workers StartAll() starts.
  std::vector<WorkerSpec> workers;
  // "KEY=VALUE" added to every child's environment.
  std::vector<std::string> env;
  // Output to DIR/logs/NAME.log (kept after the cluster is gone) instead of memory.
  bool log_files = false;
  // See SpawnOptions: Ctrl-C reaches only this process; children die with their parent.
  bool new_process_groups = false;
  bool die_with_parent = false;
  // How long a process may take to print its ready line.
  Millis ready_timeout{30'000};
  // Polled while waiting; true aborts the wait with Cancelled (e.g. a signal arrived).
  std::function<bool()> cancelled;
};

// What StopAll() did to each process it found, in stop order.
struct StoppedProcess {
  std::string name;  // "worker-1", "broker", "generate"
  pid_t pid = -1;
  int exit_code = -1;        // as Subprocess::Wait
  bool killed = false;       // needed SIGKILL after the grace period
  bool had_exited = false;   // was no longer running when StopAll came
  bool helper = false;       // a StartHelper() program
};
struct StopReport {
  std::vector<StoppedProcess> processes;
  // The first process that needed SIGKILL, else OK.
  Status status;
};

class Cluster {
 public:
  // Creates the directories, picks the ports and writes DIR/config.yaml; starts nothing.
  static Result<std::unique_ptr<Cluster>> Create(ClusterOptions options);
  // SIGKILLs whatever still runs and was not released.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // btrdb-lite, the sink, the broker, then options.workers; each waited for.
  Status StartAll();
  // Starts a new worker and waits for its ready line; returns its index.
  Result<size_t> AddWorker(const WorkerSpec& spec = {});

  // --- One process: (role, index); index counts workers, 0 for the others. ---
  // Starts it (again) with its original command line and waits for its ready line.
  // FailedPrecondition while it runs.
  Status Start(Role role, size_t index = 0);
  // Start() and AddWorker() in two halves, so that several processes start at once:
  // Spawn* starts the process, WaitForReady waits for its ready line.
  Status Spawn(Role role, size_t index = 0);
  Result<size_t> SpawnWorker(const WorkerSpec& spec = {});
  Status WaitForReady(Role role, size_t index = 0);
  // SIGTERM (after SIGCONT), up to `grace`, then SIGKILL. OK when it is not running.
  Status Stop(Role role, size_t index = 0, Millis grace = Millis(10'000));
  // kill -9, reaped. FailedPrecondition when it is not running.
  Status Kill(Role role, size_t index = 0);
  // SIGSTOP / SIGCONT.
  Status Pause(Role role, size_t index = 0);
  Status Resume(Role role, size_t index = 0);
  // Stop (when running), then Start.
  Status Restart(Role role, size_t index = 0);
  Status Signal(Role role, size_t index, int signo);
  // Every BTrDB call of btrdb-lite waits `delay` from now on (FaultInject type 2; 0 = off;
  // needs btrdb_fault_inject). Applied again whenever btrdb-lite starts.
  Status SetBtrdbDelay(Millis delay);
  // True while started and not known to have exited.
  bool Running(Role role, size_t index = 0) const;
  // The current incarnation; nullptr before the first start and after Stop or Kill.
  Subprocess* process(Role role, size_t index = 0) const;

  // Workers (two SIGTERMs each with `hand_back`: they return leased tasks instead of
  // finishing them), then the broker and the sink, then btrdb-lite and the helpers: each
  // tier SIGTERMed together, waited for up to `grace`, then SIGKILLed.
  StopReport StopAll(Millis grace, bool hand_back = false);
  // Forgets every child: nothing stops them when this object (or process) goes.
  void ReleaseAll();

  // --- Helpers: one-off programs (btrdb-lite generate), stopped last by StopAll. ---
  Result<Subprocess*> StartHelper(const std::string& name, const std::vector<std::string>& argv);
  // Runs a helper to its end within `timeout`; Internal with its output unless it exits 0.
  Status RunHelper(const std::string& name, const std::vector<std::string>& argv,
                   Millis timeout);

  // --- Logs ---
  // "MESSAGE\n--- last lines of LOG ---\nLINES\n---" for the process called `name`.
  std::string WithLogExcerpt(const std::string& message, const std::string& name,
                             size_t lines = 20) const;
  // The last `lines` lines of every process's output, earlier incarnations included, each
  // under a "==== NAME" header.
  std::string LogTail(size_t lines = 30) const;

  // --- Where things are ---
  const ClusterOptions& options() const { return options_; }
  const BtrqConfig& config() const { return options_.config; }
  const std::string& dir() const { return options_.dir; }
  const std::string& config_path() const { return config_path_; }
  const std::string& btrdb_endpoint() const { return options_.config.btrdb.endpoints; }
  const std::string& broker_control() const { return options_.config.broker.control_listen; }
  const std::string& broker_tasks() const { return options_.config.broker.tasks_listen; }
  const std::string& broker_http() const { return options_.config.broker.http_listen; }
  const std::string& sink_results() const { return options_.config.sink.listen; }
  const std::string& sink_control() const { return options_.config.sink.control_listen; }
  const std::string& sink_http() const { return options_.config.sink.http_listen; }
  size_t workers() const { return workers_.size(); }
  // The worker's HTTP endpoint (host:port), "" without WorkerSpec::http_host.
  const std::string& worker_http(size_t index) const;
  // The id the worker's ready line announced; waits for that line up to ready_timeout.
  Result<std::string> WorkerId(size_t index) const;
  // Secure clusters: the process's CURVE key pair (FailedPrecondition otherwise).
  Result<CurveKeyPair> CurveKeys(Role role, size_t index = 0) const;

 private:
  struct Process;

  explicit Cluster(ClusterOptions options);
  Status Prepare();
  // The btrdb-lite process of Prepare().
  std::unique_ptr<Process> BtrdbProcess() const;
  Process* Find(Role role, size_t index) const;
  Process* FindByName(const std::string& name) const;
  // Starts the process (again), keeping an earlier incarnation for its logs.
  Status Launch(Process* p);
  Status WaitReady(Process* p);
  std::vector<std::string> WorkerArgv(const WorkerSpec& spec, const std::string& name,
                                      const std::string& http) const;
  std::string KeysDir() const { return options_.dir + "/keys"; }

  ClusterOptions options_;
  std::string config_path_;
  Millis btrdb_delay_{0};
  std::unique_ptr<Process> btrdb_;
  std::unique_ptr<Process> broker_;
  std::unique_ptr<Process> sink_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::vector<std::unique_ptr<Process>> helpers_;
};

}  // namespace btrq::cluster
