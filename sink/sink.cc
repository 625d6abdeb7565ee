#include "sink/sink.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/codec.h"
#include "common/file_util.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/http_server.h"
#include "common/lease_token.h"
#include "common/listen_gate.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/text.h"
#include "common/router_inbox.h"
#include "common/readiness.h"
#include "common/zap.h"
#include "common/zmq_util.h"
#include "sink/result_store.h"
#include "sink/sink_service.h"

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#ifndef BTRQ_SINK_VERSION
#define BTRQ_SINK_VERSION "unknown"
#endif

namespace btrq::sink {

namespace {

// Most keys in one ACK frame; a larger acknowledgement goes out as several frames.
constexpr size_t kMaxKeysPerAck = 8192;
// Commit durations kept for the p50/p99 that GetStats reports.
constexpr size_t kLatencyWindow = 1024;
// How long close waits to flush the last ACKs.
constexpr int kLingerMs = 1000;

}  // namespace

std::string ResultStorePath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "results.db").string();
}

class Sink::Impl {
 public:
  Impl(const SinkOptions& options, const CurveOptions& curve, Clock* clock)
      : options_(options),
        curve_(curve),
        clock_(clock),
        peer_log_(RateLimiter::Options{}, clock),
        latency_(kLatencyWindow, 0.0) {}

  ~Impl() { StopServers(); }

  Status Init();
  Status Run();
  // /readyz turns false at once (lock-free atomic store: async-signal-safe).
  void Shutdown() {
    ready_.store(false);
    wake_->Notify();
  }

  std::string results_endpoint_;
  std::string control_endpoint_;
  const std::string& http_endpoint() const { return http_.endpoint(); }

 private:
  // Results gathered for the next group commit, with who sent each.
  struct Batch {
    std::vector<TaskResult> results;
    std::vector<size_t> peer_of;                        // index into envelopes
    std::vector<std::vector<std::string>> envelopes;    // routing frames per peer
    std::unordered_map<std::string, size_t> peer_index; // identity -> envelopes index
    std::optional<SteadyTime> deadline;                 // set by the first result
    void Clear() {
      results.clear();
      peer_of.clear();
      envelopes.clear();
      peer_index.clear();
      deadline.reset();
    }
  };

  // A batch whose group commit has run, and how it went.
  struct Committed {
    Batch batch;
    Result<std::vector<PutOutcome>> outcomes = Status::Internal("not committed");
    double seconds = 0;
  };
  class Committer;

  Status InitMetrics();
  Status StartGrpc();
  Status StartHttp();
  void StopServers();

  // Receives, commits and acknowledges until Shutdown() or a socket error; commits what
  // it gathered before returning.
  Status Serve();
  // Receives every message waiting on the socket (without blocking) until the batch is
  // full. Returns false when the socket failed.
  Status ReceiveAvailable(Batch* batch);
  // Adds the results of one decoded message from a peer to `batch`.
  void HandleMessage(RouterMessage* in, Batch* batch);
  void CountBad(std::string_view reason, std::string_view identity, std::string_view detail) {
    inbox_->CountBad(reason, identity, detail);
  }
  // Counts a finished group commit and ACKs its results on success.
  void Acknowledge(Committed* committed);
  void SendAck(const std::vector<std::string>& envelope, AckMsg all);
  // With a lease secret: whether `r` carries the token of a lease the broker issued.
  bool LeaseTokenValid(const TaskResult& r, std::string_view identity);
  void RecordLatency(double seconds) BTRQ_EXCLUDES(latency_mu_);
  CommitLatency Latency() const BTRQ_EXCLUDES(latency_mu_);

  const SinkOptions options_;
  const CurveOptions curve_;
  Clock* const clock_;
  std::optional<WakeupFd> wake_;  // set first in Init: Shutdown() needs it
  std::optional<WakeupFd> committed_;  // readable when the Committer finished a batch

