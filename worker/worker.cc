#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory_resource>
#include <optional>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/logging.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/readiness.h"
#include "common/zap.h"
#include "analytics/exec.h"
#include "btrdb/rpc_observer.h"
#include "common/zmq_util.h"
#include "worker/delivery.h"
#include "worker/dependency_pause.h"
#include "worker/executor.h"
#include "worker/peer_link.h"
#include "worker/worker_metrics.h"

namespace btrq::worker {
namespace {

// Messages read from one socket per loop iteration, so neither peer starves the other.
constexpr size_t kMaxReceivePerTurn = 512;
constexpr size_t kMaxDoneItemsPerFrame = 4096;
// How long closing a socket after BYE may wait for it to leave.
constexpr int kCloseLingerMs = 2000;
// Jobs remembered as cancelled, so late outcomes and tasks of them are dropped.
constexpr size_t kCancelledJobsKept = 4096;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// TaskRef hashing for the set of active tasks.
struct TaskRefHash {
  size_t operator()(const TaskRef& ref) const noexcept {
    return TaskKeyHash()(ref.key) * 31 + ref.attempt;
  }
};

}  // namespace

WorkerConfig WorkerConfigFrom(const BtrqConfig& config) {
  WorkerConfig out;
  out.worker = config.worker;
  out.btrdb = config.btrdb;
  out.curve = config.curve;
  out.liveness = config.broker.liveness;
  return out;
}

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

Worker::Impl::~Impl() {
  if (executor_) executor_->Stop();
  StopHttp();
}

Status Worker::Impl::Init() {
  const WorkerOptions& w = config_.worker;
  if (w.broker.empty()) return Status::InvalidArgument("worker.broker is empty");
  if (w.sink.empty()) return Status::InvalidArgument("worker.sink is empty");
  if (w.heartbeat_interval <= 0) {
    return Status::InvalidArgument("worker.heartbeat_interval must be positive");
  }
  if (w.batch_results == 0) return Status::InvalidArgument("worker.batch_results must be positive");
  if (config_.liveness == 0) return Status::InvalidArgument("liveness must be positive");
  if (config_.resend_initial <= 0 || config_.resend_max < config_.resend_initial) {
    return Status::InvalidArgument("result resend backoff must be positive and <= its max");
  }
  if (config_.max_message_bytes <= 0) {
    return Status::InvalidArgument("max_message_bytes must be positive");
  }
  host_ = Hostname();
  worker_id_ = config_.worker_id.empty() ? MakeWorkerId(host_, static_cast<int>(getpid()))
                                         : config_.worker_id;

  if (deps_.registry != nullptr) {
    analytics_ = deps_.registry;
  } else {
    own_registry_ = std::make_unique<analytics::Registry>();
    analytics::BuiltinOptions builtins;
    builtins.exec = analytics::ExecMode::kAllowList;
    builtins.exec_commands = config_.worker.exec_commands;
    BTRQ_RETURN_IF_ERROR(analytics::RegisterBuiltins(own_registry_.get(), builtins));
    analytics_ = own_registry_.get();
  }
  SourceProviderFactory sources = deps_.sources;
  if (!sources) {
    BTRQ_ASSIGN_OR_RETURN(btrdb::ConnectOptions connect, MakeConnectOptions(config_.btrdb));
    // Every BTrDB call of every executor thread: btrq_btrdb_rpc_duration_seconds and
    // btrq_btrdb_received_bytes_total (the bytes read).
    connect.observer = btrdb::MakeRpcMetrics(&registry_);
    sources = BtrdbSourceProviderFactory(connect, clock_);
  }
  if (config_.curve.enabled) {
    if (config_.curve.broker_public_key.empty() || config_.curve.sink_public_key.empty()) {
      return Status::InvalidArgument(
          "curve.enabled: a worker needs curve.broker_public_key and curve.sink_public_key");
    }
    // Our own pair, checked against curve.public_key when that is set.
    BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, CurveKeyPairFrom(config_.curve));
    curve_keys_ = std::move(pair);
  }

