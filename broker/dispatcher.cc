#include "broker/dispatcher.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/text.h"

namespace btrq::broker {
namespace {

// Frames in one message from a worker: identity, an optional empty delimiter, body.
constexpr size_t kMaxFrames = 3;
// How long close waits to flush the last frames.
constexpr int kLingerMs = 100;
// The longest the loop sleeps when nothing is due.
constexpr Nanos kMaxPollWait = std::chrono::seconds(1);

// A printable name for a peer: its identity when it is text, else hex.
std::string PeerName(std::string_view identity) {
  if (identity.empty()) return "(unknown)";
  const bool printable = std::all_of(identity.begin(), identity.end(),
                                     [](char c) { return c >= 0x20 && c < 0x7f; });
  return printable ? std::string(identity) : HexOf(identity);
}

}  // namespace

Dispatcher::Dispatcher(const DispatcherOptions& options, Clock* clock,
                       std::unique_ptr<Scheduler> scheduler, TaskDecorator decorate,
                       metrics::Registry* registry)
    : options_(options),
      clock_(clock),
      scheduler_(std::move(scheduler)),
      decorate_(std::move(decorate)),
      registry_(registry),
      peer_log_(RateLimiter::Options{}, clock) {}

Dispatcher::~Dispatcher() { Close(); }

void Dispatcher::Close() {
  std::deque<Command> rest;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    rest.swap(commands_);
  }
  for (Command& c : rest) c(*this);
}

Result<std::unique_ptr<Dispatcher>> Dispatcher::Create(const DispatcherOptions& options,
                                                       Clock* clock,
                                                       std::unique_ptr<Scheduler> scheduler,
                                                       TaskDecorator decorate,
                                                       metrics::Registry* registry) {
  if (options.max_tasks_per_frame == 0 || options.max_frames_per_worker == 0 ||
      options.max_receive_per_iteration == 0) {
    return Status::InvalidArgument("dispatcher: batch limits must be positive");
  }
  if (options.heartbeat_interval <= Nanos(0) || options.sample_interval <= Nanos(0)) {
    return Status::InvalidArgument("dispatcher: intervals must be positive");
  }
  if (options.curve && !options.zap) {
    return Status::InvalidArgument(
        "dispatcher: CURVE without a ZAP handler would admit every client key");
  }
  std::unique_ptr<Dispatcher> d(
      new Dispatcher(options, clock, std::move(scheduler), std::move(decorate), registry));
  BTRQ_RETURN_IF_ERROR(d->Init());
  return d;
}

Status Dispatcher::Init() {
  BTRQ_ASSIGN_OR_RETURN(WakeupFd wake, WakeupFd::Create());
  wake_.emplace(std::move(wake));
  BTRQ_RETURN_IF_ERROR(InitMetrics());

  SocketOptions socket_options;
  socket_options.linger_ms = kLingerMs;
  socket_options.router_mandatory = true;
  socket_options.max_msg_size = static_cast<int64_t>(options_.limits.max_frame_bytes) * 2;
  socket_options.curve_server = options_.curve;
  if (options_.zap) {
    // Before the ROUTER exists: libzmq admits every CURVE client while no handler is bound.
    ZapOptions zap = *options_.zap;
    if (zap.metrics == nullptr) zap.metrics = registry_;
    if (zap.clock == nullptr) zap.clock = clock_;
    BTRQ_ASSIGN_OR_RETURN(zap_, ZapAuthenticator::Start(context_, std::move(zap)));
  }
  BTRQ_ASSIGN_OR_RETURN(router_, MakeSocket(context_, zmq::socket_type::router, socket_options));
  try {
    router_.set(zmq::sockopt::router_handover, 1);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("setting ZMQ_ROUTER_HANDOVER: ") + e.what());
  }
  std::string endpoint = options_.listen;
  if (endpoint.size() > 2 && endpoint.ends_with(":0")) {
    endpoint = endpoint.substr(0, endpoint.size() - 2) + ":*";
  }
  auto bound = Bind(router_, endpoint);
  if (!bound.ok()) return bound.status().WithContext("binding broker.tasks_listen");
  endpoint_ = *bound;
  Sample(clock_->Now());
  return Status::OK();
}

