// libFuzzer target for the worker's handling of what its broker and sink send: a real
// Worker (one executor thread, the built-in analytics plus "echo", which reads nothing,
// over a fake source provider whose reads return no points) connected to a fake broker
// ROUTER and a fake sink ROUTER owned by the fuzzer. Each input is a few frames
// (fuzz_harness.h) sent from those ROUTERs to the worker (sender 0 = broker, 1 = sink):
// TASK (+ ACK of its key), CANCEL, DRAIN, REJECT, frames of the wrong type, malformed
// ones. The harness plays the sink as far as acknowledging every RESULT it drains, so
// DONEs flow. After each input the broker sends BROKER_HEARTBEAT + REJECT "unknown
// worker" and the worker must say HELLO again within kLiveness. A worker whose Run
// returned (DRAIN, or a REJECT for another reason: fatal by design) is replaced by a
// fresh one. Beyond "no crash, leak or UB": the worker keeps answering.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "btrdb/client.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/options.h"
#include "fuzz/fuzz_harness.h"
#include "analytics/registry.h"
#include "worker/btrdb_source.h"
#include "worker/worker.h"

namespace btrq {
namespace {

constexpr char kWho[] = "worker_fuzzer";
constexpr char kWorkerId[] = "fuzz-worker";
constexpr auto kLiveness = std::chrono::seconds(5);

// A source with no points at any version.
class EmptySource final : public worker::TaskSource {
 public:
  explicit EmptySource(uint64_t version) : version_(version) {}
  Status ReadRaw(int64_t, int64_t, uint64_t, const analytics::RawSink&) override {
    return Status::OK();
  }
  Status ReadAligned(int64_t, int64_t, uint64_t, uint8_t, const analytics::StatSink&) override {
    return Status::OK();
  }
  Status ReadWindows(int64_t, int64_t, uint64_t, uint64_t, const analytics::StatSink&) override {
    return Status::OK();
  }
  uint64_t version_read() const override { return version_; }

 private:
  uint64_t version_;
};

class EmptySourceProvider final : public worker::SourceProvider {
 public:
  std::unique_ptr<worker::TaskSource> Open(const TaskSpec& task,
                                           const std::atomic<bool>*) override {
    return std::make_unique<EmptySource>(task.version);
  }
};

// Returns one field without reading.
class EchoAnalytic final : public analytics::Analytic {
 public:
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource&,
                     analytics::RunCounters*) const override {
    return Fields{{"start", task.key.start}};
  }
};

class WorkerHarness {
 public:
  WorkerHarness() {
    fuzz::CheckOk(kWho, analytics::RegisterBuiltins(&registry_));
    fuzz::CheckOk(kWho, registry_.Register("echo", [](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<EchoAnalytic>());
    }));
    broker_ = Router();
    sink_ = Router();
    config_.worker.broker = fuzz::CheckOk(kWho, Bind(broker_, "tcp://127.0.0.1:*"));
    config_.worker.sink = fuzz::CheckOk(kWho, Bind(sink_, "tcp://127.0.0.1:*"));
    config_.worker.threads = 1;
    config_.worker.heartbeat_interval = 1'000'000'000;
    config_.liveness = 30;
    config_.drain_timeout = 200'000'000;
    config_.resend_initial = 200'000'000;
    config_.resend_max = 400'000'000;
    config_.worker_id = kWorkerId;
    config_.max_message_bytes = 64 * 1024;
    probe_heartbeat_ = EncodeMessage(Message(BrokerHeartbeatMsg{}));
    probe_reject_ = EncodeMessage(Message(RejectMsg{"unknown worker"}));
    StartWorker();
  }

  void RunOne(const uint8_t* data, size_t size) {
    for (const fuzz::Piece& p : fuzz::SplitInput(data, size)) {
      zmq::socket_t& s = p.sender == 0 ? broker_ : sink_;
      // The ROUTER names the worker's connection; a peer not heard from yet (the sink's,
      // before a first RESULT) cannot be sent to.
      const std::string& peer = p.sender == 0 ? broker_peer_ : sink_peer_;
      if (peer.empty()) continue;
      if (p.delimiter) {
        fuzz::SendFrames(s, {peer, std::string_view(), p.body});
      } else {
        fuzz::SendFrames(s, {peer, p.body});
      }
    }
    CheckAlive();
  }