  BTRQ_ASSIGN_OR_RETURN(WakeupFd wake, WakeupFd::Create());
  wake_.emplace(std::move(wake));
  BTRQ_ASSIGN_OR_RETURN(metrics_, WorkerMetrics::Register(&registry_, &ready_));
  broker_ =
      std::make_unique<PeerLink>(LinkOptions(Peer::kBroker), &context_, clock_, &log_limiter_);
  sink_ = std::make_unique<PeerLink>(LinkOptions(Peer::kSink), &context_, clock_, &log_limiter_);

  ExecutorOptions executor_options;
  executor_options.threads = w.threads;
  BTRQ_ASSIGN_OR_RETURN(executor_, Executor::Create(executor_options, analytics_,
                                                    std::move(sources), clock_,
                                                    [this] { wake_->Notify(); }));
  threads_ = executor_->threads();
  capacity_ = w.credit != 0 ? w.credit : threads_ * 2;
  active_.reserve(capacity_);
  return StartHttp();
}

Status Worker::Impl::StartHttp() {
  return http_.Start({config_.worker.http_listen, "worker.http_listen",
                      [this] { return registry_.Render(); }, &ready_});
}

void Worker::Impl::StopHttp() {
  http_.Stop();
}

PeerLinkOptions Worker::Impl::LinkOptions(Peer peer) const {
  const bool broker = peer == Peer::kBroker;
  PeerLinkOptions o;
  o.peer = broker ? "broker" : "sink";
  o.endpoint = broker ? config_.worker.broker : config_.worker.sink;
  // No routing id of our own: each connection gets a fresh one from the peer's ROUTER,
  // which no other peer can claim (the broker binds a worker id to it at HELLO).
  o.max_message_bytes = config_.max_message_bytes;
  if (curve_keys_) {
    o.curve =
        CurveClientKeys{broker ? config_.curve.broker_public_key : config_.curve.sink_public_key,
                        curve_keys_->public_key, curve_keys_->secret_key};
  }
  o.silence = silence();
  o.reconnects = broker ? metrics_.broker_reconnects : metrics_.sink_reconnects;
  return o;
}

Status Worker::Impl::ConnectBroker(bool again) {
  BTRQ_RETURN_IF_ERROR(again ? broker_->Reconnect() : broker_->Connect());
  SendHello();
  return Status::OK();
}

Status Worker::Impl::ConnectSink(bool again) {
  BTRQ_RETURN_IF_ERROR(again ? sink_->Reconnect() : sink_->Connect());
  sink_quiet_since_ = sink_->heard();
  delivery_.ResendAllNow();
  return Status::OK();
}

void Worker::Impl::SendHello() {
  HelloMsg hello;
  hello.worker_id = worker_id_;
  hello.host = host_;
  hello.pid = static_cast<int64_t>(getpid());
  hello.threads = threads_;
  hello.analytics = analytics_->Names();
  // The broker refuses at submit an exec job that no connected worker allows.
  if (analytics_->Contains(analytics::kExecName)) {
    hello.exec_commands = config_.worker.exec_commands;
  }
  Send(Peer::kBroker, Message(std::move(hello)));
  last_hello_ = clock_->Now();
  rehello_armed_ = false;
  // A HELLO resets the broker's credit for this worker: grant the free slots afresh.
  credit_outstanding_ = 0;
  const uint32_t credit = CreditToGrant();
  if (Send(Peer::kBroker, Message(CreditMsg{credit}))) credit_outstanding_ = credit;
}

bool Worker::Impl::Send(Peer peer, const Message& message) {
  EncodeMessage(message, &buffer_);
  return SendEncoded(peer, TypeOf(message));
}

bool Worker::Impl::SendEncoded(Peer peer, MessageType type) {
  return LinkOf(peer).Send(buffer_, type);
}

