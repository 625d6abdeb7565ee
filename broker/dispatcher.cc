#include "broker/dispatcher.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "analytics/exec_policy.h"
#include "common/limits.h"
#include "common/text.h"

namespace btrq::broker {
namespace {

// How long close waits to flush the last frames.
constexpr int kLingerMs = 100;

constexpr std::string_view kBadHelp = "Frames from workers dropped or refused, by reason.";

// Splits `tasks` into TASK frames of at most `max_bytes` each (a task alone over it still
// gets a frame of its own): submit's param limits keep one task far below a frame, but 256
// of them need not be, and a worker refuses a frame over its max_message_bytes.
std::vector<std::vector<TaskSpec>> SplitFrames(std::vector<TaskSpec> tasks, size_t max_bytes) {
  std::vector<std::vector<TaskSpec>> frames;
  size_t bytes = kTaskFrameOverheadBytes;
  for (TaskSpec& t : tasks) {
    const size_t b = TaskEncodedBytesBound(t);
    if (frames.empty() || (bytes + b > max_bytes && !frames.back().empty())) {
      frames.emplace_back();
      bytes = kTaskFrameOverheadBytes;
    }
    bytes += b;
    frames.back().push_back(std::move(t));
  }
  return frames;
}

}  // namespace

Dispatcher::Dispatcher(const DispatcherOptions& options, Clock* clock,
                       std::unique_ptr<Scheduler> scheduler, metrics::Registry* registry)
    : options_(options),
      clock_(clock),
      scheduler_(std::move(scheduler)),
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
      new Dispatcher(options, clock, std::move(scheduler), registry));
  BTRQ_RETURN_IF_ERROR(d->Init());
  return d;
}

Status Dispatcher::Init() {
  BTRQ_ASSIGN_OR_RETURN(WakeupFd wake, WakeupFd::Create());
  wake_.emplace(std::move(wake));
  BTRQ_ASSIGN_OR_RETURN(sampler_, Sampler::Create(options_.sampler, clock_, registry_));

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
  RouterInboxOptions inbox;
  inbox.log_prefix = "btrq-broker";
  inbox.bad_help = kBadHelp;
  inbox.reasons = {"envelope", "wrong_type", "unknown_worker", "stale_done", "bad_receipt",
                   "worker_id_in_use"};
  inbox.limits = options_.limits;
  BTRQ_ASSIGN_OR_RETURN(inbox_, RouterInbox::Create(inbox, registry_, &peer_log_, zap_.get()));
  // Not ROUTER_HANDOVER: with it, a peer connecting with another's routing id would take
  // that worker's messages over.
  BTRQ_ASSIGN_OR_RETURN(router_, MakeSocket(context_, zmq::socket_type::router, socket_options));
  auto bound = BindListen(router_, options_.listen);
  if (!bound.ok()) return bound.status().WithContext("binding broker.tasks_listen");
  endpoint_ = *bound;
  sampler_->Sample(clock_->Now(), *scheduler_);
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
  // The journal syncs on its own thread and BTrDB is asked on the catalog runner's: a
  // finished group commit or a catalog answer wakes the poll below, so PollJournal() runs
  // its callbacks (job acks, usable pins) and Expand() takes the answers at once.
  scheduler_->SetWakeup([this] { wake_->Notify(); });
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
    if (Advance()) busy = true;

    const SteadyTime now = clock_->Now();
    if (now >= next_heartbeat) {
      SendHeartbeats();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (now >= next_sample) {
      sampler_->Sample(now, *scheduler_);
      next_sample = now + options_.sample_interval;
    }
  }

  // Stop dispatching; answer what was asked, make everything durable.
  Close();
  Status synced = scheduler_->SyncJournal();
  scheduler_->SetWakeup(nullptr);
  sampler_->Sample(clock_->Now(), *scheduler_);
  router_.close();
  if (zap_) zap_->Stop();
  if (!synced.ok()) return synced.WithContext("syncing the journal at shutdown");
  return status;
}