 private:
  zmq::socket_t Router() {
    SocketOptions o;
    o.linger_ms = 0;
    o.router_mandatory = true;
    o.sndhwm = 0;
    zmq::socket_t s = fuzz::CheckOk(kWho, MakeSocket(context_, zmq::socket_type::router, o));
    s.set(zmq::sockopt::router_handover, 1);
    return s;
  }

  void StartWorker() {
    worker::WorkerDeps deps;
    deps.registry = &registry_;
    deps.sources = [] { return std::make_unique<EmptySourceProvider>(); };
    broker_peer_.clear();
    sink_peer_.clear();
    worker_ = fuzz::CheckOk(kWho, worker::Worker::Create(config_, SystemClock::Default(), deps));
    run_ = std::async(std::launch::async, [w = worker_.get()] { return w->Run(); });
    if (!AwaitHello()) fuzz::Die(kWho, "a new worker did not say HELLO within 5 s");
  }

  // Replaces a worker whose Run returned (DRAIN, a fatal REJECT).
  void RestartWorker() {
    // The fuzz input ended that run on purpose (a fatal REJECT fails it): its status is
    // no finding.
    run_.get().IgnoreError();
    worker_.reset();
    StartWorker();
  }

  bool Exited() {
    return run_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

  // Serves the worker as broker and sink until it says HELLO; false after kLiveness or
  // when its Run returned.
  bool AwaitHello() {
    const auto deadline = std::chrono::steady_clock::now() + kLiveness;
    std::vector<zmq::message_t> frames;
    while (std::chrono::steady_clock::now() < deadline) {
      while (fuzz::Receive(sink_, std::chrono::milliseconds(0), &frames)) AckResults(frames);
      if (!fuzz::Receive(broker_, std::chrono::milliseconds(5), &frames)) {
        if (Exited()) return false;
        continue;
      }
      broker_peer_ = frames.front().to_string();
      Result<Message> m = DecodeMessage(fuzz::Body(frames));
      if (!m.ok()) fuzz::Die(kWho, "the worker sent the broker a bad frame");
      if (std::holds_alternative<HelloMsg>(*m)) return true;
    }
    return false;
  }

  // Acknowledges a RESULT as a sink would, so the worker reports DONE.
  void AckResults(const std::vector<zmq::message_t>& frames) {
    sink_peer_ = frames.front().to_string();
    Result<Message> m = DecodeMessage(fuzz::Body(frames));
    if (!m.ok()) fuzz::Die(kWho, "the worker sent the sink a bad frame");
    const auto* result = std::get_if<ResultMsg>(&*m);
    if (result == nullptr) fuzz::Die(kWho, "the worker sent the sink something but RESULT");
    AckMsg ack;
    for (const TaskResult& r : result->results) ack.keys.push_back(r.task.key);
    const std::string frame = EncodeMessage(Message(ack));
    fuzz::SendFrames(sink_, {sink_peer_, frame});
  }

  void CheckAlive() {
    if (!Exited()) {
      fuzz::SendFrames(broker_, {broker_peer_, probe_heartbeat_});
      fuzz::SendFrames(broker_, {broker_peer_, probe_reject_});
      if (AwaitHello()) return;
      if (!Exited()) fuzz::Die(kWho, "the worker did not answer REJECT with HELLO within 5 s");
    }
    RestartWorker();
  }

  analytics::Registry registry_;
  worker::WorkerConfig config_;
  zmq::context_t context_;
  zmq::socket_t broker_;
  zmq::socket_t sink_;
  std::unique_ptr<worker::Worker> worker_;
  std::future<Status> run_;
  std::string probe_heartbeat_;
  std::string probe_reject_;
  // The routing ids the ROUTERs gave the worker's connections, from its last frames.
  std::string broker_peer_;
  std::string sink_peer_;
};

}  // namespace
}  // namespace btrq

BTRQ_FUZZ_ENTRY_POINTS(WorkerHarness)
