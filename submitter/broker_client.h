#pragma once

// Clients of the control API (proto/btrq/v1/control.proto): BrokerClient and SinkClient.
// Every call carries a deadline (streams: an idle deadline per message is not possible in
// gRPC, so keepalives detect a dead peer instead). Every grpc::Status becomes a btrq
// Status in one place (ControlStatus) with a message that says which service at which
// address failed and what to do about it. Only idempotent reads are retried, on
// kUnavailable / kDeadlineExceeded, with a short backoff. The bearer token, when set, is
// sent as "authorization: Bearer TOKEN".
//
// Thread-safety: a client may be used from several threads (gRPC stubs are thread-safe).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "btrq/v1/control.pb.h"
#include "common/ids.h"
#include "common/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace btrq::submitter {

struct ControlClientOptions {
  // "host:port" of the service.
  std::string endpoint;
  // Bearer token; empty: none.
  std::string token;
  // TLS to the service, verified with `tls_ca_pem` (PEM text of the CAs) when set, else
  // with gRPC's default roots.
  bool tls = false;
  std::string tls_ca_pem;
  // Deadline of each unary call.
  int64_t call_timeout_ns = 10'000'000'000;  // 10s
  // Extra attempts of idempotent reads after a transient failure.
  int read_retries = 2;
  // Delay before the first retry; doubles for each further one.
  int64_t retry_backoff_ns = 100'000'000;  // 100ms
};

// Which service a Status is about, for messages: "broker", "btrq-broker", "--broker",
// "BTRQ_BROKER".
struct ServiceName {
  std::string name;     // "broker"
  std::string process;  // "btrq-broker"
  std::string flag;     // "--broker"
  std::string env;      // "BTRQ_BROKER"
};
ServiceName BrokerService();
ServiceName SinkService();

// The one mapping of a gRPC status to ours, e.g. UNAVAILABLE becomes kUnavailable
// "cannot reach the broker at 127.0.0.1:7400: <detail> (is btrq-broker running? set
// --broker or BTRQ_BROKER)". `timeout_ns` is named in deadline messages. `tls` (whether
// the call used TLS) picks the hint when a TLS mismatch is the likely cause: a plaintext
// call to a TLS server sees the connection closed, a TLS call fails its handshake.
Status ControlStatus(const grpc::Status& status, const ServiceName& service,
                     const std::string& endpoint, int64_t timeout_ns, bool tls = false);

class BrokerClient {
 public:
  // Creates the channel (lazily connected: an unreachable broker shows at the first call).
  // kInvalidArgument for an empty endpoint.
  static Result<std::unique_ptr<BrokerClient>> Create(const ControlClientOptions& options);
  ~BrokerClient();
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  const std::string& endpoint() const;

  // Not retried: a retry after a lost answer could submit the job twice.
  Result<JobId> SubmitJob(const v1::JobSpec& spec);
  Result<v1::Job> GetJob(JobId id);
  // The jobs, and how many older ones the broker left out to bound its answer.
  struct JobList {
    std::vector<v1::Job> jobs;
    uint32_t omitted = 0;
  };
  Result<JobList> ListJobs(bool include_finished, uint32_t limit);
  Result<v1::Job> CancelJob(JobId id);
  Result<v1::Job> RetryJob(JobId id);
  // Calls `on_update` with each progress message until the broker ends the stream (OK),
  // `on_update` returns false (OK), or the stream fails. A stream that fails before its
  // first message is retried like a read. No overall deadline: jobs take hours.
  Status WatchJob(JobId id, int64_t interval_ns,
                  const std::function<bool(const v1::Job&)>& on_update);
  Result<v1::BrokerStats> GetStats();
  Result<std::vector<v1::Worker>> ListWorkers();
  Status DrainWorker(const std::string& worker_id);
  Result<std::vector<v1::DeadLetter>> ListDeadLetters(JobId id, uint32_t limit);

 private:
  struct Impl;
  explicit BrokerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class SinkClient {
 public:
  static Result<std::unique_ptr<SinkClient>> Create(const ControlClientOptions& options);
  ~SinkClient();
  SinkClient(const SinkClient&) = delete;
  SinkClient& operator=(const SinkClient&) = delete;

  const std::string& endpoint() const;

  // Streams up to `limit` (0: all) results of job `id` in task-key order, one batch per
  // call of `on_batch`, until the stream ends or `on_batch` returns a non-OK Status (which
  // is returned). Retried only when it fails before the first batch. `nonce`: the job's
  // incarnation (the broker's Job.nonce); nullopt: the sink's current one for `id`.
  Status GetResults(JobId id, std::optional<JobNonce> nonce, uint32_t limit,
                    const std::function<Status(const v1::ResultBatch&)>& on_batch);
  Result<v1::SinkStats> GetStats();

 private:
  struct Impl;
  explicit SinkClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace btrq::submitter