  std::unique_ptr<ResultStore> writer_;  // the Run thread's
  std::unique_ptr<ResultStore> reader_;  // gRPC threads'

  std::optional<LeaseSigner> lease_signer_;  // sink.lease_secret_file
  zmq::context_t context_;
  zmq::socket_t router_;  // owned by the thread in Run
  std::string ack_buffer_;

  metrics::Registry registry_;
  metrics::Counter* results_total_ = nullptr;
  metrics::Counter* duplicates_total_ = nullptr;
  metrics::Counter* commit_errors_total_ = nullptr;
  metrics::Histogram* commit_seconds_ = nullptr;
  metrics::Histogram* batch_size_ = nullptr;
  RateLimiter peer_log_;
  // With CURVE: admits only authorized worker keys; stopped after router_ closes.
  std::unique_ptr<ZapAuthenticator> zap_;
  std::unique_ptr<RouterInbox> inbox_;  // the Run thread's

  std::unique_ptr<SinkServiceImpl> service_;
  std::unique_ptr<GrpcServer> grpc_server_;
  HttpServer http_;
  std::atomic<bool> ready_{false};

  mutable Mutex latency_mu_;
  std::vector<double> latency_ BTRQ_GUARDED_BY(latency_mu_);
  size_t latency_next_ BTRQ_GUARDED_BY(latency_mu_) = 0;
  size_t latency_count_ BTRQ_GUARDED_BY(latency_mu_) = 0;
};

Status Sink::Impl::Init() {
  if (options_.commit_max_batch == 0) {
    return Status::InvalidArgument("sink.commit_max_batch must be positive");
  }
  if (options_.max_message_bytes <= 0) {
    return Status::InvalidArgument("sink.max_message_bytes must be positive");
  }
  BTRQ_RETURN_IF_ERROR(CheckSinkListeners(options_, curve_));
  if (!options_.lease_secret_file.empty()) {
    BTRQ_ASSIGN_OR_RETURN(lease_signer_, LeaseSigner::FromFile(options_.lease_secret_file,
                                                               "sink.lease_secret_file"));
  }

  BTRQ_ASSIGN_OR_RETURN(WakeupFd wake, WakeupFd::Create());
  wake_.emplace(std::move(wake));
  BTRQ_ASSIGN_OR_RETURN(WakeupFd committed, WakeupFd::Create());
  committed_.emplace(std::move(committed));

  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) {
    return Status::IoError("creating sink.data_dir " + options_.data_dir + ": " + ec.message());
  }
  ResultStoreOptions store_options;
  store_options.path = ResultStorePath(options_.data_dir);
  BTRQ_ASSIGN_OR_RETURN(writer_, ResultStore::Open(store_options, clock_));
  store_options.read_only = true;
  BTRQ_ASSIGN_OR_RETURN(reader_, ResultStore::Open(store_options, clock_));

  BTRQ_RETURN_IF_ERROR(InitMetrics());

  SocketOptions socket_options;
  socket_options.linger_ms = kLingerMs;
  // Frames larger than this cost the peer its connection; frames between
  // max_message_bytes and this are received and counted as too_large.
  socket_options.max_msg_size = options_.max_message_bytes * 2;
  if (curve_.enabled) {
    BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, CurveKeyPairFrom(curve_));
    socket_options.curve_server = CurveServerKeys{std::move(pair.secret_key)};
    // Before the ROUTER exists: libzmq admits every CURVE client while no handler is bound.
    BTRQ_ASSIGN_OR_RETURN(ZapOptions zap, ZapOptionsFrom(curve_));
    zap.metrics = &registry_;
    zap.clock = clock_;
    spdlog::info("btrq-sink: CurveZMQ on, {} authorized worker keys from {}",
                 zap.authorized_keys.size(), curve_.authorized_keys_file);
    BTRQ_ASSIGN_OR_RETURN(zap_, ZapAuthenticator::Start(context_, std::move(zap)));
  }
  RouterInboxOptions inbox;
  inbox.log_prefix = "btrq-sink";
  inbox.reasons = {"wrong_type", "envelope", "bad_lease_token"};
  inbox.limits.max_frame_bytes = static_cast<size_t>(options_.max_message_bytes);
  BTRQ_ASSIGN_OR_RETURN(inbox_, RouterInbox::Create(inbox, &registry_, &peer_log_, zap_.get()));
  BTRQ_ASSIGN_OR_RETURN(router_,
                        MakeSocket(context_, zmq::socket_type::router, socket_options));
  auto bound = BindListen(router_, options_.listen);
  if (!bound.ok()) return bound.status().WithContext("binding sink.listen");
  results_endpoint_ = *bound;

  BTRQ_RETURN_IF_ERROR(StartGrpc());
  BTRQ_RETURN_IF_ERROR(StartHttp());
  return Status::OK();
}

