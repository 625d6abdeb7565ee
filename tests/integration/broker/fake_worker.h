#pragma once

// A scripted worker for broker tests: one DEALER speaking the wire protocol through the
// codec, as btrq-worker would, but every step is explicit so a test can misbehave on
// purpose (stay silent, send stale DONEs, hostile frames).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/messages.h"
#include "common/status.h"

namespace btrq::testing {

class FakeWorker {
 public:
  // Connects a DEALER with routing id `id` to `endpoint`. Nothing is sent yet.
  static Result<std::unique_ptr<FakeWorker>> Connect(const std::string& endpoint,
                                                     const std::string& id);
  ~FakeWorker();

  const std::string& id() const { return id_; }

  // While waiting in Receive*, send a HEARTBEAT (naming the tasks held) this often; 0
  // keeps the worker silent (a dead worker, as the broker sees it).
  void set_heartbeat_every(std::chrono::milliseconds every) { heartbeat_every_ = every; }

  Status Send(const Message& message);
  Status SendFrames(const std::vector<std::string>& frames);
  // HELLO (analytics noop, count, quality) and CREDIT{credit}.
  Status Hello(uint32_t credit);

  // Waits up to `timeout` for a message the predicate accepts; every message received
  // meanwhile is recorded (tasks() and all()). DeadlineExceeded on timeout.
  Result<Message> ReceiveUntil(const std::function<bool(const Message&)>& accept,
                               std::chrono::milliseconds timeout);
  // Waits until at least `n` tasks have been received in total.
  Status WaitForTasks(size_t n, std::chrono::milliseconds timeout);
  // Waits for the next message of type T.
  template <typename T>
  Result<T> Next(std::chrono::milliseconds timeout) {
    auto m = ReceiveUntil([](const Message& m) { return std::holds_alternative<T>(m); }, timeout);
    if (!m.ok()) return m.status();
    return std::get<T>(*m);
  }

  // DONE for `tasks` with `error` (kNone: success); they are no longer held.
  Status Done(const std::vector<TaskSpec>& tasks, ErrorClass error = ErrorClass::kNone,
              const std::string& message = "");

  // Every task received so far, in order, and the number of TASK frames.
  const std::vector<TaskSpec>& tasks() const { return tasks_; }
  size_t task_frames() const { return task_frames_; }
  const std::vector<Message>& all() const { return all_; }
  // Tasks received and not yet reported DONE.
  std::vector<TaskSpec> held() const;

 private:
  FakeWorker() = default;
  Status MaybeHeartbeat();

  std::string id_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::chrono::milliseconds heartbeat_every_{50};
  std::chrono::steady_clock::time_point last_heartbeat_{};
  std::vector<TaskSpec> tasks_;
  std::vector<TaskRef> finished_;
  size_t task_frames_ = 0;
  std::vector<Message> all_;
};

}  // namespace btrq::testing
