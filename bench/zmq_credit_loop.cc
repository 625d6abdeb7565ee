// bench-zmq-credit-loop: the ceiling of the dispatch benchmark. A bare ZeroMQ ROUTER
// (the "broker") and D DEALERs (the "workers", each in its own thread with its own
// context, i.e. its own I/O thread, as separate processes would have) on 127.0.0.1 TCP.
// Each DEALER announces a credit of C; the ROUTER sends one task frame per credit unit
// and the DEALER answers each with one done frame, which returns that unit of credit.
// No codec, no journal, no sink: just the message loop at the same credit.
//
//   bench-zmq-credit-loop [--tasks N] [--credit C] [--dealers D] [--payload BYTES]
//
// Prints the machine, the parameters and one JSON line:
//   {"tasks":..,"seconds":..,"tasks_per_second":..,"router_cpu_seconds_per_1000":..,
//    "p50_us":..,"p99_us":..}
// Latency is from the ROUTER's send of a task to its receipt of the done frame.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "bench/bench_util.h"

namespace btrq::bench {
namespace {

constexpr char kCredit = 'C';
constexpr char kTask = 'T';
constexpr char kDone = 'D';
constexpr char kStop = 'X';

void RunDealer(const std::string& endpoint, int index, uint32_t credit) {
  zmq::context_t context(1);
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  const std::string id = "dealer-" + std::to_string(index);
  dealer.set(zmq::sockopt::routing_id, id);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  char hello[5] = {kCredit};
  std::memcpy(hello + 1, &credit, sizeof credit);
  dealer.send(zmq::buffer(hello, sizeof hello));
  zmq::message_t msg;
  while (true) {
    if (!dealer.recv(msg)) continue;
    if (msg.size() == 0 || msg.data<char>()[0] == kStop) break;
    // The done frame: the task's bytes with the type changed, timestamp echoed.
    msg.data<char>()[0] = kDone;
    dealer.send(msg, zmq::send_flags::none);
  }
}

struct Flags {
  int64_t tasks = 1'000'000;
  uint32_t credit = 64;
  int dealers = 1;
  size_t payload = 128;
};

// What the ROUTER measured, from the first send after every dealer said hello.
struct Figures {
  double seconds = 0;
  double cpu = 0;
  std::vector<int64_t> latencies;
};

// The ROUTER's loop: receives credit and done frames, sends tasks up to each dealer's
// credit, round-robin, until `flags.tasks` are done. Returns the dealers' routing ids.
std::vector<std::string> RunRouter(zmq::socket_t& router, const Flags& flags, Figures* out) {
  std::unordered_map<std::string, uint32_t> credit_of;
  std::vector<std::string> ids;
  out->latencies.reserve(static_cast<size_t>(flags.tasks));
  std::string frame(flags.payload, '\0');
  frame[0] = kTask;
  int64_t sent = 0, done = 0;
  int64_t t_first = 0;
  double cpu_first = 0;
  zmq::message_t id_msg, body;
  size_t rotation = 0;
  while (done < flags.tasks) {
    // Receive everything waiting (block when nothing can be sent).
    bool can_send = false;
    for (const auto& [id, c] : credit_of) can_send |= c > 0;
    can_send &= sent < flags.tasks;
    zmq::recv_flags recv_flags = can_send ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
    while (router.recv(id_msg, recv_flags)) {
      if (!router.recv(body)) continue;
      const char type = body.size() > 0 ? body.data<char>()[0] : 0;
      std::string id = id_msg.to_string();
      if (type == kCredit && body.size() >= 5) {
        uint32_t c = 0;
        std::memcpy(&c, body.data<char>() + 1, sizeof c);
        if (credit_of.emplace(id, c).second) ids.push_back(id);
      } else if (type == kDone && body.size() >= 9) {
        int64_t t0 = 0;
        std::memcpy(&t0, body.data<char>() + 1, sizeof t0);
        out->latencies.push_back(MonotonicNanos() - t0);
        ++done;
        ++credit_of[id];
      }
      recv_flags = zmq::recv_flags::dontwait;
    }
    if (static_cast<int>(ids.size()) < flags.dealers) continue;  // wait for every dealer
    if (t_first == 0) {
      t_first = MonotonicNanos();
      cpu_first = ThreadCpuSeconds();
    }
    // Send up to each dealer's credit, round-robin.
    for (size_t k = 0; k < ids.size() && sent < flags.tasks; ++k) {
      const std::string& id = ids[(rotation + k) % ids.size()];
      uint32_t& c = credit_of[id];
      while (c > 0 && sent < flags.tasks) {
        const int64_t now = MonotonicNanos();
        std::memcpy(frame.data() + 1, &now, sizeof now);
        router.send(zmq::buffer(id), zmq::send_flags::sndmore);
        router.send(zmq::buffer(frame), zmq::send_flags::none);
        --c;
        ++sent;
      }
    }
    ++rotation;
  }
  out->seconds = static_cast<double>(MonotonicNanos() - t_first) * 1e-9;
  out->cpu = ThreadCpuSeconds() - cpu_first;
  return ids;
}

int Run(Flags flags) {
  if (flags.payload < 9) flags.payload = 9;
  std::printf("machine: %s\n", MachineLine().c_str());
  std::printf("bare ROUTER/DEALER credit loop: %lld tasks, credit %u per dealer, %d dealers, "
              "%zu-byte frames, tcp 127.0.0.1\n",
              static_cast<long long>(flags.tasks), flags.credit, flags.dealers, flags.payload);

  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::router_mandatory, 1);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 0);
  router.set(zmq::sockopt::rcvhwm, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);

  std::vector<std::thread> threads;
  for (int d = 0; d < flags.dealers; ++d) {
    threads.emplace_back(RunDealer, endpoint, d, flags.credit);
  }
  Figures f;
  for (const std::string& id : RunRouter(router, flags, &f)) {
    const char stop = kStop;
    router.send(zmq::buffer(id), zmq::send_flags::sndmore);
    router.send(zmq::buffer(&stop, 1), zmq::send_flags::none);
  }
  for (auto& t : threads) t.join();

  const int64_t p50 = Quantile(&f.latencies, 0.50);
  const int64_t p99 = Quantile(&f.latencies, 0.99);
  const double tasks = static_cast<double>(flags.tasks);
  std::printf("{\"tasks\":%lld,\"credit\":%u,\"dealers\":%d,\"seconds\":%.4f,"
              "\"tasks_per_second\":%.0f,\"router_cpu_seconds_per_1000\":%.6f,"
              "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
              static_cast<long long>(flags.tasks), flags.credit, flags.dealers, f.seconds,
              tasks / f.seconds, f.cpu * 1000.0 / tasks, static_cast<double>(p50) / 1e3,
              static_cast<double>(p99) / 1e3);
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"bare ZeroMQ ROUTER/DEALER credit loop: the dispatch ceiling"};
  app.add_option("--tasks", flags.tasks, "tasks to dispatch")->capture_default_str();
  app.add_option("--credit", flags.credit, "credit per dealer")->capture_default_str();
  app.add_option("--dealers", flags.dealers, "dealer threads")->capture_default_str();
  app.add_option("--payload", flags.payload, "task frame bytes (at least 9)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return Run(flags);
}

}  // namespace
}  // namespace btrq::bench

int main(int argc, char** argv) { return btrq::bench::Main(argc, argv); }