Status Sink::Impl::InitMetrics() {
  BTRQ_ASSIGN_OR_RETURN(results_total_,
                        registry_.AddCounter("btrq_sink_results_total",
                                             "Results stored (first per task key)."));
  BTRQ_ASSIGN_OR_RETURN(duplicates_total_,
                        registry_.AddCounter("btrq_sink_duplicates_total",
                                             "Results dropped because their key was stored."));
  BTRQ_ASSIGN_OR_RETURN(commit_errors_total_,
                        registry_.AddCounter("btrq_sink_commit_errors_total",
                                             "Group commits that failed (nothing ACKed)."));
  BTRQ_ASSIGN_OR_RETURN(commit_seconds_,
                        registry_.AddHistogram("btrq_sink_commit_seconds",
                                               "Duration of one durable group commit.",
                                               metrics::ExponentialBuckets(0.0001, 2, 16)));
  BTRQ_ASSIGN_OR_RETURN(batch_size_,
                        registry_.AddHistogram("btrq_sink_batch_size",
                                               "Results per group commit.",
                                               metrics::ExponentialBuckets(1, 2, 14)));
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackGauge(
      "btrq_build_info", "The sink's build.", {{"version", BTRQ_SINK_VERSION}},
      [] { return 1.0; }));
  BTRQ_RETURN_IF_ERROR(registry_.AddCallbackGauge(
      "btrq_sink_ready", "1 while the sink serves results.", {},
      [this] { return ready_.load() ? 1.0 : 0.0; }));
  return Status::OK();
}

Status Sink::Impl::StartGrpc() {
  BTRQ_ASSIGN_OR_RETURN(std::string token,
                        ResolveSecret(options_.control_token, options_.control_token_file,
                                      "sink.control_token_file"));
  SinkServiceOptions service_options;
  service_options.token = std::move(token);
  service_ = std::make_unique<SinkServiceImpl>(service_options, reader_.get(),
                                               [this] { return Latency(); });
  BTRQ_ASSIGN_OR_RETURN(
      grpc_server_,
      GrpcServer::Start(ControlServerOptions("sink", options_.control_listen, options_.tls_cert,
                                             options_.tls_key),
                        {service_.get()}));
  control_endpoint_ = grpc_server_->endpoint();
  return Status::OK();
}

Status Sink::Impl::StartHttp() {
  return http_.Start(
      {options_.http_listen, "sink.http_listen", [this] { return registry_.Render(); }, &ready_});
}

void Sink::Impl::StopServers() {
  ready_ = false;
  grpc_server_.reset();  // GrpcServer's destructor shuts it down
  http_.Stop();
  if (router_) router_.close();
  if (zap_) zap_->Stop();
  service_.reset();
  reader_.reset();
  writer_.reset();
}

