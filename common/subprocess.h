#pragma once

// Child processes: start a binary, wait for a line it prints, signal it (kill -9
// included), stop it politely with a deadline, wait for it to exit. No sleeps where an
// event can be waited on: waits block on the child's output or exit, each with a deadline.
// Used by `btrq demo` (submitter/demo.h) and by the integration tests.
//
// Output goes to one of two places:
//   - captured (the default): stdout and stderr are read into memory by two threads;
//   - a log file (SpawnOptions::log_path): stdout and stderr are appended to the file
//     directly, so the child keeps logging after this object (or this process) is gone.
//     WaitForLine then reads the file, checking for new text every few milliseconds.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace btrq {

struct SpawnOptions {
  // "KEY=VALUE" entries added to (or overriding) the current environment.
  std::vector<std::string> env;
  // Non-empty: append the child's stdout and stderr to this file (created 0644) instead
  // of capturing them.
  std::string log_path;
  // The child leads a new process group: a terminal's Ctrl-C does not reach it, and
  // Kill()/Stop() signal the whole group (the child and anything it started).
  bool new_process_group = false;
  // The kernel SIGKILLs the child when the thread that started it exits (PR_SET_PDEATHSIG),
  // so a crashed or killed parent leaves no orphan behind. Start from a thread that lives
  // as long as the child should (e.g. the main thread).
  bool die_with_parent = false;
};

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv` and `options`. IoError when the file cannot be
  // executed (it is checked before forking) or a pipe, file or fork fails.
  static Result<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                   const SpawnOptions& options);
  // Start() with captured output and `env` added to the environment.
  static Result<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv,
                                                   const std::vector<std::string>& env = {});
  // SIGKILLs the child (its group, with new_process_group) if it still runs and was not
  // released, reaps it and joins the reader threads.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Waits until a complete line of stdout (or stderr) contains a match of the ECMAScript
  // regex `pattern`; returns that line. With a log file both streams are one, and
  // `from_stderr` is ignored. DeadlineExceeded on timeout; Unavailable when the stream
  // closes (or, with a log file, the child exits) first.
  Result<std::string> WaitForLine(const std::string& pattern, std::chrono::milliseconds timeout,
                                  bool from_stderr = false);
  // Sends `signal` (e.g. SIGKILL, SIGTERM) to the child, or to its process group with
  // new_process_group. FailedPrecondition once reaped.
  Status Kill(int signal);
  // Waits for the child to exit; returns its exit code, or 128 + signal number when it
  // was killed by a signal. DeadlineExceeded on timeout (a timeout of 0 polls).
  Result<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then up to `grace` for the child to exit, then SIGKILL; returns the exit code
  // as Wait(). `killed` (optional) tells whether SIGKILL was needed.
  Result<int> Stop(std::chrono::milliseconds grace, bool* killed = nullptr);
  // True until the child has exited (reaps it when it has).
  bool Running();
  // Forgets the child: the destructor neither kills nor reaps it (it keeps running after
  // this process exits). Only meaningful with a log file and without die_with_parent.
  void Release() { released_ = true; }

  // Everything captured so far; with a log file, the file's text written since the start
  // (stdout and stderr interleaved) from Stdout() and "" from Stderr().
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  struct Capture {
    std::string text;
    bool closed = false;
  };

  Subprocess() = default;
  void ReadLoop(int fd, Capture* capture);
  // The log file's text from log_offset_, or "" when it cannot be read.
  std::string ReadLog() const;
  Result<std::string> WaitForLogLine(const std::string& pattern,
                                     std::chrono::milliseconds timeout);
  // True when the child has exited (pidfd readable), without reaping it.
  bool Exited(std::chrono::milliseconds timeout) const;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool group_ = false;
  bool reaped_ = false;
  bool released_ = false;
  int exit_code_ = 0;
  std::string log_path_;
  off_t log_offset_ = 0;  // the log file's size when the child started
  mutable Mutex mu_;
  CondVar cv_;  // a capture grew or closed
  Capture out_ BTRQ_GUARDED_BY(mu_);
  Capture err_ BTRQ_GUARDED_BY(mu_);
  std::thread out_reader_;
  std::thread err_reader_;
};

}  // namespace btrq
