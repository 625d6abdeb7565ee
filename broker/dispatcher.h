#pragma once

// The broker's event loop: the one thread that owns the workers' ROUTER socket and the
// Scheduler (which is single-threaded). Each iteration, in the Scheduler's order:
//
//   poll(ROUTER, wakeup fd) until Scheduler::NextWakeup(), the next BROKER_HEARTBEAT or
//       the next metrics sample (at once while there is more work)
//   run posted commands (control API requests, marshalled from gRPC threads)
//   receive: HELLO/CREDIT/HEARTBEAT/DONE/BYE -> Scheduler; anything malformed is
//       dropped, counted in btrq_bad_messages_total{reason} and logged (rate-limited)
//   Tick(), Expand() (catalog answers applied; BTrDB calls run on the catalog runner)
//   TASK frames of up to max_tasks_per_frame tasks to each worker, never above its credit
//   CANCEL for cancelled jobs' leases; PollJournal() (group commit, SubmitJob acks)
//   BROKER_HEARTBEAT to every worker every heartbeat_interval
//
// Protocol rules (protocol-contract.md): the ROUTER sets MANDATORY (a send to a vanished
// peer fails with EHOSTUNREACH, which is taken as "the worker is gone": its leases are
// requeued with attempt + 1) and not HANDOVER: a connection never takes over the routing
// identity of another. A HELLO naming a worker id that another connection holds is
// refused while that connection is alive (REJECT "unknown worker: ... held by another
// live connection", which the worker answers by saying HELLO again later); once it is
// gone, the new connection takes the id over with its leases (a reconnect).
// CREDIT/HEARTBEAT/DONE from an identity that has not said HELLO get REJECT "unknown
// worker"; a frame with another protocol version gets REJECT too. With a lease signer,
// each task carries a lease token and a DONE "ok" counts only with the sink's receipt.
//
// Threads: Run() is the loop thread. Post() and Stop() are thread-safe; Stop() is also
// async-signal-safe. Commands run on the loop thread and may use the loop-thread-only
// methods below. Nothing in the loop waits for BTrDB: a TASK carries what its pin holds.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "broker/dashboard/history.h"
#include "broker/dashboard/snapshot.h"
#include "broker/progress.h"
#include "broker/sampler.h"
#include "broker/scheduler.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/lease_token.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/router_inbox.h"
#include "common/status.h"
#include "common/zap.h"
#include "common/zmq_util.h"

namespace btrq::broker {

// The longest the loop sleeps when nothing is due: it turns at least this often.
inline constexpr Nanos kMaxPollWait = std::chrono::seconds(1);
// A Tick later than this after the previous one means the broker did not run
// (SchedulerOptions::stall_threshold).
inline constexpr Nanos kLoopStallThreshold = 2 * kMaxPollWait;

struct DispatcherOptions {
  // ZeroMQ endpoint to bind; a port of 0 or * picks a free one (see endpoint()).
  std::string listen = "tcp://127.0.0.1:7401";
  // BROKER_HEARTBEAT period.
  Nanos heartbeat_interval = std::chrono::seconds(1);
  // Tasks per TASK frame at most.
  size_t max_tasks_per_frame = 256;
  // TASK frames per worker per loop iteration at most (so receiving is never starved).
  size_t max_frames_per_worker = 16;
  // Messages received per loop iteration at most.
  size_t max_receive_per_iteration = 1024;
  // Bounds on frames from workers; frames up to twice max_frame_bytes are received and
  // counted as too_large, larger ones cost the peer its connection.
  CodecLimits limits;
  std::optional<CurveServerKeys> curve;
  // Required with `curve` (a CURVE server without a ZAP handler admits every client key):
  // the handler started in the dispatcher's context before the ROUTER binds and stopped
  // after it closes. Refusals are counted in the registry when zap->metrics is null.
  // Messages without a ZAP User-Id are then dropped as "unauthenticated".
  std::optional<ZapOptions> zap;
  // How often the metrics snapshot and the rate samples are taken (broker/sampler.h).
  Nanos sample_interval = std::chrono::milliseconds(250);
  // The dashboard's picture; sampler.history is borrowed and must outlive the dispatcher.
  SamplerOptions sampler;
  // Signs each task's lease token and checks DONE receipts (broker.lease_secret_file);
  // nullopt: tasks go without tokens and DONE "ok" needs no receipt.
  std::optional<LeaseSigner> lease_signer;
};

class Dispatcher {
 public:
  using Command = std::function<void(Dispatcher&)>;

  // Binds the ROUTER and registers the dispatcher's metrics in `registry`. `clock` and
  // `registry` are borrowed and must outlive the dispatcher.
  static Result<std::unique_ptr<Dispatcher>> Create(const DispatcherOptions& options,
                                                    Clock* clock,
                                                    std::unique_ptr<Scheduler> scheduler,
                                                    metrics::Registry* registry);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // The bound endpoint, e.g. "tcp://127.0.0.1:7401".
  const std::string& endpoint() const { return endpoint_; }

