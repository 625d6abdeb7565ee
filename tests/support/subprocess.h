#pragma once

// Child processes for integration tests: start a real binary, wait for a line it prints,
// signal it (kill -9 included), wait for it to exit. No sleeps: waits block on the
// child's output or exit, each with a deadline.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace btrq::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`; `env` entries ("KEY=VALUE") are added to (or
  // override) the current environment. stdout and stderr are captured.
  static Result<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv,
                                                   const std::vector<std::string>& env = {});
  // SIGKILLs the child if it still runs, reaps it and joins the reader threads.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Waits until a complete line of stdout (or stderr) contains a match of the ECMAScript
  // regex `pattern`; returns that line. DeadlineExceeded on timeout, Unavailable when the
  // stream closes first.
  Result<std::string> WaitForLine(const std::string& pattern, std::chrono::milliseconds timeout,
                                  bool from_stderr = false);
  // Sends `signal` (e.g. SIGKILL, SIGTERM). FailedPrecondition once reaped.
  Status Kill(int signal);
  // Waits for the child to exit; returns its exit code, or 128 + signal number when it
  // was killed by a signal. DeadlineExceeded on timeout.
  Result<int> Wait(std::chrono::milliseconds timeout);

  // Everything captured so far.
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  struct Capture {
    std::string text;
    bool closed = false;
  };

  Subprocess() = default;
  void ReadLoop(int fd, Capture* capture);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int exit_code_ = 0;
  // std::mutex rather than common/mutex.h: this header is included next to gRPC's, whose
  // absl annotation macros clash with common/mutex.h's when included first.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Capture out_;  // guarded by mu_
  Capture err_;  // guarded by mu_
  std::thread out_reader_;
  std::thread err_reader_;
};

}  // namespace btrq::testing