void Worker::Impl::CountBad(std::string_view reason, Peer peer, const std::string& detail) {
  auto it = metrics_.bad_messages.find(reason);
  if (it != metrics_.bad_messages.end()) it->second->Inc();
  const char* name = peer == Peer::kBroker ? "broker" : "sink";
  const std::string text =
      detail.starts_with(reason) ? detail : std::string(reason) + ": " + detail;
  LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, name, spdlog::level::warn,
                 "btrq-worker: dropped a frame from the {}: {}", name, text);
}

void Worker::Impl::ReceiveFrom(Peer peer) {
  LinkOf(peer).Receive(
      kMaxReceivePerTurn, [this] { return fatal_.ok(); },
      [this, peer](Message message) {
        if (peer == Peer::kBroker) {
          HandleBroker(std::move(message));
        } else {
          HandleSink(std::move(message));
        }
      },
      [this, peer](std::string_view reason, const std::string& detail, std::string_view frame) {
        CountBad(reason, peer, detail);
        if (peer == Peer::kBroker && !frame.empty()) OnBadBrokerFrame(frame);
      });
}

void Worker::Impl::HandleBroker(Message message) {
  if (!std::holds_alternative<RejectMsg>(message)) rehello_armed_ = true;
  if (auto* task = std::get_if<TaskMsg>(&message)) {
    OnTasks(*task);
  } else if (auto* cancel = std::get_if<CancelMsg>(&message)) {
    OnCancel(cancel->job);
  } else if (std::holds_alternative<BrokerHeartbeatMsg>(message)) {
    // Liveness only.
  } else if (std::holds_alternative<DrainMsg>(message)) {
    StartDrain("the broker asked");
  } else if (auto* reject = std::get_if<RejectMsg>(&message)) {
    OnReject(reject->reason);
  } else {
    CountBad("wrong_type", Peer::kBroker,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
  }
}

void Worker::Impl::HandleSink(Message message) {
  auto* ack = std::get_if<AckMsg>(&message);
  if (ack == nullptr) {
    CountBad("wrong_type", Peer::kSink,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
    return;
  }
  // Successful DONEs carry the points read, for the broker's progress figures.
  // A receipt goes into the DONE of its attempt: the broker's proof that it is stored.
  for (size_t i = 0; i < ack->keys.size(); ++i) {
    delivery_.Ack(ack->keys[i], &done_outbox_,
                  i < ack->receipts.size() ? ack->receipts[i] : AckReceipt());
  }
  if (!delivery_.empty()) sink_quiet_since_ = clock_->Now();
  if (sink_down_) {
    sink_down_ = false;
    spdlog::info("btrq-worker: the sink answers again; taking tasks");
  }
}

void Worker::Impl::OnTasks(TaskMsg& msg) {
  // The tasks to run are compacted to the front of msg.tasks, which then goes to the
  // executor whole: one hand-off per TASK frame (one lock, only the wake-ups needed).
  size_t kept = 0;
  for (TaskSpec& task : msg.tasks) {
    if (credit_outstanding_ > 0) {
      --credit_outstanding_;
    } else {
      // The broker sent more than it was given; run it anyway (dropping it would only
      // delay it by a lease) and say so.
      CountBad("over_credit", Peer::kBroker, "a task beyond the credit given");
    }
    if (IsCancelled(task.key.job)) continue;
    if (!active_.insert(TaskRef{task.key, task.attempt}).second) {
      CountBad("duplicate_task", Peer::kBroker,
               "job=" + std::to_string(task.key.job) + " task=" + task.key.ToString() +
                   " attempt=" + std::to_string(task.attempt) + " worker=" + worker_id_ +
                   ": already here");
      continue;
    }
    if (&msg.tasks[kept] != &task) msg.tasks[kept] = std::move(task);
    ++kept;
  }
  msg.tasks.resize(kept);
  if (!msg.tasks.empty()) executor_->SubmitBatch(std::move(msg.tasks));
}

void Worker::Impl::OnBadBrokerFrame(std::string_view frame) {
  Result<SalvagedTasks> salvaged = SalvageTaskFrame(frame, LinkLimits());
  if (!salvaged.ok()) {
    // Not a TASK frame we can walk (or not a TASK at all): whatever credit it used is
    // unknown. A HELLO resets the broker's count of it to ours; leases of any lost tasks
    // expire and are retried. At most once per heartbeat interval.
    if (clock_->Now() - last_hello_ >= Nanos(config_.worker.heartbeat_interval)) {
      spdlog::warn("btrq-worker: an undecodable frame from the broker ({}); saying HELLO "
                   "again to resynchronise credit", salvaged.status().message());
      SendHello();
    }
    return;
  }
  SalvagedTasks& s = *salvaged;
  // Refused and lost tasks used credit the broker counted; their slots are free at once.
  const size_t spent = s.refused.size() + s.lost;
  credit_outstanding_ -= static_cast<uint32_t>(std::min<size_t>(credit_outstanding_, spent));
  if (s.lost > 0) {
    LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "lost-tasks",
                   spdlog::level::warn,
                   "btrq-worker: {} tasks of a TASK frame had no readable key; their leases "
                   "will expire", s.lost);
  }
  if (!s.tasks.tasks.empty()) OnTasks(s.tasks);
  if (!s.refused.empty()) Refuse(std::move(s.refused));
}

void Worker::Impl::Refuse(std::vector<RefuseItem> items) {
  for (const RefuseItem& item : items) {
    LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "refused", spdlog::level::warn,
                   "btrq-worker: job={} task={} attempt={} worker={}: refused: {}",
                   item.task.key.job, item.task.key.ToString(), item.task.attempt, worker_id_,
                   item.reason);
  }
  metrics_.refused_total->Inc(static_cast<double>(items.size()));
  Send(Peer::kBroker, Message(RefuseMsg{std::move(items)}));
}

