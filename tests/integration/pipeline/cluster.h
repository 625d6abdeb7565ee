#pragma once

// A whole btrq installation as child processes, for end-to-end tests: a cluster::Cluster
// (cluster/cluster.h) of btrdb-lite (with a data directory and fault injection), btrq-broker,
// btrq-sink and any number of btrq-worker on free ports of 127.0.0.1, started step by step,
// plus `btrdb-lite generate` with its manifest. The `btrq` CLI runs in-process (RunCli).
//
// Everything lives under one directory (btrdb/, broker/, sink/, config.yaml,
// manifest.json), so a second Cluster over the same directory finds the first one's data.
// Every wait has a deadline; StopAll() (also run by the destructor) sends SIGTERM, waits,
// then SIGKILLs what is left.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "common/ids.h"
#include "common/status.h"
#include "tests/support/json.h"
#include "tests/support/subprocess.h"

namespace btrq::pipeline {

using std::chrono::milliseconds;

// How long a process may take to print its ready line, a job to finish, and so on.
inline constexpr milliseconds kStartTimeout{20000};
inline constexpr milliseconds kJobTimeout{60000};
inline constexpr milliseconds kStopGrace{10000};

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class Cluster {
 public:
  explicit Cluster(std::string dir);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // btrdb-lite on dir/btrdb (recovering what an earlier run stored there).
  Status StartBtrdb();
  // `btrdb-lite generate` with `flags` (plus --endpoint and --manifest), then reads the
  // manifest. Run once per directory: the data is durable.
  Status Generate(const std::vector<std::string>& flags);
  // Reads dir/manifest.json (written by an earlier Generate).
  Status LoadManifest();
  // Writes config.yaml and starts the broker (dir/broker) and the sink (dir/sink).
  Status StartBroker();
  Status StartSink();
  // After the broker (sink) died: starts it again on the same endpoints and data dir, so
  // the workers and the CLI find it where it was.
  Status RestartBroker();
  Status RestartSink();
  // A worker with config.yaml plus `sets` ("worker.threads=1", ...); returns once the
  // broker lists it (its HELLO arrived). The cluster owns the process.
  Result<testing::Subprocess*> StartWorker(const std::vector<std::string>& sets = {});
  // Broker, sink and `workers` workers with default settings.
  Status StartServices(int workers);
  // Workers first, then sink, broker, btrdb-lite: SIGTERM, kStopGrace, SIGKILL. Returns
  // the first failure (a process that needed SIGKILL or exited non-zero).
  Status StopAll();

  // Every later BTrDB call waits `ms` (btrdb-lite fault injection type 2; 0 = off).
  Status SetBtrdbDelay(int ms);

  // One `btrq` invocation against this cluster's broker and sink.
  CliRun Cli(std::vector<std::string> args) const;
  // `btrq ARGS --json` parsed; an error when the exit code is not 0.
  Result<testing::Json> CliJson(std::vector<std::string> args) const;
  // `btrq submit ARGS -q`: the job id. An error unless the exit code is `expected_exit`
  // (with --wait: 0 done, 2 dead letters, 3 failed or cancelled).
  Result<JobId> Submit(std::vector<std::string> args, int expected_exit = 0) const;
  // `btrq status JOB --json`.
  Result<testing::Json> Job(JobId job) const;
  // Polls Job() until `done` holds; the last document. DeadlineExceeded naming the last
  // state seen.
  Result<testing::Json> WaitForJob(JobId job, const std::function<bool(const testing::Json&)>& done,
                                   milliseconds timeout = kJobTimeout) const;
  // Waits until the job has finished (done, done_with_failures, cancelled, failed).
  Result<testing::Json> WaitForJobEnd(JobId job, milliseconds timeout = kJobTimeout) const;
  // `btrq results JOB --format jsonl`, one parsed object per line.
  Result<std::vector<testing::Json>> Results(JobId job) const;
  // `btrq workers --json`: the "workers" array.
  Result<testing::Json> Workers() const;

  // Every running or stopped process's output so far, each under a header line.
  std::string Logs() const;

  const std::string& dir() const { return dir_; }
  const testing::Json& manifest() const { return manifest_; }
  const std::string& btrdb_endpoint() const { return cluster_->btrdb_endpoint(); }
  // The whole deployment's endpoints and config, for tests that play a peer themselves.
  const cluster::Cluster& deployment() const { return *cluster_; }
  testing::Subprocess* broker() { return cluster_->process(cluster::Role::kBroker); }
  testing::Subprocess* sink() { return cluster_->process(cluster::Role::kSink); }
  // Workers in start order (killed ones included until StopAll).
  std::vector<testing::Subprocess*> workers() const;

 private:
  // Creates the cluster (ports, config.yaml) on first use.
  Status Prepare();

  std::string dir_;
  testing::Json manifest_;
  std::unique_ptr<cluster::Cluster> cluster_;
};

}  // namespace btrq::pipeline
