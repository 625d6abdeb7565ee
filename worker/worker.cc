// Worker::Impl's setup, loop, peer links and timers; the traffic of tasks, results and
// DONEs is in worker_tasks.cc.
#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "analytics/exec.h"
#include "analytics/python.h"
#include "btrdb/rpc_observer.h"
#include "common/readiness.h"
#include "worker/worker_impl.h"

namespace btrq::worker {
namespace {

// Messages read from one socket per loop iteration, so neither peer starves the other.
constexpr size_t kMaxReceivePerTurn = 512;
// How long closing a socket after BYE may wait for it to leave.
constexpr int kCloseLingerMs = 2000;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

WorkerConfig WorkerConfigFrom(const BtrqConfig& config) {
  WorkerConfig out;
  out.worker = config.worker;
  out.btrdb = config.btrdb;
  out.curve = config.curve;
  out.liveness = config.broker.liveness;
  return out;
}

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

  BTRQ_RETURN_IF_ERROR(InitAnalytics());
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

Status Worker::Impl::InitAnalytics() {
  if (deps_.registry != nullptr) {
    analytics_ = deps_.registry;
    return Status::OK();
  }
  own_registry_ = std::make_unique<analytics::Registry>();
  analytics::BuiltinOptions builtins;
  builtins.user_code = analytics::UserCode::kAllowList;
  builtins.exec_commands = config_.worker.exec_commands;
  const WorkerOptions::Python& py = config_.worker.python;
  if (!py.modules.empty()) {
    BTRQ_RETURN_IF_ERROR(StartPython());
    builtins.python_modules = py.modules;
    builtins.python_pool = python_pool_;
  }
  BTRQ_RETURN_IF_ERROR(analytics::RegisterBuiltins(own_registry_.get(), builtins));
  analytics_ = own_registry_.get();
  return Status::OK();
}

Status Worker::Impl::StartPython() {
  const WorkerOptions::Python& py = config_.worker.python;
  analytics::PythonRuntimeOptions options;
  options.interpreter = py.interpreter;
#ifdef BTRQ_PYTHON_DIR
  // A build tree's worker runs the runner from the sources; an installed one finds the
  // btrq package on the interpreter's own path.
  if (::access(BTRQ_PYTHON_DIR "/btrq/runner.py", R_OK) == 0) {
    options.path.push_back(BTRQ_PYTHON_DIR);
  }
#endif
  options.path.insert(options.path.end(), py.path.begin(), py.path.end());
  options.memory_limit_bytes = uint64_t{py.memory_limit_mb} << 20;
  auto pool = std::make_shared<analytics::PythonPool>(options);
  // One interpreter now, both as a probe and warm for the first task. A worker whose
  // Python cannot start says so and offers no `python` (HELLO), so it gets no such task.
  Result<std::unique_ptr<analytics::PythonInterpreter>> probe = pool->Checkout();
  const bool available = probe.ok();
  if (available) {
    pool->Return(std::move(*probe));
    python_pool_ = pool;
  } else {
    spdlog::error("btrq-worker: worker.python.modules is set but Python cannot start ({}); "
                  "taking no python task", probe.status().message());
  }
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackGauge(
      "btrq_worker_python_available",
      "1 when the python analytic's interpreter starts, 0 when it cannot", {},
      [available] { return available ? 1.0 : 0.0; }));
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackCounter(
      "btrq_worker_python_started_total", "Python interpreters started", {},
      [pool] { return static_cast<double>(pool->started()); }));
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackCounter(
      "btrq_worker_python_restarted_total",
      "Python interpreters killed after a crash, a timeout, an out-of-memory or a protocol "
      "error (each replaced by the next task)",
      {}, [pool] { return static_cast<double>(pool->replaced()); }));
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackGauge(
      "btrq_worker_python_busy", "Python interpreters running a task", {},
      [pool] { return static_cast<double>(pool->busy()); }));
  return registry_.AddCallbackCounter(
      "btrq_worker_python_seconds_total", "Wall time of tasks in Python interpreters", {},
      [pool] { return static_cast<double>(pool->task_ns()) / 1e9; });
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
  if (analytics_->Contains(analytics::kPythonName)) {
    hello.python_modules = config_.worker.python.modules;
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
