// Worker::Impl, the worker's single-threaded core, shared by the files that implement it:
// worker.cc (setup, the loop, peer links and timers) and worker_tasks.cc (task intake
// from the broker, outcomes from the executor, results and DONEs out).
#ifndef BTRQ_WORKER_WORKER_IMPL_H_
#define BTRQ_WORKER_WORKER_IMPL_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "analytics/python_runtime.h"
#include "common/codec.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/zap.h"
#include "common/zmq_util.h"
#include "worker/delivery.h"
#include "worker/dependency_pause.h"
#include "worker/executor.h"
#include "worker/peer_link.h"
#include "worker/worker.h"
#include "worker/worker_metrics.h"

namespace btrq::worker {

// TaskRef hashing for the set of active tasks.
struct TaskRefHash {
  size_t operator()(const TaskRef& ref) const noexcept {
    return TaskKeyHash()(ref.key) * 31 + ref.attempt;
  }
};

class Worker::Impl {
 public:
  Impl(const WorkerConfig& config, Clock* clock, WorkerDeps deps)
      : config_(config),
        clock_(clock),
        deps_(std::move(deps)),
        delivery_(DeliveryOptions{config.resend_initial, config.resend_max}, clock),
        log_limiter_(RateLimiter::Options(), clock) {}
  ~Impl();

  Status Init();
  Status Run();
  void Shutdown() {
    // /readyz turns false at once (lock-free atomic store: async-signal-safe).
    ready_.store(false);
    shutdown_requests_.fetch_add(1);
    if (wake_) wake_->Notify();
  }

  const std::string& http_endpoint() const { return http_.endpoint(); }

  std::string worker_id_;
  std::unique_ptr<Executor> executor_;
  metrics::Registry registry_;

 private:
  enum class Peer { kBroker, kSink };

  // The analytics registry: the builtins as the config allows, or deps_.registry.
  Status InitAnalytics();
  // The python analytic's interpreter pool, probed with one start, and its metrics.
  Status StartPython();
  Status StartHttp();
  void StopHttp();
  PeerLinkOptions LinkOptions(Peer peer) const;
  // The codec limits our links decode with.
  CodecLimits LinkLimits() const {
    CodecLimits limits;
    limits.max_frame_bytes = static_cast<size_t>(config_.max_message_bytes);
    return limits;
  }
  PeerLink& LinkOf(Peer peer) { return peer == Peer::kBroker ? *broker_ : *sink_; }
  // A new broker socket (`again`: after silence, counted), then HELLO + CREDIT.
  Status ConnectBroker(bool again);
  // A new sink socket (`again`: after silence, counted); pending results resent.
  Status ConnectSink(bool again);
  void SendHello();
  bool Send(Peer peer, const Message& message);
  // Sends buffer_, a frame of `type` encoded already.
  bool SendEncoded(Peer peer, MessageType type);
  void ReceiveFrom(Peer peer);
  void HandleBroker(Message message);
  void HandleSink(Message message);
  void OnTasks(TaskMsg& msg);
  // A frame from the broker that did not decode: if it is a TASK frame, runs the tasks in
  // it that decode and REFUSEs the rest; if its tasks cannot even be counted, HELLOs again
  // (which resets the broker's credit for us) so that no credit leaks.
  void OnBadBrokerFrame(std::string_view frame);
  void Refuse(std::vector<RefuseItem> items);
  void OnCancel(JobId job);
  void OnReject(const std::string& reason);
  void StartDrain(std::string_view why);
  void TakeOutcomes();
  void CheckTimers();
  void Flush();
  // DONEs from done_outbox_, in frames of at most kMaxDoneItemsPerFrame, until one fails.
  void SendDones();
  void SendHeartbeat();
  void HandBack();
  void SendBye();
  void UpdateGauges();
  std::chrono::milliseconds PollTimeout() const;
  // Consumes a probe while BTrDB is down (DependencyPause::TakeProbe).
  uint32_t CreditToGrant();
  bool IsCancelled(JobId job) const { return cancelled_set_.contains(job); }
  // The sink fell silent while it owes us ACKs (results dropped by a cancel owe none).
  bool SinkPaused() const { return sink_down_ && !delivery_.empty(); }
  void CountBad(std::string_view reason, Peer peer, const std::string& detail);
  Nanos silence() const {
    return Nanos(config_.worker.heartbeat_interval * static_cast<int64_t>(config_.liveness));
  }

  const WorkerConfig config_;
  Clock* const clock_;
  WorkerDeps deps_;
  std::unique_ptr<analytics::Registry> own_registry_;
  std::shared_ptr<analytics::PythonPool> python_pool_;  // null: python off
  const analytics::Registry* analytics_ = nullptr;
  std::optional<WakeupFd> wake_;
  std::atomic<int> shutdown_requests_{0};
  std::atomic<bool> ready_{false};
  uint32_t threads_ = 0;
  uint32_t capacity_ = 0;
  std::string host_;
  std::optional<CurveKeyPair> curve_keys_;

  // Owned by the thread in Run.
  zmq::context_t context_;
  std::unique_ptr<PeerLink> broker_;
  std::unique_ptr<PeerLink> sink_;
  std::string buffer_;
  std::vector<const TaskResult*> due_;  // Flush's, reused
  bool ran_ = false;
  SteadyTime sink_quiet_since_{};
  SteadyTime last_hello_{};
  bool rehello_armed_ = false;
  SteadyTime next_heartbeat_{};
  uint32_t credit_outstanding_ = 0;
  // Submitted to the executor, outcome not yet taken (duplicate TASKs are refused);
  // nodes come from a pool, as one is added and erased per task.
  std::pmr::unsynchronized_pool_resource active_pool_;
  std::pmr::unordered_set<TaskRef, TaskRefHash> active_{&active_pool_};
  std::vector<TaskOutcome> outcomes_;  // TakeOutcomes' buffer (capacity reused)
  ResultDelivery delivery_;
  DependencyPause btrdb_pause_;
  // The sink fell silent with results pending; cleared by its next ACK.
  bool sink_down_ = false;
  std::vector<DoneItem> done_outbox_;
  std::deque<JobId> cancelled_order_;
  std::unordered_set<JobId> cancelled_set_;
  int shutdowns_seen_ = 0;
  bool draining_ = false;
  bool handing_back_ = false;
  SteadyTime drain_started_{};
  Status fatal_;

  // HTTP.
  HttpServer http_;

  WorkerMetrics metrics_;
  RateLimiter log_limiter_;
};

}  // namespace btrq::worker

#endif  // BTRQ_WORKER_WORKER_IMPL_H_