// Runs group commits on its own thread, one batch at a time, so that the Run thread
// receives and decodes the next batch while one commits. The Run thread owns the socket
// and sends the ACKs once it has taken the committed batch back.
class Sink::Impl::Committer {
 public:
  Committer(ResultStore* store, const WakeupFd* done, Clock* clock)
      : store_(store), done_(done), clock_(clock), thread_([this] { Loop(); }) {}
  ~Committer() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // True from Start until the committed batch is taken back. Run thread only.
  bool busy() const { return busy_; }

  // Hands `batch` over and leaves it empty. Requires !busy().
  void Start(Batch* batch) {
    busy_ = true;
    {
      MutexLock lock(&mu_);
      std::swap(work_.batch, *batch);
      has_work_ = true;
    }
    cv_.SignalAll();
    batch->Clear();
  }

  // The committed batch, once `done` was notified; nullopt while it still commits.
  // With wait, blocks until it is committed. Requires busy().
  std::optional<Committed> Take(bool wait) {
    MutexLock lock(&mu_);
    while (wait && !finished_) cv_.Wait(&mu_);
    if (!finished_) return std::nullopt;
    finished_ = false;
    busy_ = false;
    return std::move(work_);
  }

 private:
  void Loop() {
    MutexLock lock(&mu_);
    while (true) {
      while (!has_work_ && !stop_) cv_.Wait(&mu_);
      if (!has_work_) return;  // stopping, nothing to commit
      has_work_ = false;
      // work_ is this thread's until finished_ is set: the Run thread only Takes then.
      Committed& work = work_;
      mu_.Unlock();
      const SteadyTime start = clock_->Now();
      work.outcomes = store_->PutBatch(work.batch.results);
      work.seconds = std::chrono::duration<double>(clock_->Now() - start).count();
      mu_.Lock();
      finished_ = true;
      cv_.SignalAll();
      done_->Notify();
    }
  }

  ResultStore* const store_;
  const WakeupFd* const done_;
  Clock* const clock_;
  bool busy_ = false;  // Run thread's
  Mutex mu_;
  CondVar cv_;
  Committed work_;  // guarded by mu_ except while the commit thread commits it
  bool has_work_ BTRQ_GUARDED_BY(mu_) = false;
  bool finished_ BTRQ_GUARDED_BY(mu_) = false;
  bool stop_ BTRQ_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

Status Sink::Impl::Run() {
  if (!writer_) return Status::FailedPrecondition("the sink has already run");
  Status status = Serve();
  StopServers();
  if (status.ok()) spdlog::info("btrq-sink: stopped");
  return status;
}

Status Sink::Impl::Serve() {
  Batch batch;  // filling while the committer commits the one before
  Committer committer(writer_.get(), &*committed_, clock_);
  ready_ = true;
  spdlog::info("{}", SinkReadyLine(results_endpoint_, control_endpoint_,
                                   http_.endpoint().empty() ? "off" : http_.endpoint()));
  Status status;
  bool stopping = false;
  while (!stopping && status.ok()) {
    long timeout_ms = -1;
    if (batch.deadline && !committer.busy()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*batch.deadline -
                                                                     clock_->Now());
      timeout_ms = std::max<long>(0, static_cast<long>(left.count()));
    }
    Poller poller;
    // A full batch waits for the committer; the workers' messages wait in the socket.
    const bool room = batch.results.size() < options_.commit_max_batch;
    const size_t socket_item = room ? poller.AddSocket(router_) : SIZE_MAX;
    const size_t wake_item = poller.AddFd(wake_->fd());
    const size_t committed_item = poller.AddFd(committed_->fd());
    if (auto polled = poller.Poll(std::chrono::milliseconds(timeout_ms)); !polled.ok()) {
      status = polled.status().WithContext("polling the results socket");
      break;
    }
    if (poller.Readable(wake_item)) stopping = true;
    if (poller.Readable(committed_item)) {
      committed_->Drain();
      if (committer.busy()) {
        if (auto done = committer.Take(false)) Acknowledge(&*done);
      }
    }
    if (!stopping && room && poller.Readable(socket_item)) status = ReceiveAvailable(&batch);
    const bool due = batch.deadline && clock_->Now() >= *batch.deadline;
    if (!batch.results.empty() && !committer.busy() &&
        (due || batch.results.size() >= options_.commit_max_batch)) {
      committer.Start(&batch);
    } else if (batch.results.empty()) {
      batch.Clear();  // only bad or empty messages arrived: nothing to wait for
    }
  }
  // Stopping: the batch committing now, then the one gathered, are committed and ACKed.
  while (committer.busy() || !batch.results.empty()) {
    if (!committer.busy()) committer.Start(&batch);
    std::optional<Committed> done = committer.Take(true);
    Acknowledge(&*done);
  }
  return status;
}