void Worker::Impl::OnCancel(JobId job) {
  if (!cancelled_set_.contains(job)) {
    cancelled_set_.insert(job);
    cancelled_order_.push_back(job);
    if (cancelled_order_.size() > kCancelledJobsKept) {
      cancelled_set_.erase(cancelled_order_.front());
      cancelled_order_.pop_front();
    }
  }
  const size_t touched = executor_->CancelJob(job);
  const size_t dropped = delivery_.DropJob(job);
  std::erase_if(done_outbox_, [job](const DoneItem& d) { return d.task.key.job == job; });
  spdlog::info("btrq-worker: job {} cancelled ({} tasks abandoned, {} results dropped)", job,
               touched, dropped);
}

void Worker::Impl::OnReject(const std::string& reason) {
  if (reason.find("unknown worker") != std::string::npos) {
    // REJECTs of messages sent before the broker saw our latest HELLO repeat the news;
    // one HELLO answers them all.
    const SteadyTime now = clock_->Now();
    if (rehello_armed_ || now - last_hello_ >= Nanos(config_.worker.heartbeat_interval)) {
      spdlog::info("btrq-worker: the broker does not know this worker; saying HELLO again");
      SendHello();
    }
    return;
  }
  fatal_ = Status::FailedPrecondition("the broker rejected this worker: " + reason);
  spdlog::error("btrq-worker: {}", fatal_.message());
}

void Worker::Impl::StartDrain(std::string_view why) {
  if (draining_) return;
  draining_ = true;
  ready_ = false;
  drain_started_ = clock_->Now();
  spdlog::info("btrq-worker: draining ({}): {} tasks to finish, {} results to deliver", why,
               active_.size(), delivery_.size());
}

