#pragma once

// A stand-in for the broker's or the sink's ROUTER socket, for worker tests: bound on
// 127.0.0.1 (a free port), served by its own thread that records every frame a worker
// sends, answers through a test-supplied responder, and sends what the test queues.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/messages.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/zmq_util.h"

namespace btrq::testing {

struct Received {
  std::string identity;
  Message message;
  std::chrono::steady_clock::time_point at;
};

class FakeRouter;

// A sink's answer to a RESULT frame: an ACK of every key in it (nothing for others).
std::vector<Message> AckAll(const Received& r);

// The value of one sample line (`series` with its labels) of a Prometheus text, or -1.
double MetricValue(const std::string& text, const std::string& series);

// Clears the routers' responders when it goes out of scope. Declare it after the locals
// a responder captures: no frame then reaches them once they are gone (a test's end, or
// a failed ASSERT, comes before TearDown stops the routers).
class ResponderReset {
 public:
  explicit ResponderReset(std::vector<FakeRouter*> routers) : routers_(std::move(routers)) {}
  ~ResponderReset();
  ResponderReset(const ResponderReset&) = delete;
  ResponderReset& operator=(const ResponderReset&) = delete;

 private:
  std::vector<FakeRouter*> routers_;
};

class FakeRouter {
 public:
  static inline const std::string kLastPeer;
  // Answers one decoded message (on the router's thread); what it returns is sent back to
  // the same identity.
  using Responder = std::function<std::vector<Message>(const Received&)>;

  FakeRouter() = default;
  ~FakeRouter();  // Stop()
  FakeRouter(const FakeRouter&) = delete;
  FakeRouter& operator=(const FakeRouter&) = delete;

  // Binds tcp://127.0.0.1:* and starts the thread.
  Status Start();
  void Stop();
  const std::string& endpoint() const { return endpoint_; }

  // Sends BROKER_HEARTBEAT to every identity heard from, every `interval` (0: never).
  void SetAutoHeartbeat(std::chrono::milliseconds interval) { heartbeat_ms_ = interval.count(); }
  void SetResponder(Responder responder) BTRQ_EXCLUDES(mu_);

  // Queues a message (or raw frames, sent as one multipart message) for `identity`;
  // retried until the identity is connected. kLastPeer: the identity heard from last
  // (workers take the routing id the ROUTER gives them, one per connection).
  void Send(const std::string& identity, const Message& message) BTRQ_EXCLUDES(mu_);
  void SendFrames(const std::string& identity, std::vector<std::string> frames) BTRQ_EXCLUDES(mu_);

  // Everything received so far, in order.
  std::vector<Received> Log() const BTRQ_EXCLUDES(mu_);
  // Waits until `done(Log())` holds; false after `timeout`.
  bool WaitUntil(const std::function<bool(const std::vector<Received>&)>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
      BTRQ_EXCLUDES(mu_);
  // Frames that did not decode.
  int bad_frames() const BTRQ_EXCLUDES(mu_);

 private:
  void ThreadMain();

  zmq::context_t context_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::optional<WakeupFd> wake_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> heartbeat_ms_{0};

  mutable Mutex mu_;
  mutable CondVar cv_;
  Responder responder_ BTRQ_GUARDED_BY(mu_);
  std::vector<Received> log_ BTRQ_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> outbox_ BTRQ_GUARDED_BY(mu_);  // identity first
  std::vector<std::string> identities_ BTRQ_GUARDED_BY(mu_);
  int bad_frames_ BTRQ_GUARDED_BY(mu_) = 0;
};

// Messages of type T in `log`, in order.
template <typename T>
std::vector<T> All(const std::vector<Received>& log) {
  std::vector<T> out;
  for (const Received& r : log) {
    if (const T* m = std::get_if<T>(&r.message)) out.push_back(*m);
  }
  return out;
}

template <typename T>
size_t CountOf(const std::vector<Received>& log) {
  return All<T>(log).size();
}

// The credit the worker granted in `log`, summed over its CREDITs.
uint64_t CreditGranted(const std::vector<Received>& log);

// A sink's responder that ACKs every RESULT it receives.
std::vector<Message> AckAll(const Received& r);

}  // namespace btrq::testing