Status Dispatcher::InitMetrics() {
  constexpr std::string_view kBadHelp = "Frames from workers dropped or refused, by reason.";
  for (DecodeErrorReason reason :
       {DecodeErrorReason::kTooLarge, DecodeErrorReason::kBadVersion,
        DecodeErrorReason::kUnknownType, DecodeErrorReason::kMalformed,
        DecodeErrorReason::kLimits, DecodeErrorReason::kBadField}) {
    const std::string name(DecodeErrorReasonName(reason));
    BTRQ_ASSIGN_OR_RETURN(bad_messages_[name],
                          registry_->AddCounter("btrq_bad_messages_total", kBadHelp,
                                                {{"reason", name}}));
  }
  for (const char* name : {"envelope", "wrong_type", "unknown_worker", "stale_done"}) {
    BTRQ_ASSIGN_OR_RETURN(bad_messages_[name],
                          registry_->AddCounter("btrq_bad_messages_total", kBadHelp,
                                                {{"reason", name}}));
  }
  // Observed by the journal's on_sync hook (the broker wires it), one per fdatasync.
  BTRQ_ASSIGN_OR_RETURN(fsync_seconds_,
                        registry_->AddHistogram("btrq_journal_fsync_seconds",
                                                "Duration of one journal fdatasync.",
                                                metrics::ExponentialBuckets(0.0001, 2, 16)));
  BTRQ_ASSIGN_OR_RETURN(decorate_errors_,
                        registry_->AddCounter("btrq_task_param_errors_total",
                                              "Tasks sent without stream params because "
                                              "BTrDB could not be asked for them."));
  const auto gauge = [this](std::string_view name, std::string_view help,
                            std::function<double(const Snapshot&)> read) {
    return registry_->AddCallbackGauge(name, help, {}, [this, read = std::move(read)] {
      MutexLock lock(&snapshot_mu_);
      return read(snapshot_);
    });
  };
  BTRQ_RETURN_IF_ERROR(gauge("btrq_queue_depth_all",
                             "Tasks not yet done nor in flight, over all live jobs.",
                             [](const Snapshot& s) { return double(s.depth_total); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_tasks_inflight", "Tasks leased to workers.",
                             [](const Snapshot& s) { return double(s.in_flight); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_workers", "Workers connected (said HELLO, not dead).",
                             [](const Snapshot& s) { return double(s.workers); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_credit_outstanding",
                             "Tasks workers may still be sent (their unused credit).",
                             [](const Snapshot& s) { return double(s.credit); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_oldest_ready_task_age_seconds",
                             "How long the longest-waiting ready task has waited.",
                             [](const Snapshot& s) { return s.oldest_ready_age; }));
  const auto tasks = [this](std::string status, std::function<double(const SchedulerStats&)> read) {
    return registry_->AddCallbackCounter(
        "btrq_tasks_total", "Task events since the broker started, by status.",
        {{"status", std::move(status)}}, [this, read = std::move(read)] {
          MutexLock lock(&snapshot_mu_);
          return read(snapshot_.stats);
        });
  };
  BTRQ_RETURN_IF_ERROR(tasks("dispatched", [](const SchedulerStats& s) { return double(s.dispatched_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("done", [](const SchedulerStats& s) { return double(s.done_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("dead", [](const SchedulerStats& s) { return double(s.dead_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("retried", [](const SchedulerStats& s) { return double(s.retried_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("expired", [](const SchedulerStats& s) { return double(s.expired_total); }));
  BTRQ_RETURN_IF_ERROR(registry_->AddCallbackCounter(
      "btrq_points_total", "Raw points read by the tasks workers reported, since start.", {},
      [this] {
        MutexLock lock(&snapshot_mu_);
        return double(snapshot_.stats.points_total);
      }));
  return Status::OK();
}

// --- Commands ---

bool Dispatcher::Post(Command command) {
  {
    MutexLock lock(&mu_);
    if (closed_) return false;
    commands_.push_back(std::move(command));
  }
  wake_->Notify();
  return true;
}

void Dispatcher::Stop() {
  stop_.store(true);
  wake_->Notify();
}

void Dispatcher::RunCommands() {
  std::deque<Command> batch;
  {
    MutexLock lock(&mu_);
    batch.swap(commands_);
  }
  for (Command& c : batch) c(*this);
}

// --- The loop ---

Status Dispatcher::Run() {
  const Journal* journal = scheduler_->journal();
  // The journal syncs on its own thread; a finished group commit wakes the poll below so
  // PollJournal() runs its callbacks (job acks, usable pins) at once.
  scheduler_->SetJournalWakeup([this] { wake_->Notify(); });
  SteadyTime next_heartbeat = clock_->Now();
  SteadyTime next_sample = clock_->Now() + options_.sample_interval;
  Status status;
  bool busy = true;
  while (!stop_.load()) {
    Nanos wait(0);
    if (!busy) {
      SteadyTime due = std::min(next_heartbeat, next_sample);
      if (std::optional<SteadyTime> w = scheduler_->NextWakeup()) due = std::min(due, *w);
      wait = std::clamp<Nanos>(due - clock_->Now(), Nanos(0), kMaxPollWait);
    }
    Poller poller;
    const size_t socket_item = poller.AddSocket(router_);
    const size_t wake_item = poller.AddFd(wake_->fd());
    if (auto polled = poller.Poll(std::chrono::ceil<std::chrono::milliseconds>(wait));
        !polled.ok()) {
      status = polled.status().WithContext("polling the tasks socket");
      break;
    }
    busy = false;
    if (poller.Readable(wake_item)) wake_->Drain();
    RunCommands();
    if (stop_.load()) break;
    if (poller.Readable(socket_item)) {
      auto capped = ReceiveAvailable();
      if (!capped.ok()) {
        status = capped.status();
        break;
      }
      busy = *capped;
    }

    const TickOutcome tick = scheduler_->Tick();
    for (const std::string& w : tick.dead_workers) {
      spdlog::warn("btrq-broker: worker {} is silent: declared dead, its tasks requeued", w);
      Forget(w);
    }
    if (!tick.compaction.ok()) {
      LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "compaction", spdlog::level::err,
                     "btrq-broker: journal compaction failed: {}", tick.compaction.ToString());
    }
    const uint64_t appended = journal ? journal->appended_seq() : 0;
    scheduler_->Expand();
    // Expansion that journaled something (streams, pins) may have more to do at once.
    if (journal && journal->appended_seq() != appended) busy = true;
    if (DispatchAll()) busy = true;
    SendCancelNotices();

    const uint64_t durable = journal ? journal->durable_seq() : 0;
    if (Status s = scheduler_->PollJournal(); !s.ok()) {
      LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "journal", spdlog::level::err,
                     "btrq-broker: journal write failed: {}", s.ToString());
    }
    // Pins made durable become usable in the next Expand().
    if (journal && journal->durable_seq() != durable) busy = true;

    const SteadyTime now = clock_->Now();
    if (now >= next_heartbeat) {
      SendHeartbeats();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (now >= next_sample) {
      Sample(now);
      next_sample = now + options_.sample_interval;
    }
  }

  // Stop dispatching; answer what was asked, make everything durable.
  Close();
  Status synced = scheduler_->SyncJournal();
  scheduler_->SetJournalWakeup(nullptr);
  Sample(clock_->Now());
  router_.close();
  if (zap_) zap_->Stop();
  if (!synced.ok()) return synced.WithContext("syncing the journal at shutdown");
  return status;
}

Result<bool> Dispatcher::ReceiveAvailable() {
  std::vector<zmq::message_t> frames;
  for (size_t n = 0; n < options_.max_receive_per_iteration; ++n) {
    auto received = RecvMultipart(router_, kMaxFrames, &frames);
    if (!received.ok()) {
      if (received.status().code() != StatusCode::kInvalidMessage) {
        return received.status().WithContext("receiving from workers");
      }
      CountBad("envelope", "", received.status().message());
      continue;
    }
    if (!*received) return false;
    HandleMessage(&frames);
  }
  return true;
}

const std::string* Dispatcher::WorkerOf(const std::string& identity) const {
  auto it = worker_of_.find(identity);
  return it == worker_of_.end() ? nullptr : &it->second;
}

void Dispatcher::HandleMessage(std::vector<zmq::message_t>* frames) {
  const std::string identity = frames->front().to_string();
  if (frames->size() < 2) {
    CountBad("envelope", identity, "no body frame");
    return;
  }
  if (zap_ && !Authenticated(identity, frames->back())) return;
  for (size_t i = 1; i + 1 < frames->size(); ++i) {
    if ((*frames)[i].size() != 0) {
      CountBad("envelope", identity, "non-empty delimiter frame");
      return;
    }
  }
  auto decoded = DecodeMessage(frames->back().to_string_view(), options_.limits);
  if (!decoded.ok()) {
    const DecodeErrorReason reason = DecodeReasonOf(decoded.status());
    CountBad(DecodeErrorReasonName(reason), identity, decoded.status().message());
    if (reason == DecodeErrorReason::kBadVersion) {
      Reject(identity, "protocol version mismatch: the broker speaks version " +
                           std::to_string(kProtocolVersion));
    }
    return;
  }
  Message& message = *decoded;
  if (auto* hello = std::get_if<HelloMsg>(&message)) {
    // The TCP peer's address, for the log (which host the worker really is).
    const char* address = zmq_msg_gets(frames->back().handle(), "Peer-Address");
    HandleHello(identity, *hello, address != nullptr ? address : "unknown");
    return;
  }
  const bool from_worker = std::holds_alternative<CreditMsg>(message) ||
                           std::holds_alternative<HeartbeatMsg>(message) ||
                           std::holds_alternative<DoneMsg>(message) ||
                           std::holds_alternative<ByeMsg>(message);
  if (!from_worker) {
    CountBad("wrong_type", identity,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
    return;
  }
  const std::string* found = WorkerOf(identity);
  if (found == nullptr) {
    if (std::holds_alternative<ByeMsg>(message)) return;  // already forgotten
    CountBad("unknown_worker", identity,
             std::string(MessageTypeName(TypeOf(message))) + " before HELLO");
    Reject(identity, "unknown worker");
    return;
  }
  const std::string worker = *found;
  if (auto* credit = std::get_if<CreditMsg>(&message)) {
    if (!scheduler_->OnWorkerCredit(worker, credit->credit).ok()) {
      Forget(worker);
      Reject(identity, "unknown worker");
    }
  } else if (auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) {
    if (!scheduler_->OnWorkerHeartbeat(worker, *heartbeat).ok()) {
      Forget(worker);
      Reject(identity, "unknown worker");
    }
  } else if (auto* done = std::get_if<DoneMsg>(&message)) {
    for (const DoneItem& item : done->items) {
      if (item.error == ErrorClass::kNone) continue;
      LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "failed:" + worker,
                     spdlog::level::warn,
                     "btrq-broker: job={} task={} attempt={} worker={}: failed ({}): {}",
                     item.task.key.job, item.task.key.ToString(), item.task.attempt, worker,
                     item.error == ErrorClass::kTransient ? "transient" : "permanent",
                     item.message);
    }
    const DoneOutcome outcome = scheduler_->OnWorkerDone(worker, *done);
    bool unknown = false;
    for (const auto& [ref, reason] : outcome.rejected) {
      if (reason == LeaseReject::kUnknownWorker) {
        unknown = true;
        continue;
      }
      CountBad("stale_done", identity,
               "DONE for job=" + std::to_string(ref.key.job) + " task=" + ref.key.ToString() +
                   " attempt=" + std::to_string(ref.attempt) + " worker=" + worker + ": " +
                   std::string(LeaseRejectName(reason)));
    }
    if (unknown) {
      Forget(worker);
      Reject(identity, "unknown worker");
    }
  } else if (std::holds_alternative<ByeMsg>(message)) {
    const size_t requeued = scheduler_->OnWorkerBye(worker);
    spdlog::info("btrq-broker: worker {} said BYE ({} tasks requeued)", worker, requeued);
    Forget(worker);
  }
}

void Dispatcher::HandleHello(const std::string& identity, const HelloMsg& hello,
                             std::string_view peer_address) {
  if (hello.worker_id.empty()) {
    CountBad("bad_field", identity, "HELLO without a worker id");
    Reject(identity, "HELLO without a worker id");
    return;
  }
  // A worker that reconnected from another identity, or an identity reused by another
  // worker id: the newest HELLO wins.
  if (auto it = identity_of_.find(hello.worker_id);
      it != identity_of_.end() && it->second != identity) {
    worker_of_.erase(it->second);
  }
  if (const std::string* previous = WorkerOf(identity);
      previous != nullptr && *previous != hello.worker_id) {
    const std::string old = *previous;
    scheduler_->OnWorkerBye(old);
    Forget(old);
  }
  identity_of_[hello.worker_id] = identity;
  worker_of_[identity] = hello.worker_id;
  scheduler_->OnWorkerHello(hello);
  spdlog::info("btrq-broker: worker {} (host {}, pid {}, {} threads) said HELLO from {}",
               hello.worker_id, hello.host, hello.pid, hello.threads, peer_address);
}

bool Dispatcher::DispatchAll() {
  if (identity_of_.empty()) return false;
  std::vector<std::string> workers;
  workers.reserve(identity_of_.size());
  for (const auto& [w, id] : identity_of_) workers.push_back(w);
  rotation_ = (rotation_ + 1) % workers.size();
  std::rotate(workers.begin(), workers.begin() + static_cast<ptrdiff_t>(rotation_), workers.end());
  bool more = false;
  for (const std::string& worker : workers) {
    for (size_t frame = 0; frame < options_.max_frames_per_worker; ++frame) {
      std::vector<TaskSpec> tasks = scheduler_->NextDispatch(worker, options_.max_tasks_per_frame);
      if (tasks.empty()) break;
      if (decorate_) {
        for (TaskSpec& t : tasks) {
          if (Status s = decorate_(&t); !s.ok()) {
            decorate_errors_->Inc();
            LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "decorate",
                           spdlog::level::warn,
                           "btrq-broker: job={} task={} attempt={} worker={}: sent without "
                           "stream params: {}",
                           t.key.job, t.key.ToString(), t.attempt, worker, s.ToString());
          }
        }
      }
      const size_t n = tasks.size();
      auto it = identity_of_.find(worker);
      const SendResult sent = SendTo(it->second, Message(TaskMsg{std::move(tasks)}));
      if (sent != SendResult::kOk) {
        PeerGone(worker, sent == SendResult::kQueueFull ? "its queue is full" : "unreachable");
        break;
      }
      if (n == options_.max_tasks_per_frame && frame + 1 == options_.max_frames_per_worker) {
        more = true;
      }
      if (n < options_.max_tasks_per_frame) break;
    }
  }
  return more;
}

void Dispatcher::SendCancelNotices() {
  for (const CancelNotice& notice : scheduler_->TakeCancelNotices()) {
    auto it = identity_of_.find(notice.worker);
    if (it == identity_of_.end()) continue;
    if (SendTo(it->second, Message(CancelMsg{notice.job})) == SendResult::kPeerGone) {
      PeerGone(notice.worker, "unreachable");
    }
  }
}

void Dispatcher::SendHeartbeats() {
  std::vector<std::pair<std::string, std::string>> peers(identity_of_.begin(), identity_of_.end());
  for (const auto& [worker, identity] : peers) {
    if (SendTo(identity, Message(BrokerHeartbeatMsg{})) == SendResult::kPeerGone) {
      PeerGone(worker, "unreachable");
    }
  }
}

Status Dispatcher::DrainWorker(std::string_view worker) {
  BTRQ_RETURN_IF_ERROR(scheduler_->DrainWorker(worker));
  auto it = identity_of_.find(worker);
  if (it != identity_of_.end()) {
    const std::string name(worker);
    if (SendTo(it->second, Message(DrainMsg{})) == SendResult::kPeerGone) {
      PeerGone(name, "unreachable");
    }
  }
  return Status::OK();
}

Dispatcher::SendResult Dispatcher::SendTo(const std::string& identity, const Message& message) {
  EncodeMessage(message, &out_);
  // cppzmq directly rather than SendMultipart: EHOSTUNREACH (the peer is gone, with
  // ROUTER_MANDATORY) and EAGAIN (its queue is full) must be told apart.
  try {
    if (!router_.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return SendResult::kQueueFull;
    }
    router_.send(zmq::buffer(out_), zmq::send_flags::dontwait);
    return SendResult::kOk;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return SendResult::kPeerGone;
    LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "send", spdlog::level::warn,
                   "btrq-broker: sending to {} failed: {}", PeerName(identity), e.what());
    return SendResult::kError;
  }
}

bool Dispatcher::Authenticated(const std::string& identity, const zmq::message_t& body) {
  std::string detail;
  const std::string_view refusal = zap_->RefusalOf(body, &detail);
  if (refusal.empty()) return true;
  CountBad(refusal, identity, detail);
  // A key revoked after this connection's handshake: the worker is forgotten (its tasks
  // go back to the queue) and told why, once.
  const std::string* found = refusal == "revoked_key" ? WorkerOf(identity) : nullptr;
  if (found != nullptr) {
    const std::string worker = *found;
    const size_t requeued = scheduler_->OnWorkerBye(worker);
    spdlog::warn("btrq-broker: worker {}: its CURVE key was revoked; forgotten ({} tasks "
                 "requeued)", worker, requeued);
    Forget(worker);
    Reject(identity, "this worker's CURVE key is no longer authorized");
  }
  return false;
}

void Dispatcher::Reject(const std::string& identity, std::string reason) {
  SendTo(identity, Message(RejectMsg{std::move(reason)}));
}

void Dispatcher::PeerGone(const std::string& worker, std::string_view why) {
  const size_t requeued = scheduler_->OnWorkerBye(worker);
  LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "gone:" + worker, spdlog::level::warn,
                 "btrq-broker: worker {} is gone ({}): {} tasks requeued", worker, why, requeued);
  Forget(worker);
}

void Dispatcher::Forget(const std::string& worker) {
  auto it = identity_of_.find(worker);
  if (it == identity_of_.end()) return;
  auto w = worker_of_.find(it->second);
  if (w != worker_of_.end() && w->second == worker) worker_of_.erase(w);
  identity_of_.erase(it);
}

void Dispatcher::CountBad(std::string_view reason, std::string_view identity,
                          std::string_view detail) {
  auto it = bad_messages_.find(reason);
  if (it == bad_messages_.end()) {
    auto counter = registry_->AddCounter("btrq_bad_messages_total",
                                         "Frames from workers dropped or refused, by reason.",
                                         {{"reason", std::string(reason)}});
    if (!counter.ok()) return;
    it = bad_messages_.emplace(std::string(reason), *counter).first;
  }
  it->second->Inc();
  const std::string peer = PeerName(identity);
  // Codec errors already start with their reason.
  const std::string text =
      detail.starts_with(reason) ? std::string(detail) : std::string(reason) + ": " + std::string(detail);
  LogRateLimited(spdlog::default_logger_raw(), &peer_log_, peer, spdlog::level::warn,
                 "btrq-broker: dropped a frame from peer {}: {}", peer, text);
}

// --- Samples ---

void Dispatcher::Sample(SteadyTime now) {
  Snapshot s;
  s.stats = scheduler_->Stats();
  const std::vector<JobInfo> jobs = scheduler_->ListJobs();
  const std::vector<WorkerInfo> workers = scheduler_->Workers();
  for (const JobInfo& job : jobs) {
    if (IsFinished(job.state)) continue;
    s.depth.emplace_back(job.id, job.counts.pending);
    s.depth_total += job.counts.pending;
  }
  s.in_flight = s.stats.in_flight;
  s.workers = workers.size();
  for (const WorkerInfo& w : workers) {
    s.credit += w.draining ? 0 : w.credit;
    progress_.SampleWorker(now, w.id, w.done, w.points_read);
  }
  progress_.EndWorkerSample(now);
  s.oldest_ready_age = std::chrono::duration<double>(s.stats.oldest_ready_age).count();
  progress_.SampleJobs(now, clock_->WallNanos(), jobs);
  progress_.SampleTotal(now, s.stats.done_total + s.stats.dead_total, s.stats.points_total);
  if (now >= next_dashboard_) {
    SampleDashboard(jobs, workers, s);
    next_dashboard_ = now + options_.dashboard_interval;
  }
  MutexLock lock(&snapshot_mu_);
  snapshot_ = std::move(s);
}

void Dispatcher::SampleDashboard(const std::vector<JobInfo>& jobs,
                                 const std::vector<WorkerInfo>& workers, const Snapshot& s) {
  const SteadyTime now = clock_->Now();
  const int64_t wall_now = clock_->WallNanos();
  dashboard::DashboardSnapshot d;
  dashboard::StatsView& stats = d.stats;
  stats.queue_depth = s.depth_total;
  stats.in_flight = s.in_flight;
  stats.workers = s.workers;
  stats.credit_outstanding = s.credit;
  stats.tasks_per_second = progress_.TotalTasksPerSecond();
  stats.points_per_second = progress_.TotalPointsPerSecond();
  stats.oldest_ready_age_seconds = s.oldest_ready_age;
  for (const auto& [job, depth] : s.depth) stats.jobs.push_back({job, depth});
  stats.tasks_done_total = s.stats.done_total;
  stats.tasks_retried_total = s.stats.retried_total;
  stats.tasks_dead_total = s.stats.dead_total;

  // The newest jobs, shown oldest first as ListJobs orders them.
  const size_t first =
      jobs.size() > options_.dashboard_jobs ? jobs.size() - options_.dashboard_jobs : 0;
  for (size_t i = first; i < jobs.size(); ++i) {
    const JobInfo& job = jobs[i];
    dashboard::JobView& v = d.jobs.emplace_back();
    v.id = job.id;
    v.name = job.spec.name;
    v.analytic = job.spec.analytic;
    v.collection = job.spec.collection;
    v.priority = job.spec.priority;
    v.state = std::string(JobStateName(job.state));
    const JobCounts& c = job.counts;
    v.counts = {c.total,     c.total_final, c.pending,   c.in_flight, c.done,
                c.retried,   c.dead,        c.cancelled, c.streams,   c.points_read};
    v.error = job.error;
    v.submitted_at_ns = job.submitted_wall_ns;
    v.started_at_ns = progress_.StartedAt(job.id);
    v.finished_at_ns = job.finished_wall_ns;
    const bool finished = IsFinished(job.state);
    v.tasks_per_second = finished ? 0 : progress_.JobTasksPerSecond(job.id);
    v.points_per_second = finished ? 0 : progress_.JobPointsPerSecond(job.id);
    v.eta_seconds = progress_.EtaSeconds(job);
    if (c.dead > 0 && d.dead.size() < options_.dashboard_dead_letters) {
      auto dead = scheduler_->DeadLetters(job.id);
      if (!dead.ok()) continue;
      for (const DeadLetter& letter : *dead) {
        if (d.dead.size() >= options_.dashboard_dead_letters) break;
        d.dead.push_back({letter.key, letter.key.start + job.spec.chunk, letter.attempt,
                          letter.error});
      }
    }
  }
  for (const WorkerInfo& w : workers) {
    dashboard::WorkerView& v = d.workers.emplace_back();
    v.id = w.id;
    v.host = w.host;
    v.pid = w.pid;
    v.threads = w.threads;
    v.analytics = w.analytics;
    v.credit = static_cast<uint32_t>(std::min<uint64_t>(w.credit, UINT32_MAX));
    v.in_flight = static_cast<uint32_t>(std::min<uint64_t>(w.in_flight, UINT32_MAX));
    v.tasks_done = w.done;
    v.tasks_per_second = progress_.WorkerTasksPerSecond(w.id);
    v.points_per_second = progress_.WorkerPointsPerSecond(w.id);
    v.last_heartbeat_ns = wall_now - std::chrono::duration_cast<Nanos>(now - w.last_seen).count();
    v.draining = w.draining;
  }
  if (options_.history != nullptr) options_.history->Sample(now, wall_now, stats);
  MutexLock lock(&dashboard_mu_);
  dashboard_ = std::move(d);
}

dashboard::DashboardSnapshot Dispatcher::DashboardView() const {
  MutexLock lock(&dashboard_mu_);
  return dashboard_;
}

std::string Dispatcher::RenderJobMetrics() const {
  std::string out =
      "# HELP btrq_queue_depth Tasks of a live job not yet done nor in flight.\n"
      "# TYPE btrq_queue_depth gauge\n";
  MutexLock lock(&snapshot_mu_);
  for (const auto& [job, depth] : snapshot_.depth) {
    out += "btrq_queue_depth{job_id=\"" + std::to_string(job) + "\"} " + std::to_string(depth) + "\n";
  }
  return out;
}

}  // namespace btrq::broker