  // Runs the loop until Stop(). Then sends nothing more, runs the commands still queued,
  // syncs the journal and closes the socket. Returns the journal's or the socket's
  // error, if any. Call once.
  Status Run();
  // Asks Run to return. Thread-safe, async-signal-safe, idempotent.
  void Stop();

  // Queues `command` to run on the loop thread. Every queued command runs: in the loop,
  // when Run ends, or in Close(). False (and `command` is dropped) once closed.
  // Thread-safe.
  bool Post(Command command) BTRQ_EXCLUDES(mu_);
  // Refuses further commands and runs those queued, on the calling thread. Run calls it
  // at its end, the destructor too. REQUIRES: Run is not running.
  void Close() BTRQ_EXCLUDES(mu_);

  // Per-job queue depth as Prometheus text (btrq_queue_depth{job_id="N"}), from the last
  // sample. Thread-safe.
  std::string RenderJobMetrics() const { return sampler_->RenderJobMetrics(); }
  // The dashboard's picture of the broker, rebuilt every dashboard_interval by the loop.
  // Thread-safe.
  dashboard::DashboardSnapshot DashboardView() const { return sampler_->DashboardView(); }

  // --- Loop thread only (inside a Command) ---
  Scheduler& scheduler() { return *scheduler_; }
  const ProgressTracker& progress() const { return sampler_->progress(); }
  // Stops dispatching to the worker and sends it DRAIN. NotFound for an unknown worker.
  Status DrainWorker(std::string_view worker);

 private:
  enum class SendResult { kOk, kPeerGone, kQueueFull, kError };

  Dispatcher(const DispatcherOptions& options, Clock* clock,
             std::unique_ptr<Scheduler> scheduler, metrics::Registry* registry);
  Status Init();

  void RunCommands() BTRQ_EXCLUDES(mu_);
  // Receives what is waiting; true when it stopped at the per-iteration cap.
  Result<bool> ReceiveAvailable();
  void HandleMessage(const RouterMessage& in);
  // What a dropped message still costs its sender: REJECT for another protocol version;
  // the worker of a revoked CURVE key is forgotten.
  void HandleDropped(const RouterMessage& in);
  // `peer_address` is the connection's remote IP (ZeroMQ's Peer-Address), for the log.
  void HandleHello(const std::string& identity, const HelloMsg& hello,
                   std::string_view peer_address);
  void HandleDone(const std::string& identity, const std::string& worker, DoneMsg done);
  // Removes from `done` each "ok" item without a valid receipt, counting it.
  void DropUnreceipted(const std::string& identity, const std::string& worker, DoneMsg* done);
  // Whether a HELLO for `worker` from `identity` may have the id: nobody else holds it,
  // or its holder's connection is gone.
  bool MayTakeId(const std::string& worker, const std::string& identity);
  const std::string* WorkerOf(const std::string& identity) const;
  // One turn of the Scheduler after receiving: Tick, Expand, dispatch, cancel notices,
  // journal. True when there is more to do at once.
  bool Advance();
  // True when some worker still had tasks and credit at the per-iteration cap.
  bool DispatchAll();
  void SendCancelNotices();
  void SendHeartbeats();

  SendResult SendTo(const std::string& identity, const Message& message);
  void Reject(const std::string& identity, std::string reason);
  // The worker's connection is gone: its leases are requeued.
  void PeerGone(const std::string& worker, std::string_view why);
  void Forget(const std::string& worker);
  // Forgets a worker declared dead for silence, remembering its identity (bounded) so
  // that a DONE it sends before its next HELLO (it was only paused) still counts.
  void ForgetDeclaredDead(const std::string& worker);
  // The worker id of `identity` if it was declared dead and has not said HELLO since.
  const std::string* DeclaredDead(const std::string& identity) const;
  void CountBad(std::string_view reason, std::string_view identity, std::string_view detail) {
    inbox_->CountBad(reason, identity, detail);
  }

  const DispatcherOptions options_;
  Clock* const clock_;
  std::unique_ptr<Scheduler> scheduler_;
  metrics::Registry* const registry_;
  std::optional<WakeupFd> wake_;
  std::atomic<bool> stop_{false};

  zmq::context_t context_;
  // Declared between the two: stops after the ROUTER closes, before the context ends.
  std::unique_ptr<ZapAuthenticator> zap_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::string out_;  // encode buffer

  // worker id <-> routing identity (the contract makes them equal; a worker that does
  // not set its routing id still works).
  std::map<std::string, std::string, std::less<>> identity_of_;
  std::unordered_map<std::string, std::string> worker_of_;
  // (identity, worker id) of workers declared dead, oldest first, at most kMaxDeclaredDead.
  std::deque<std::pair<std::string, std::string>> declared_dead_;
  size_t rotation_ = 0;  // first worker served, rotated for fairness

  RateLimiter peer_log_;
  std::unique_ptr<RouterInbox> inbox_;  // loop thread
  std::unique_ptr<Sampler> sampler_;

  Mutex mu_;
  std::deque<Command> commands_ BTRQ_GUARDED_BY(mu_);
  bool closed_ BTRQ_GUARDED_BY(mu_) = false;
};

}  // namespace btrq::broker
