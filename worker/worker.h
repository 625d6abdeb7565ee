#pragma once

// The btrq-worker process core (the worker side of docs/protocol.md).
//
//   broker ROUTER <--DEALER-- I/O thread --DEALER--> sink ROUTER
//                                |   ^ WakeupFd (tasks finished, Shutdown)
//                         Executor (threads, one BTrDB client each)
//
// One thread (the caller of Run) owns both DEALER sockets. On connect it says HELLO and
// CREDIT{free slots}; each TASK consumes one credit per task; a finished task's result is
// sent to the sink in RESULT frames (up to batch_results each) and reported to the broker
// with DONE only after the sink's ACK; failed tasks are reported at once with their
// error class; cancelled ones not at all. Freed slots go back as CREDIT, except while
// more than max_unacked_results results await an ACK or while draining (back-pressure).
// HEARTBEAT every heartbeat_interval names the tasks whose leases this worker still
// needs: queued and running ones, and apart the finished ones awaiting the sink's ACK.
//
// Outages pause, they never fail a task: a task that could not reach BTrDB goes back in
// a DONE marked dependency_down (no attempt spent), and until a task reaches BTrDB again
// the worker takes one task at a time as a probe (DependencyPause). While the sink is
// silent with results pending, the worker takes no tasks; results are resent until ACKed.
//
// Silence: no message from the broker for heartbeat_interval * liveness -> a new broker
// DEALER with HELLO + CREDIT; pending results and no message from the sink for as long ->
// a new sink DEALER and every pending result resent. REJECT "unknown worker" -> HELLO +
// CREDIT again; any other REJECT (protocol version, auth) is fatal: Run returns
// FailedPrecondition.
//
// Drain (DRAIN, or the first Shutdown()): no new credit; queued and running tasks finish,
// their results are delivered and their DONEs sent; then BYE and Run returns OK. A second
// Shutdown(), or drain_timeout passing, hands back instead: unfinished tasks are cancelled,
// DONEs already earned are sent, then BYE (the broker requeues what the worker still
// held, or its leases expire) and Run returns OK.
//
// Malformed frames from either peer are dropped and counted in
// btrq_bad_messages_total{reason}; nothing a peer sends ends the process except the
// REJECTs above.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/options.h"
#include "common/status.h"
#include "analytics/registry.h"
#include "worker/btrdb_source.h"

namespace btrq::worker {

struct WorkerConfig {
  WorkerOptions worker;
  BtrdbOptions btrdb;
  CurveOptions curve;
  // Silent heartbeat intervals before the worker reconnects (the broker's liveness).
  uint32_t liveness = 5;
  // 0: a drain waits without limit; otherwise it hands back after this long.
  int64_t drain_timeout = 120'000'000'000;  // 2m
  // Resend schedule of unacknowledged results.
  int64_t resend_initial = 1'000'000'000;
  int64_t resend_max = 10'000'000'000;
  // Empty: MakeWorkerId(hostname, pid).
  std::string worker_id;
  // Largest frame accepted from a peer.
  int64_t max_message_bytes = 16 * 1024 * 1024;
};

// The worker's slice of the process config: worker, btrdb and curve sections, and
// broker.liveness.
WorkerConfig WorkerConfigFrom(const BtrqConfig& config);

// Seams for tests; both null in production.
struct WorkerDeps {
  const analytics::Registry* registry = nullptr;  // null: the built-in analytics
  SourceProviderFactory sources;                   // null: BTrDB as config.btrdb says
};

class Worker {
 public:
  // Validates the config, makes the sockets (not yet connected), starts the executor
  // threads and, when http_listen is set, serves /metrics, /livez and /readyz. `clock`
  // and deps.registry must outlive the worker.
  static Result<std::unique_ptr<Worker>> Create(const WorkerConfig& config, Clock* clock,
                                                WorkerDeps deps = WorkerDeps());
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Connects and serves until a drain ends (OK) or a fatal error. Call once, from the
  // thread that will own the sockets.
  Status Run();

  // SIGTERM: the first call drains, the second hands back. Async-signal-safe (an atomic
  // increment and one write(2)), thread-safe; may be called before Run.
  void Shutdown();

  const std::string& worker_id() const;
  uint32_t threads() const;
  // "host:port" of the HTTP endpoint; empty when off.
  const std::string& http_endpoint() const;
  // The metrics as /metrics renders them.
  std::string MetricsText() const;

 private:
  class Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace btrq::worker