void Worker::Impl::TakeOutcomes() {
  executor_->TakeFinished(&outcomes_);
  if (outcomes_.empty()) return;
  uint64_t cancelled = 0;
  uint64_t handed_back = 0;
  uint64_t counts[3] = {};
  const SteadyTime now = clock_->Now();
  int64_t points = 0;
  const bool none_pending = delivery_.empty();
  for (TaskOutcome& outcome : outcomes_) {
    active_.erase(outcome.task);
    if (outcome.cancelled || IsCancelled(outcome.task.key.job)) {
      ++cancelled;
      continue;
    }
    points += outcome.result.points_read;
    if (outcome.dependency_down) {
      // Not attempted: back to the broker at no cost to the task, and no new tasks here
      // but probes until BTrDB answers.
      if (!btrdb_pause_.paused()) {
        spdlog::warn("btrq-worker: BTrDB unreachable ({}); handing tasks back and pausing",
                     outcome.status.ToString());
      }
      btrdb_pause_.Down(now);
      ++handed_back;
      done_outbox_.push_back(DoneItem{outcome.task, ErrorClass::kTransient,
                                      outcome.status.ToString(), outcome.result.points_read,
                                      /*dependency_down=*/true});
      continue;
    }
    if (btrdb_pause_.paused()) {
      spdlog::info("btrq-worker: BTrDB answers again; taking tasks");
      btrdb_pause_.Up();
    }
    metrics_.duration->Observe(static_cast<double>(outcome.result.duration_ns) / 1e9);
    ++counts[static_cast<size_t>(outcome.error)];
    if (outcome.error != ErrorClass::kNone) {
      LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "task-failed",
                     spdlog::level::warn,
                     "btrq-worker: job={} task={} attempt={} worker={}: failed ({}): {}",
                     outcome.task.key.job, outcome.task.key.ToString(), outcome.task.attempt,
                     worker_id_, ErrorClassLabel(outcome.error), outcome.status.ToString());
      done_outbox_.push_back(DoneItem{outcome.task, outcome.error, outcome.status.ToString(),
                                      outcome.result.points_read});
      continue;
    }
    delivery_.Add(std::move(outcome.result));
  }
  outcomes_.clear();
  // The sink's silence counts from the first result it owes us.
  if (none_pending && !delivery_.empty()) sink_quiet_since_ = clock_->Now();
  // Counters once per batch.
  if (cancelled > 0) metrics_.cancelled_total->Inc(static_cast<double>(cancelled));
  if (handed_back > 0) metrics_.handed_back_total->Inc(static_cast<double>(handed_back));
  if (points > 0) metrics_.points_total->Inc(static_cast<double>(points));
  for (size_t i = 0; i < 3; ++i) {
    if (counts[i] > 0) metrics_.outcome_total[i]->Inc(static_cast<double>(counts[i]));
  }
}

uint32_t Worker::Impl::CreditToGrant() {
  if (draining_ || handing_back_) return 0;
  if (delivery_.size() > config_.worker.max_unacked_results) return 0;
  // The sink is away: new results could only pile up (their leases are kept meanwhile).
  if (SinkPaused()) return 0;
  const size_t used = active_.size() + credit_outstanding_;
  if (btrdb_pause_.paused()) {
    // One task at a time, as a probe of BTrDB: its outcome resumes or re-pauses.
    return used == 0 && btrdb_pause_.TakeProbe(clock_->Now()) ? 1 : 0;
  }
  return used >= capacity_ ? 0 : static_cast<uint32_t>(capacity_ - used);
}

void Worker::Impl::SendHeartbeat() {
  HeartbeatMsg hb;
  hb.running.assign(active_.begin(), active_.end());
  // Finished tasks apart: the broker keeps their leases, uncapped, while the sink is away.
  hb.awaiting_ack = delivery_.Pending();
  Send(Peer::kBroker, Message(std::move(hb)));
}

