#pragma once

// The fault-injection suite's deployment: a cluster::Cluster (cluster/cluster.h) of
// btrdb-lite (durable, fault injection on), btrq-broker, btrq-sink and N btrq-workers on
// ports chosen at start, plus what the suite drives it with: the btrq CLI as a child
// process, job polling, worker counts and metrics. Any process can be signalled (kill -9,
// SIGSTOP/SIGCONT) and restarted with the very same command line: same ports, same data
// directory, so a restart is what an operator's supervisor would do.
//
//   auto cluster = Cluster::Start(ClusterOptions{});
//   cluster->Generate(GenerateSpec{...});        // btrdb-lite generate, writes a manifest
//   JobId job = cluster->Submit({"--collection", "faults/", "--prefix", ...});
//   cluster->Kill(Role::kBroker); cluster->Restart(Role::kBroker);
//   cluster->WaitForJobEnd(job, 60s);
//
// Every wait has a deadline and waits on a process's output, exit or a polled condition.
// Not thread-safe: one test thread drives a cluster.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster.h"
#include "common/ids.h"
#include "common/status.h"
#include "tests/support/json.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::faults {

using Millis = std::chrono::milliseconds;
using Role = cluster::Role;
using cluster::RoleName;

struct ClusterOptions {
  size_t workers = 3;
  uint32_t worker_threads = 2;
  // Address the ZeroMQ endpoints (broker tasks, sink results) and btrdb-lite bind to.
  // The control and HTTP endpoints always use 127.0.0.1.
  std::string data_host = "127.0.0.1";
  // Worker heartbeats and the broker's liveness: a silent worker is dead after
  // heartbeat_interval * liveness.
  Millis heartbeat_interval{200};
  uint32_t liveness = 5;
  // First retry delay and its cap.
  Millis retry_backoff{100};
  Millis retry_backoff_max{1000};
  // Default task_timeout (jobs may override it).
  Millis task_timeout{60'000};
  // BTrDB call deadline of the broker and the workers.
  Millis btrdb_call_timeout{5'000};
  // Prefix of worker i's command line, e.g. {"/usr/sbin/ip", "netns", "exec", "ns"}.
  std::function<std::vector<std::string>(size_t index)> worker_prefix;
  // Extra environment of every process ("KEY=VALUE").
  std::vector<std::string> env;
  // How long a process may take to print its ready line.
  Millis ready_timeout{30'000};
};

// Synthetic data for a job: `btrdb-lite generate` arguments.
struct GenerateSpec {
  std::string collection = "faults/sensors";
  int streams = 6;
  std::string duration = "12h";
  int rate_hz = 5;
  uint64_t seed = 7;
  std::string chunk = "15m";  // the manifest's chunk, and the job's
};

// What a finished CLI run printed.
struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Cluster {
 public:
  // Starts btrdb-lite, the sink, the broker and the workers, each waited for until it
  // prints its ready line.
  static Result<std::unique_ptr<Cluster>> Start(const ClusterOptions& options);
  // SIGKILLs whatever still runs.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const ClusterOptions& options() const { return options_; }
  const std::string& dir() const { return dir_.path(); }
  size_t workers() const { return cluster_->workers(); }

  // --- Processes ---
  // Sends `signo` to the process. FailedPrecondition when it is not running.
  Status Signal(Role role, size_t index, int signo);
  // kill -9 and reap.
  Status Kill(Role role, size_t index = 0);
  // Starts the process again with its original command line and waits for its ready
  // line. FailedPrecondition when it still runs.
  Status Restart(Role role, size_t index = 0);
  bool Running(Role role, size_t index = 0) const;
  pid_t Pid(Role role, size_t index = 0) const;
  // SIGTERMs the workers, then the broker, the sink and btrdb-lite, each waited for.
  Status Stop();

  // --- Data and jobs ---
  // Loads synthetic streams into btrdb-lite; returns the manifest's path.
  Result<std::string> Generate(const GenerateSpec& spec);
  // Runs `btrq ARGS` against this cluster's broker and sink.
  Result<CliRun> Cli(const std::vector<std::string>& args, Millis timeout = Millis(30'000));
  // Starts `btrq ARGS` and returns the running process (e.g. `submit --wait`).
  Result<std::unique_ptr<testing::Subprocess>> SpawnCli(const std::vector<std::string>& args);
  // `btrq submit -q ARGS`: the job id.
  Result<JobId> Submit(const std::vector<std::string>& args);
  // `btrq status JOB --json`.
  Result<testing::Json> Job(JobId job);
  // Polls the job until its state is final (done, done_with_failures, cancelled,
  // failed); returns the last document. Tolerates a broker that is away meanwhile.
  Result<testing::Json> WaitForJobEnd(JobId job, Millis timeout);
  // Polls until `pred(job document)` holds. Tolerates a broker that is away.
  Result<testing::Json> WaitForJob(JobId job, const std::function<bool(const testing::Json&)>& pred,
                                   Millis timeout);
  // Polls `btrq workers --json` until `n` workers are registered.
  Status WaitForWorkers(size_t n, Millis timeout);
  // Polls until fewer than `n` workers are registered (one was declared dead).
  Status WaitForFewerWorkers(size_t n, Millis timeout);
  // GET http://127.0.0.1:PORT/metrics of the broker or the sink; the value of the sample
  // `name` (with its labels, e.g. `btrq_sink_duplicates_total`), or NotFound.
  Result<double> Metric(Role role, const std::string& name);

  // Delays every BTrDB call by `delay` (btrdb-lite's FaultInject type 2; 0 = off), which
  // paces a job so that faults land while it runs. Kept across restarts of btrdb-lite.
  Status SetBtrdbDelay(Millis delay);

  // The last `lines` lines of every process's stderr (restarted ones included), for
  // failure messages.
  std::string LogTail(size_t lines = 30) const;

  const std::string& control_endpoint() const { return cluster_->broker_control(); }
  const std::string& sink_control_endpoint() const { return cluster_->sink_control(); }
  const std::string& btrdb_endpoint() const { return cluster_->btrdb_endpoint(); }
  // The ZeroMQ endpoints: the broker's task socket, the sink's result socket.
  const std::string& tasks_endpoint() const { return cluster_->broker_tasks(); }
  const std::string& results_endpoint() const { return cluster_->sink_results(); }

 private:
  explicit Cluster(const ClusterOptions& options);
  Status WaitForWorkerCount(const std::function<bool(size_t)>& pred, const std::string& what,
                            Millis timeout);

  const ClusterOptions options_;
  testing::TempDir dir_;
  std::unique_ptr<cluster::Cluster> cluster_;
};

// A job document's state is final.
bool JobEnded(const testing::Json& job);

}  // namespace btrq::faults