Status Sink::Impl::ReceiveAvailable(Batch* batch) {
  RouterMessage in;
  while (batch->results.size() < options_.commit_max_batch) {
    Result<bool> received = inbox_->Receive(router_, &in);
    if (!received.ok()) return received.status().WithContext("receiving results");
    if (!*received) return Status::OK();
    // A revoked key's results are not stored (the broker hands their tasks to another
    // worker); the inbox counted and logged every dropped message.
    if (in.message) HandleMessage(&in, batch);
  }
  return Status::OK();
}

void Sink::Impl::HandleMessage(RouterMessage* in, Batch* batch) {
  const std::string_view identity = in->identity();
  auto* msg = std::get_if<ResultMsg>(&*in->message);
  if (msg == nullptr) {
    CountBad("wrong_type", identity,
             "a " + std::string(MessageTypeName(TypeOf(*in->message))) + " frame");
    return;
  }
  auto [it, inserted] = batch->peer_index.try_emplace(std::string(identity), 0);
  if (inserted) {
    it->second = batch->envelopes.size();
    batch->envelopes.push_back(in->Envelope());
  }
  const size_t peer = it->second;
  bool bad_key = false;
  for (TaskResult& r : msg->results) {
    if (r.task.key.job == 0) {
      bad_key = true;
      continue;
    }
    if (!LeaseTokenValid(r, identity)) continue;
    batch->results.push_back(std::move(r));
    batch->peer_of.push_back(peer);
  }
  if (bad_key) CountBad("bad_field", identity, "result for job 0");
  if (!batch->deadline && !batch->results.empty()) {
    batch->deadline = clock_->Now() + Nanos(options_.commit_interval);
  }
}

bool Sink::Impl::LeaseTokenValid(const TaskResult& r, std::string_view identity) {
  if (!lease_signer_ || lease_signer_->VerifyToken(r.task, r.worker_id, r.lease_token)) {
    return true;
  }
  // Not stored and not ACKed: only the broker's lease makes a result this task's.
  CountBad("bad_lease_token", identity,
           "result for job=" + std::to_string(r.task.key.job) + " task=" +
               r.task.key.ToString() + " attempt=" + std::to_string(r.task.attempt) +
               " worker=" + r.worker_id +
               (r.lease_token.empty() ? " without a lease token" : " with a wrong lease token"));
  return false;
}

void Sink::Impl::Acknowledge(Committed* committed) {
  Batch* batch = &committed->batch;
  const auto& outcomes = committed->outcomes;
  if (!outcomes.ok()) {
    // Nothing is ACKed: the workers resend after their timeout, by which time the disk
    // may have room again.
    commit_errors_total_->Inc();
    LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "commit", spdlog::level::err,
                   "btrq-sink: commit of {} results failed, not acknowledged: {}",
                   batch->results.size(), outcomes.status().ToString());
    return;
  }
  commit_seconds_->Observe(committed->seconds);
  batch_size_->Observe(static_cast<double>(batch->results.size()));
  RecordLatency(committed->seconds);
  size_t stored = 0;
  for (PutOutcome o : *outcomes) stored += o == PutOutcome::kStored ? 1 : 0;
  results_total_->Inc(static_cast<double>(stored));
  duplicates_total_->Inc(static_cast<double>(outcomes->size() - stored));

  // A result for each key is stored now (this one or an earlier attempt's): the receipt
  // says so to the broker, through the worker's DONE.
  std::vector<AckMsg> acks(batch->envelopes.size());
  for (size_t i = 0; i < batch->results.size(); ++i) {
    const TaskResult& r = batch->results[i];
    AckMsg& ack = acks[batch->peer_of[i]];
    ack.keys.push_back(r.task.key);
    if (lease_signer_) {
      ack.receipts.push_back({r.task.attempt, lease_signer_->Receipt(r.task, r.worker_id)});
    }
  }
  for (size_t p = 0; p < acks.size(); ++p) SendAck(batch->envelopes[p], std::move(acks[p]));
}