void Worker::Impl::CheckTimers() {
  const SteadyTime now = clock_->Now();
  if (now >= next_heartbeat_) {
    SendHeartbeat();
    next_heartbeat_ = now + Nanos(config_.worker.heartbeat_interval);
  }
  if (broker_->Silent(now)) {
    LogRateLimited(
        spdlog::default_logger_raw(), &log_limiter_, "broker-silent", spdlog::level::warn,
        "btrq-worker: nothing from the broker for {} ms; reconnecting",
        std::chrono::duration_cast<std::chrono::milliseconds>(now - broker_->heard()).count());
    if (Status s = ConnectBroker(/*again=*/true); !s.ok()) fatal_ = s;
  }
  if (!delivery_.empty() && sink_->Silent(now, sink_quiet_since_)) {
    LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "sink-silent",
                   spdlog::level::warn,
                   "btrq-worker: {} results pending and nothing from the sink; reconnecting "
                   "and taking no tasks until it answers",
                   delivery_.size());
    sink_down_ = true;
    if (Status s = ConnectSink(/*again=*/true); !s.ok()) fatal_ = s;
  }
  if (draining_ && !handing_back_ && config_.drain_timeout > 0 &&
      now - drain_started_ >= Nanos(config_.drain_timeout)) {
    spdlog::warn("btrq-worker: drain deadline passed; handing back {} tasks",
                 active_.size() + delivery_.size());
    handing_back_ = true;
  }
}

void Worker::Impl::Flush() {
  // Results, in frames of at most batch_results, encoded where they wait for their ACK
  // and stamped with this worker's id.
  due_.clear();
  const size_t resends = delivery_.CollectDue(&due_);
  metrics_.resent_total->Inc(static_cast<double>(resends));
  const std::span<const TaskResult* const> due(due_);
  for (size_t begin = 0; begin < due.size(); begin += config_.worker.batch_results) {
    EncodeResults(due.subspan(begin, std::min<size_t>(config_.worker.batch_results,
                                                      due.size() - begin)),
                  worker_id_, &buffer_);
    // Unsent results stay pending and go out at their next due time.
    SendEncoded(Peer::kSink, MessageType::kResult);
  }
  // DONEs, then the credit they freed, back to back.
  SendDones();
  const uint32_t credit = CreditToGrant();
  if (credit > 0 && Send(Peer::kBroker, Message(CreditMsg{credit}))) {
    credit_outstanding_ += credit;
  }
}

void Worker::Impl::SendDones() {
  while (!done_outbox_.empty()) {
    const size_t n = std::min(done_outbox_.size(), kMaxDoneItemsPerFrame);
    DoneMsg msg;
    msg.items.assign(done_outbox_.begin(), done_outbox_.begin() + static_cast<ptrdiff_t>(n));
    if (!Send(Peer::kBroker, Message(std::move(msg)))) break;
    done_outbox_.erase(done_outbox_.begin(), done_outbox_.begin() + static_cast<ptrdiff_t>(n));
  }
}

void Worker::Impl::UpdateGauges() {
  metrics_.unacked->Set(static_cast<double>(delivery_.size()));
  metrics_.credit_outstanding->Set(static_cast<double>(credit_outstanding_));
  metrics_.tasks_active->Set(static_cast<double>(active_.size()));
  metrics_.paused_btrdb->Set(btrdb_pause_.paused() ? 1 : 0);
  metrics_.paused_sink->Set(SinkPaused() ? 1 : 0);
}

std::chrono::milliseconds Worker::Impl::PollTimeout() const {
  const SteadyTime now = clock_->Now();
  SteadyTime next = next_heartbeat_;
  next = std::min(next, broker_->SilenceDeadline() + Nanos(1'000'000));
  if (auto due = delivery_.NextDue()) next = std::min(next, *due);
  if (auto probe = btrdb_pause_.NextProbe()) next = std::min(next, *probe);
  if (!delivery_.empty()) {
    next = std::min(next, sink_->SilenceDeadline(sink_quiet_since_) + Nanos(1'000'000));
  }
  if (draining_ && config_.drain_timeout > 0) {
    next = std::min(next, drain_started_ + Nanos(config_.drain_timeout));
  }
  if (next <= now) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(next - now);
}

