#pragma once

// The btrq-broker process core: composes the BTrDB catalog, the journal, the scheduler,
// the dispatcher (the workers' ROUTER and the loop thread that owns the scheduler), the
// gRPC control service and the HTTP endpoint.
//
//   btrq (CLI) --gRPC--> BrokerControlService --Post--> Dispatcher loop --> Scheduler
//   workers  --ZeroMQ--> Dispatcher ROUTER [broker.tasks_listen]            | Journal
//   Prometheus --HTTP--> /metrics /livez /readyz [broker.http_listen]       | BtrdbCatalog
//
// Shutdown (Shutdown(), e.g. from SIGTERM): /readyz turns false at once, the loop stops
// dispatching, answers what was asked, syncs the journal; then the gRPC and HTTP servers
// stop and Run returns.

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/options.h"
#include "common/status.h"

namespace btrq::broker {

class Broker {
 public:
  // Opens (recovering) the journal in broker.data_dir, binds the ROUTER, the gRPC control
  // service and the HTTP endpoint (ports may be 0, "tcp://host:*" for ZeroMQ; an empty
  // http_listen turns HTTP off) and starts serving gRPC and HTTP. BTrDB is not contacted
  // here (the broker starts while BTrDB is away). `clock` must outlive the broker.
  static Result<std::unique_ptr<Broker>> Create(const BtrqConfig& config, Clock* clock);

  // Stops whatever still runs.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Runs the dispatcher loop on the calling thread until Shutdown(), then stops the
  // servers. OK after a clean stop (journal synced). Call once.
  Status Run();
  // Asks Run to return. Async-signal-safe, thread-safe, idempotent; may precede Run.
  void Shutdown();

  // Bound endpoints: "127.0.0.1:7400", "tcp://127.0.0.1:7401", "127.0.0.1:7402" ("" when
  // HTTP is off).
  const std::string& control_endpoint() const;
  const std::string& tasks_endpoint() const;
  const std::string& http_endpoint() const;

 private:
  class Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace btrq::broker