void Sink::Impl::SendAck(const std::vector<std::string>& envelope, AckMsg all) {
  const auto slice = [](auto& v, size_t begin, size_t end) {
    return std::remove_reference_t<decltype(v)>(
        std::make_move_iterator(v.begin() + static_cast<ptrdiff_t>(begin)),
        std::make_move_iterator(v.begin() + static_cast<ptrdiff_t>(end)));
  };
  const std::vector<TaskKey>& keys = all.keys;
  for (size_t begin = 0; begin < keys.size(); begin += kMaxKeysPerAck) {
    const size_t end = std::min(keys.size(), begin + kMaxKeysPerAck);
    AckMsg ack;
    ack.keys = slice(all.keys, begin, end);
    if (!all.receipts.empty()) ack.receipts = slice(all.receipts, begin, end);
    EncodeMessage(Message(std::move(ack)), &ack_buffer_);
    std::vector<std::string_view> frames(envelope.begin(), envelope.end());
    frames.push_back(ack_buffer_);
    // A peer that went away or whose queue is full loses the ACK; it resends the result
    // and gets a duplicate's ACK then.
    if (Status sent = SendMultipart(router_, frames); !sent.ok()) {
      LogRateLimited(spdlog::default_logger_raw(), &peer_log_, "ack", spdlog::level::warn,
                     "btrq-sink: sending an ACK failed: {}", sent.ToString());
    }
  }
}

void Sink::Impl::RecordLatency(double seconds) {
  MutexLock lock(&latency_mu_);
  latency_[latency_next_] = seconds;
  latency_next_ = (latency_next_ + 1) % latency_.size();
  latency_count_ = std::min(latency_count_ + 1, latency_.size());
}

CommitLatency Sink::Impl::Latency() const {
  std::vector<double> recent;
  {
    MutexLock lock(&latency_mu_);
    recent.assign(latency_.begin(), latency_.begin() + static_cast<ptrdiff_t>(latency_count_));
  }
  CommitLatency out;
  if (recent.empty()) return out;
  const auto quantile = [&recent](double q) {
    const size_t i = std::min(recent.size() - 1, static_cast<size_t>(q * recent.size()));
    std::nth_element(recent.begin(), recent.begin() + static_cast<ptrdiff_t>(i), recent.end());
    return recent[i];
  };
  out.p50 = quantile(0.5);
  out.p99 = quantile(0.99);
  return out;
}

Result<std::unique_ptr<Sink>> Sink::Create(const SinkOptions& options, Clock* clock,
                                           const CurveOptions& curve) {
  auto impl = std::make_unique<Impl>(options, curve, clock);
  BTRQ_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Sink>(new Sink(std::move(impl)));
}

Sink::Sink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sink::~Sink() = default;

Status Sink::Run() { return impl_->Run(); }
void Sink::Shutdown() { impl_->Shutdown(); }
const std::string& Sink::results_endpoint() const { return impl_->results_endpoint_; }
const std::string& Sink::control_endpoint() const { return impl_->control_endpoint_; }
const std::string& Sink::http_endpoint() const { return impl_->http_endpoint(); }

}  // namespace btrq::sink