void Worker::Impl::HandBack() {
  // Unfinished tasks stop at their next batch; the executor reports them cancelled.
  executor_->CancelAll();
  executor_->Stop();
  const size_t unacked = delivery_.size();
  const size_t running = active_.size();
  TakeOutcomes();
  // Failures found meanwhile are real: report them. Results without an ACK are not
  // reported; the broker hands their tasks out again and the sink de-duplicates.
  SendDones();
  spdlog::warn("btrq-worker: handed back {} unfinished tasks and {} unacknowledged results",
               running, unacked);
}

void Worker::Impl::SendBye() { Send(Peer::kBroker, Message(ByeMsg{})); }

Status Worker::Impl::Run() {
  if (ran_) return Status::FailedPrecondition("the worker has already run");
  ran_ = true;
  BTRQ_RETURN_IF_ERROR(ConnectSink(/*again=*/false));
  BTRQ_RETURN_IF_ERROR(ConnectBroker(/*again=*/false));
  next_heartbeat_ = clock_->Now() + Nanos(config_.worker.heartbeat_interval);
  UpdateGauges();  // the credit just given, before the first loop turn
  ready_ = true;
  spdlog::info("{}", WorkerReadyLine(worker_id_, threads_, config_.worker.broker,
                                     config_.worker.sink));

  bool clean_exit = false;
  while (fatal_.ok()) {
    Poller poller;
    poller.AddSocket(broker_->socket());
    poller.AddSocket(sink_->socket());
    const size_t wake_item = poller.AddFd(wake_->fd());
    if (auto polled = poller.Poll(PollTimeout()); !polled.ok()) {
      fatal_ = polled.status().WithContext("polling");
      break;
    }
    if (poller.Readable(wake_item)) wake_->Drain();
    const int requests = shutdown_requests_.load();
    if (requests > shutdowns_seen_) {
      shutdowns_seen_ = requests;
      if (requests >= 1) StartDrain("shutdown requested");
      if (requests >= 2 && !handing_back_) {
        spdlog::warn("btrq-worker: second shutdown request; handing back");
        handing_back_ = true;
      }
    }
    ReceiveFrom(Peer::kBroker);
    ReceiveFrom(Peer::kSink);
    if (!fatal_.ok()) break;
    TakeOutcomes();
    CheckTimers();
    if (!fatal_.ok()) break;
    if (handing_back_) {
      HandBack();
      SendBye();
      clean_exit = true;
      break;
    }
    Flush();
    UpdateGauges();
    if (draining_ && active_.empty() && delivery_.empty() && done_outbox_.empty()) {
      SendBye();
      spdlog::info("btrq-worker: drained; bye");
      clean_exit = true;
      break;
    }
  }
  ready_ = false;
  executor_->Stop();
  UpdateGauges();
  // Let BYE and the last DONEs leave before the sockets go; a fatal exit drops them.
  const int linger = clean_exit ? kCloseLingerMs : 0;
  broker_->Close(linger);
  sink_->Close(linger);
  return fatal_;
}

Result<std::unique_ptr<Worker>> Worker::Create(const WorkerConfig& config, Clock* clock,
                                               WorkerDeps deps) {
  auto impl = std::make_unique<Impl>(config, clock, std::move(deps));
  BTRQ_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

Status Worker::Run() { return impl_->Run(); }
void Worker::Shutdown() { impl_->Shutdown(); }
const std::string& Worker::worker_id() const { return impl_->worker_id_; }
uint32_t Worker::threads() const { return impl_->executor_->threads(); }
const std::string& Worker::http_endpoint() const { return impl_->http_endpoint(); }
std::string Worker::MetricsText() const { return impl_->registry_.Render(); }

}  // namespace btrq::worker
