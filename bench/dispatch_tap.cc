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
#include <vector>

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

int Main(int argc, char** argv) {
  std::string broker;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--broker") broker = argv[i + 1];
  }
  if (broker.empty()) {
    std::fprintf(stderr, "usage: bench-dispatch-tap --broker tcp://HOST:PORT\n");
    return 64;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  zmq::context_t context(1);
  zmq::socket_t front(context, zmq::socket_type::router);
  front.set(zmq::sockopt::linger, 0);
  front.set(zmq::sockopt::sndhwm, 0);
  front.set(zmq::sockopt::rcvhwm, 0);
  front.set(zmq::sockopt::router_handover, 1);
  front.bind("tcp://127.0.0.1:*");
  std::printf("tap: ready on %s\n", front.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);

  struct Backend {
    std::string identity;
    zmq::socket_t socket;
  };
  std::vector<std::unique_ptr<Backend>> backends;
  std::unordered_map<std::string, Backend*> by_identity;
  std::vector<zmq::pollitem_t> items;
  auto rebuild = [&] {
    items.clear();
    items.push_back({front.handle(), 0, ZMQ_POLLIN, 0});
    for (auto& b : backends) items.push_back({b->socket.handle(), 0, ZMQ_POLLIN, 0});
  };
  rebuild();

  std::unordered_map<TaskRef, int64_t, RefHash> sent_at;
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 20);
  zmq::message_t id_msg, body;
  while (!g_stop) {
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    if (items[0].revents & ZMQ_POLLIN) {
      while (front.recv(id_msg, zmq::recv_flags::dontwait)) {
        if (!front.recv(body)) break;
        std::string identity = id_msg.to_string();
        auto it = by_identity.find(identity);
        if (it == by_identity.end()) {
          auto b = std::make_unique<Backend>(
              Backend{identity, zmq::socket_t(context, zmq::socket_type::dealer)});
          b->socket.set(zmq::sockopt::routing_id, identity);
          b->socket.set(zmq::sockopt::linger, 0);
          b->socket.set(zmq::sockopt::sndhwm, 0);
          b->socket.set(zmq::sockopt::rcvhwm, 0);
          b->socket.connect(broker);
          it = by_identity.emplace(identity, b.get()).first;
          backends.push_back(std::move(b));
          rebuild();
        }
        const std::string_view view(body.data<char>(), body.size());
        if (Result<Message> m = DecodeMessage(view); m.ok()) {
          if (const auto* done = std::get_if<DoneMsg>(&*m)) {
            const int64_t now = MonotonicNanos();
            for (const DoneItem& item : done->items) {
              auto s = sent_at.find(item.task);
              if (s == sent_at.end()) continue;
              latencies.push_back(now - s->second);
              sent_at.erase(s);
            }
          }
        }
        it->second->socket.send(body, zmq::send_flags::none);
      }
    }
    for (size_t i = 1; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      Backend* b = backends[i - 1].get();
      while (b->socket.recv(body, zmq::recv_flags::dontwait)) {
        const std::string_view view(body.data<char>(), body.size());
        if (Result<Message> m = DecodeMessage(view); m.ok()) {
          if (const auto* task = std::get_if<TaskMsg>(&*m)) {
            const int64_t now = MonotonicNanos();
            for (const TaskSpec& t : task->tasks) sent_at[TaskRef{t.key, t.attempt}] = now;
          }
        }
        front.send(zmq::buffer(b->identity), zmq::send_flags::sndmore);
        front.send(body, zmq::send_flags::none);
      }
    }
  }
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
