// bench-dispatch-tap: measures the time from dispatch to DONE without touching the
// broker. A transparent ZeroMQ relay between workers and the broker: workers connect to
// the tap's ROUTER; for each worker identity the tap opens a DEALER with the same routing
// id to the broker and relays every frame both ways unchanged. It decodes TASK frames
// (broker -> worker) to note when each task key passed, and DONE frames (worker ->
// broker) to take the difference. The relay adds one hop each way, which is included in
// the figures (and costs CPU on a small machine): bench/run uses it in a separate pass.
//
//   bench-dispatch-tap --broker tcp://HOST:PORT
//
// Prints "tap: ready on tcp://127.0.0.1:PORT" once bound; on SIGTERM/SIGINT prints one
// JSON line {"timed":N,"p50_us":..,"p90_us":..,"p99_us":..,"max_us":..} and exits 0.

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "bench/bench_util.h"
#include "common/codec.h"
#include "common/ids.h"
#include "common/messages.h"

namespace btrq::bench {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct RefHash {
  size_t operator()(const TaskRef& r) const { return TaskKeyHash()(r.key) * 31 + r.attempt; }
};

// The relay. Every socket is used by the one thread that runs Loop().
class Tap {
 public:
  Tap(zmq::context_t* context, std::string broker)
      : context_(context), broker_(std::move(broker)), front_(*context, zmq::socket_type::router) {
    front_.set(zmq::sockopt::linger, 0);
    front_.set(zmq::sockopt::sndhwm, 0);
    front_.set(zmq::sockopt::rcvhwm, 0);
    front_.set(zmq::sockopt::router_handover, 1);
    front_.bind("tcp://127.0.0.1:*");
    latencies_.reserve(1 << 20);
    Rebuild();
  }

  std::string endpoint() const { return front_.get(zmq::sockopt::last_endpoint); }

  // Relays until SIGTERM or SIGINT; returns the dispatch-to-DONE latencies seen.
  std::vector<int64_t> Loop() {
    while (!g_stop) {
      try {
        zmq::poll(items_.data(), items_.size(), std::chrono::milliseconds(100));
      } catch (const zmq::error_t&) {
        continue;  // EINTR
      }
      if (items_[0].revents & ZMQ_POLLIN) FromWorkers();
      for (size_t i = 1; i < items_.size(); ++i) {
        if (items_[i].revents & ZMQ_POLLIN) FromBroker(backends_[i - 1].get());
      }
    }
    return std::move(latencies_);
  }

 private:
  struct Backend {
    std::string identity;
    zmq::socket_t socket;
  };

  void Rebuild() {
    items_.clear();
    items_.push_back({front_.handle(), 0, ZMQ_POLLIN, 0});
    for (auto& b : backends_) items_.push_back({b->socket.handle(), 0, ZMQ_POLLIN, 0});
  }

  // The DEALER that speaks to the broker for the worker `identity`, opened on first use.
  Backend* BackendFor(const std::string& identity) {
    auto it = by_identity_.find(identity);
    if (it != by_identity_.end()) return it->second;
    auto b = std::make_unique<Backend>(
        Backend{identity, zmq::socket_t(*context_, zmq::socket_type::dealer)});
    b->socket.set(zmq::sockopt::routing_id, identity);
    b->socket.set(zmq::sockopt::linger, 0);
    b->socket.set(zmq::sockopt::sndhwm, 0);
    b->socket.set(zmq::sockopt::rcvhwm, 0);
    b->socket.connect(broker_);
    Backend* raw = b.get();
    by_identity_.emplace(identity, raw);
    backends_.push_back(std::move(b));
    Rebuild();
    return raw;
  }

  // Worker -> broker; a DONE closes the timings of its tasks.
  void FromWorkers() {
    while (front_.recv(id_msg_, zmq::recv_flags::dontwait)) {
      if (!front_.recv(body_)) break;
      Backend* backend = BackendFor(id_msg_.to_string());
      const std::string_view view(body_.data<char>(), body_.size());
      if (Result<Message> m = DecodeMessage(view); m.ok()) {
        if (const auto* done = std::get_if<DoneMsg>(&*m)) {
          const int64_t now = MonotonicNanos();
          for (const DoneItem& item : done->items) {
            auto s = sent_at_.find(item.task);
            if (s == sent_at_.end()) continue;
            latencies_.push_back(now - s->second);
            sent_at_.erase(s);
          }
        }
      }
      backend->socket.send(body_, zmq::send_flags::none);
    }
  }

  // Broker -> worker; a TASK starts the timings of its tasks.
  void FromBroker(Backend* b) {
    while (b->socket.recv(body_, zmq::recv_flags::dontwait)) {
      const std::string_view view(body_.data<char>(), body_.size());
      if (Result<Message> m = DecodeMessage(view); m.ok()) {
        if (const auto* task = std::get_if<TaskMsg>(&*m)) {
          const int64_t now = MonotonicNanos();
          for (const TaskSpec& t : task->tasks) sent_at_[TaskRef{t.key, t.attempt}] = now;
        }
      }
      front_.send(zmq::buffer(b->identity), zmq::send_flags::sndmore);
      front_.send(body_, zmq::send_flags::none);
    }
  }

  zmq::context_t* const context_;
  const std::string broker_;
  zmq::socket_t front_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::unordered_map<std::string, Backend*> by_identity_;
  std::vector<zmq::pollitem_t> items_;
  std::unordered_map<TaskRef, int64_t, RefHash> sent_at_;
  std::vector<int64_t> latencies_;
  zmq::message_t id_msg_, body_;
};

int Main(int argc, char** argv) {
  std::string broker;
  CLI::App app{"transparent ZeroMQ relay timing dispatch to DONE"};
  app.add_option("--broker", broker, "the broker's worker endpoint, tcp://HOST:PORT")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  zmq::context_t context(1);
  Tap tap(&context, broker);
  std::printf("tap: ready on %s\n", tap.endpoint().c_str());
  std::fflush(stdout);
  std::vector<int64_t> latencies = tap.Loop();

  const size_t n = latencies.size();
  const int64_t p50 = Quantile(&latencies, 0.50);
  const int64_t p90 = Quantile(&latencies, 0.90);
  const int64_t p99 = Quantile(&latencies, 0.99);
  const int64_t max = latencies.empty() ? 0 : latencies.back();
  std::printf("{\"timed\":%zu,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
              n, p50 / 1e3, p90 / 1e3, p99 / 1e3, max / 1e3);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace btrq::bench

int main(int argc, char** argv) { return btrq::bench::Main(argc, argv); }
