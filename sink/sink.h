#pragma once

// The btrq-sink process core.
//
//   workers (DEALER) --RESULT--> ROUTER [sink.listen] --group commit--> ResultStore
//                    <---ACK----                      <--durable------
//
// One thread (the caller of Run) owns the ROUTER socket and the writer store. It decodes
// RESULT frames (bad ones are dropped and counted in btrq_bad_messages_total{reason}),
// gathers results for up to commit_interval or commit_max_batch, commits them in one
// transaction and only then ACKs every key (duplicates too, so workers stop resending)
// to the identity that sent it. A failed commit (a full disk) ACKs nothing: workers
// resend later. The gRPC Sink service runs on gRPC's threads with its own read-only
// store; /metrics, /livez and /readyz run on an HTTP thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/options.h"
#include "common/status.h"

namespace btrq::sink {

class Sink {
 public:
  // Opens (creating) data_dir/results.db, binds the ROUTER, the gRPC control service and
  // the HTTP endpoint, and starts serving gRPC and HTTP. Ports may be 0 ("tcp://
  // 127.0.0.1:*" or ":0" for ZeroMQ): the bound endpoints are reported below.
  // With curve.enabled, the ROUTER serves CURVE with this process's key pair and a ZAP
  // handler admits only the keys in curve.authorized_keys_file (required then); refusals
  // are logged and counted in btrq_auth_refused_total. With sink.tls_cert/tls_key the
  // results API serves TLS. `clock` must outlive the sink.
  static Result<std::unique_ptr<Sink>> Create(const SinkOptions& options, Clock* clock,
                                              const CurveOptions& curve = CurveOptions());

  // Stops everything still running and closes the store.
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Serves results until Shutdown(); then stops receiving, finishes the current commit
  // and its ACKs, stops the control and HTTP servers and closes the store. Returns OK
  // after a clean stop. Call once, from the thread that will own the ROUTER socket.
  Status Run();

  // Asks Run to stop. Async-signal-safe (one write(2) to an eventfd), thread-safe,
  // idempotent; may be called before Run starts.
  void Shutdown();

  // The bound endpoints, e.g. "tcp://127.0.0.1:7411", "127.0.0.1:7410", "127.0.0.1:7412".
  const std::string& results_endpoint() const;
  const std::string& control_endpoint() const;
  const std::string& http_endpoint() const;

 private:
  class Impl;
  explicit Sink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The database file inside a sink's data_dir.
std::string ResultStorePath(const std::string& data_dir);

}  // namespace btrq::sink
