#pragma once

// A whole btrq deployment of real processes for end-to-end tests: a cluster::Cluster
// (cluster/cluster.h) of btrdb-lite loaded with `btrdb-lite generate`, btrq-sink,
// btrq-broker and N btrq-workers, each on free ports in a temporary directory, plus a gRPC
// client of the broker's control API and an HTTP getter. Every process is stopped
// (SIGTERM, then SIGKILL) when the Cluster goes.
//
// Workers may run as separate "hosts": each worker's ZeroMQ connects can carry a source
// address (ZeroMQ's "tcp://SRC:0;DST:PORT" syntax, e.g. 127.0.0.2), and its command line
// a prefix (e.g. {"ip", "netns", "exec", "ns1"}) to run it in a network namespace.

// Ours before gRPC's: common/mutex.h and absl share macro names.
#include "cluster/cluster.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "btrq/v1/control.grpc.pb.h"
#include "common/status.h"

namespace btrq::observability {

// A worker without http_host serves HTTP on 127.0.0.1 here; every worker runs 2 threads.
using WorkerSpec = cluster::WorkerSpec;

struct ClusterOptions {
  // Where btrdb-lite, the sink and the broker listen (and workers connect to).
  std::string host = "127.0.0.1";
  std::vector<WorkerSpec> workers = {WorkerSpec{}, WorkerSpec{}};
  // Data: streams x duration at rate_hz, from 2024-01-01T00:00:00Z.
  int streams = 3;
  std::string duration = "2h";
  int rate_hz = 1;
};

inline constexpr int64_t kDataStart = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
inline constexpr char kCollection[] = "obs/test";

class Cluster {
 public:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  ~Cluster();

  // Starts every process and waits for each to be ready (workers: said HELLO).
  Status Start();

  // Submits a job over the collection with chunks of `chunk_ns`; returns its id.
  Result<uint64_t> Submit(const std::string& name, const std::string& analytic,
                          const std::vector<std::pair<std::string, std::string>>& params,
                          int64_t chunk_ns, uint32_t max_attempts = 0);
  Result<v1::Job> GetJob(uint64_t id);
  // Polls until the job reaches a final state; DeadlineExceeded after `timeout`.
  Result<v1::Job> WaitFinished(uint64_t id, std::chrono::seconds timeout);
  Result<v1::ListWorkersResponse> ListWorkers();
  // Polls until the broker lists `n` workers.
  Status WaitWorkers(size_t n, std::chrono::seconds timeout);

  // GET http://host_port/path: the body of a 200, else an error naming the status.
  static Result<std::string> Get(const std::string& host_port, const std::string& path);
  // The status code of GET http://host_port/path (0 when the connection failed).
  static int GetStatus(const std::string& host_port, const std::string& path);

  const std::string& broker_http() const { return cluster_->broker_http(); }
  const std::string& sink_http() const { return cluster_->sink_http(); }
  const std::vector<std::string>& worker_http() const { return worker_http_; }
  testing::Subprocess& broker() { return *cluster_->process(cluster::Role::kBroker); }
  testing::Subprocess& sink() { return *cluster_->process(cluster::Role::kSink); }
  testing::Subprocess& worker(size_t i) { return *cluster_->process(cluster::Role::kWorker, i); }
  size_t worker_count() const { return cluster_->workers(); }
  const std::string& dir() const { return dir_.path(); }

 private:
  Status Generate();

  const ClusterOptions options_;
  testing::TempDir dir_;
  std::unique_ptr<cluster::Cluster> cluster_;
  std::vector<std::string> worker_http_;
  std::unique_ptr<v1::Broker::Stub> stub_;
};

}  // namespace btrq::observability