bool Dispatcher::Advance() {
  const Journal* journal = scheduler_->journal();
  bool busy = false;
  const TickOutcome tick = scheduler_->Tick();
  if (tick.stalled > Nanos(0)) {
    spdlog::warn("btrq-broker: this process did not run for {} ms (stopped or starved); "
                 "leases and worker liveness moved on by as much",
                 std::chrono::duration_cast<std::chrono::milliseconds>(tick.stalled).count());
  }
  for (const std::string& w : tick.dead_workers) {
    spdlog::warn("btrq-broker: worker {} is silent: declared dead, its tasks requeued", w);
    ForgetDeclaredDead(w);
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
  return busy;
}

Result<bool> Dispatcher::ReceiveAvailable() {
  RouterMessage in;
  for (size_t n = 0; n < options_.max_receive_per_iteration; ++n) {
    Result<bool> received = inbox_->Receive(router_, &in);
    if (!received.ok()) return received.status().WithContext("receiving from workers");
    if (!*received) return false;
    if (in.message) {
      HandleMessage(in);
    } else {
      HandleDropped(in);
    }
  }
  return true;
}

const std::string* Dispatcher::WorkerOf(const std::string& identity) const {
  auto it = worker_of_.find(identity);
  return it == worker_of_.end() ? nullptr : &it->second;
}

void Dispatcher::HandleDropped(const RouterMessage& in) {
  const std::string identity(in.identity());
  if (in.dropped == DecodeErrorReasonName(DecodeErrorReason::kBadVersion)) {
    Reject(identity, "protocol version mismatch: the broker speaks version " +
                         std::to_string(kProtocolVersion));
    return;
  }
  // A key revoked after this connection's handshake: the worker is forgotten (its tasks
  // go back to the queue) and told why, once.
  const std::string* found = in.dropped == "revoked_key" ? WorkerOf(identity) : nullptr;
  if (found == nullptr) return;
  const std::string worker = *found;
  const size_t requeued = scheduler_->OnWorkerLost(worker, "revoked");
  spdlog::warn("btrq-broker: worker {}: its CURVE key was revoked; forgotten ({} tasks "
               "requeued)", worker, requeued);
  Forget(worker);
  Reject(identity, "this worker's CURVE key is no longer authorized");
}

void Dispatcher::HandleMessage(const RouterMessage& in) {
  const std::string identity(in.identity());
  const Message& message = *in.message;
  if (const auto* hello = std::get_if<HelloMsg>(&message)) {
    // The TCP peer's address, for the log (which host the worker really is).
    const char* address = zmq_msg_gets(in.body().handle(), "Peer-Address");
    HandleHello(identity, *hello, address != nullptr ? address : "unknown");
    return;
  }
  const bool from_worker = std::holds_alternative<CreditMsg>(message) ||
                           std::holds_alternative<HeartbeatMsg>(message) ||
                           std::holds_alternative<DoneMsg>(message) ||
                           std::holds_alternative<RefuseMsg>(message) ||
                           std::holds_alternative<ByeMsg>(message);
  if (!from_worker) {
    CountBad("wrong_type", identity,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
    return;
  }
  const std::string* found = WorkerOf(identity);
  if (found == nullptr) {
    if (std::holds_alternative<ByeMsg>(message)) return;  // already forgotten
    if (const std::string* dead = DeclaredDead(identity);
        dead != nullptr && std::holds_alternative<DoneMsg>(message)) {
      // Declared dead but only paused: a result proven stored (its receipt) still ends
      // its task (Scheduler::AcceptLateDone); the REJECT then makes it say HELLO again.
      const std::string worker = *dead;
      HandleDone(identity, worker, std::get<DoneMsg>(message));
      Reject(identity, "unknown worker");
      return;
    }
    CountBad("unknown_worker", identity,
             std::string(MessageTypeName(TypeOf(message))) + " before HELLO");
    Reject(identity, "unknown worker");
    return;
  }
  const std::string worker = *found;
  if (const auto* credit = std::get_if<CreditMsg>(&message)) {
    if (!scheduler_->OnWorkerCredit(worker, credit->credit).ok()) {
      Forget(worker);
      Reject(identity, "unknown worker");
    }
  } else if (const auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) {
    if (!scheduler_->OnWorkerHeartbeat(worker, *heartbeat).ok()) {
      Forget(worker);
      Reject(identity, "unknown worker");
    }
  } else if (const auto* done = std::get_if<DoneMsg>(&message)) {
    HandleDone(identity, worker, *done);
  } else if (const auto* refuse = std::get_if<RefuseMsg>(&message)) {
    // A task the worker cannot decode fails the same way on every worker: a permanent
    // failure, dead-lettered with the worker's reason. Its credit comes back by CREDIT.
    DoneMsg failed;
    failed.items.reserve(refuse->items.size());
    for (const RefuseItem& item : refuse->items) {
      failed.items.push_back(DoneItem{item.task, ErrorClass::kPermanent,
                                      "refused by worker " + worker + ": " + item.reason, 0});
    }
    HandleDone(identity, worker, failed);
  } else if (std::holds_alternative<ByeMsg>(message)) {
    const size_t requeued = scheduler_->OnWorkerBye(worker);
    spdlog::info("btrq-broker: worker {} said BYE ({} tasks requeued)", worker, requeued);
    Forget(worker);
  }
}

void Dispatcher::DropUnreceipted(const std::string& identity, const std::string& worker,
                                 DoneMsg* done) {
  std::erase_if(done->items, [&](const DoneItem& item) {
    if (item.error != ErrorClass::kNone ||
        options_.lease_signer->VerifyReceipt(item.task, worker, item.receipt)) {
      return false;
    }
    // Its lease stays: should the result be stored after all, a later attempt's DONE
    // carries a receipt; if not, the lease expires and the task is retried.
    CountBad("bad_receipt", identity,
             "DONE ok for job=" + std::to_string(item.task.key.job) + " task=" +
                 item.task.key.ToString() + " attempt=" + std::to_string(item.task.attempt) +
                 " worker=" + worker + (item.receipt.empty() ? " without" : " with a wrong") +
                 " sink receipt");
    return true;
  });
}

void Dispatcher::HandleDone(const std::string& identity, const std::string& worker,
                            DoneMsg done) {
  if (options_.lease_signer) DropUnreceipted(identity, worker, &done);
  for (const DoneItem& item : done.items) {
    // A hand-back for a BTrDB outage is no failure; the worker logged the outage.
    if (item.error == ErrorClass::kNone || item.dependency_down) continue;
    LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "failed:" + worker,
                   spdlog::level::warn,
                   "btrq-broker: job={} task={} attempt={} worker={}: failed ({}): {}",
                   item.task.key.job, item.task.key.ToString(), item.task.attempt, worker,
                   item.error == ErrorClass::kTransient ? "transient" : "permanent",
                   item.message);
  }
  const DoneOutcome outcome = scheduler_->OnWorkerDone(worker, done);
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
}

void Dispatcher::HandleHello(const std::string& identity, const HelloMsg& hello,
                             std::string_view peer_address) {
  if (hello.worker_id.empty()) {
    CountBad("bad_field", identity, "HELLO without a worker id");
    Reject(identity, "HELLO without a worker id");
    return;
  }
  if (Status s = limits::CheckHello(hello); !s.ok()) {
    CountBad("bad_field", identity, s.message());
    Reject(identity, s.message());
    return;
  }
  // Kept for the worker's life and matched on every exec submit: bounded as the worker's
  // own config is.
  if (Status s = analytics::ValidateExecCommands(hello.exec_commands); !s.ok()) {
    CountBad("bad_field", identity, "HELLO: " + s.message());
    Reject(identity, "HELLO: " + s.message());
    return;
  }
  if (!MayTakeId(hello.worker_id, identity)) {
    CountBad("worker_id_in_use", identity,
             "HELLO for worker " + hello.worker_id + ", held by another live connection");
    Reject(identity, "unknown worker: the worker id " + hello.worker_id +
                         " is held by another live connection");
    return;
  }
  // A worker that reconnected from another identity (its old one is gone), or an
  // identity reused by another worker id: the newest HELLO wins.
  bool reconnected = false;
  if (auto it = identity_of_.find(hello.worker_id);
      it != identity_of_.end() && it->second != identity) {
    worker_of_.erase(it->second);
    reconnected = true;
  }
  if (const std::string* previous = WorkerOf(identity);
      previous != nullptr && *previous != hello.worker_id) {
    const std::string old = *previous;
    scheduler_->OnWorkerLost(old, "replaced by a new HELLO");
    Forget(old);
  }
  identity_of_[hello.worker_id] = identity;
  worker_of_[identity] = hello.worker_id;
  std::erase_if(declared_dead_, [&](const auto& d) { return d.first == identity; });
  const bool draining = scheduler_->OnWorkerHello(hello);
  // TASK frames still on the old connection are lost: its next heartbeat says which.
  if (reconnected) scheduler_->OnWorkerReconnect(hello.worker_id);
  if (draining) {
    // A drain it was told of (or that a broker before a restart acknowledged) holds.
    if (SendTo(identity, Message(DrainMsg{})) == SendResult::kPeerGone) {
      PeerGone(hello.worker_id, "unreachable");
      return;
    }
  }
  spdlog::info("btrq-broker: worker {} (host {}, pid {}, {} threads) said HELLO from {}",
               hello.worker_id, hello.host, hello.pid, hello.threads, peer_address);
}

bool Dispatcher::MayTakeId(const std::string& worker, const std::string& identity) {
  auto it = identity_of_.find(worker);
  if (it == identity_of_.end() || it->second == identity) return true;
  // ROUTER_MANDATORY: a send to a connection that is gone fails at once. One that is
  // alive keeps its id, whoever asks; a reconnecting worker's old connection closes
  // soon, and its HELLO, repeated on the REJECT, then succeeds.
  return SendTo(it->second, Message(BrokerHeartbeatMsg{})) == SendResult::kPeerGone;
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
      if (options_.lease_signer) {
        for (TaskSpec& t : tasks) {
          t.lease_token = options_.lease_signer->Token(TaskRef{t.key, t.attempt}, worker);
        }
      }
      const size_t n = tasks.size();
      auto it = identity_of_.find(worker);
      SendResult sent = SendResult::kOk;
      for (std::vector<TaskSpec>& part :
           SplitFrames(std::move(tasks), options_.limits.max_frame_bytes)) {
        sent = SendTo(it->second, Message(TaskMsg{std::move(part)}));
        if (sent != SendResult::kOk) break;
      }
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

void Dispatcher::Reject(const std::string& identity, std::string reason) {
  SendTo(identity, Message(RejectMsg{std::move(reason)}));
}

void Dispatcher::PeerGone(const std::string& worker, std::string_view why) {
  const size_t requeued = scheduler_->OnWorkerLost(worker, "gone");
  LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "gone:" + worker, spdlog::level::warn,
                 "btrq-broker: worker {} is gone ({}): {} tasks requeued", worker, why, requeued);
  Forget(worker);
}

void Dispatcher::ForgetDeclaredDead(const std::string& worker) {
  // Enough for every worker of a large cluster declared dead at once (a partition).
  constexpr size_t kMaxDeclaredDead = 4096;
  if (auto it = identity_of_.find(worker); it != identity_of_.end()) {
    declared_dead_.emplace_back(it->second, worker);
    if (declared_dead_.size() > kMaxDeclaredDead) declared_dead_.pop_front();
  }
  Forget(worker);
}

const std::string* Dispatcher::DeclaredDead(const std::string& identity) const {
  for (auto it = declared_dead_.rbegin(); it != declared_dead_.rend(); ++it) {
    if (it->first == identity) return &it->second;
  }
  return nullptr;
}

void Dispatcher::Forget(const std::string& worker) {
  auto it = identity_of_.find(worker);
  if (it == identity_of_.end()) return;
  auto w = worker_of_.find(it->second);
  if (w != worker_of_.end() && w->second == worker) worker_of_.erase(w);
  identity_of_.erase(it);
}

}  // namespace btrq::broker
