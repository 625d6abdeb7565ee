#pragma once

// A child process driven through its stdin, stdout and stderr pipes without blocking: each
// call waits with poll(2) for whatever the child is ready for, up to a deadline, so a child
// that stops reading or writing can never wedge the caller. Used by `exec` (one child per
// task) and `python` (one long-lived child per executor thread).
//
// The child runs without a shell (posix_spawnp: PATH is searched), in its own process
// group, with the worker's environment plus Options::env, default signal handling and an
// empty signal mask. Destruction SIGKILLs the whole group and reaps the child.
//
// Errors name Options::what: kInvalidArgument when the program cannot be started,
// kDeadlineExceeded past a deadline, kFailedPrecondition when stdout outgrows its bound,
// kUnavailable when the child closes stdout while a reply is awaited.

#include <sys/types.h>

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace btrq::analytics {

using SteadyDeadline = std::chrono::steady_clock::time_point;

// Blocks SIGPIPE in the calling thread while alive, so a write to a pipe whose reader has
// gone fails with EPIPE instead of killing the process; a SIGPIPE raised meanwhile is
// consumed before the old mask is restored.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::vector<std::string> env;       // "KEY=VALUE", added to (or overriding) ours
    size_t max_stdout_bytes = size_t{1} << 20;  // unconsumed stdout held at most
    size_t stderr_excerpt_bytes = 2048;         // the tail of stderr kept for errors
    uint64_t memory_limit_bytes = 0;            // RLIMIT_AS of the child; 0: none
    std::string what = "exec";                  // names the child in errors
  };

  static Result<std::unique_ptr<ChildProcess>> Spawn(Options options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Writes all of `data`, reading stdout and stderr meanwhile so neither side can block
  // the other. Stops early, with OK, when the child closes its stdin.
  Status Write(std::string_view data, SteadyDeadline deadline);
  // Reads stdout and stderr until `until` is true.
  Status ReadUntil(const std::function<bool()>& until, SteadyDeadline deadline);
  // Closes stdin, then reads stdout and stderr to their end and waits for the exit.
  Status Finish(SteadyDeadline deadline);

  bool stdin_closed() const;
  // Stdout read and not yet consumed; the caller erases what it has parsed.
  std::string& out() { return out_; }
  // True once the child has exited (reaps it; a non-blocking check).
  bool Exited();
  int wait_status() const { return wait_status_; }
  pid_t pid() const { return pid_; }
  // "; stderr: <the last bytes of stderr>", or "" when it wrote nothing.
  std::string StderrExcerpt() const;

 private:
  class Fd;
  ChildProcess(pid_t pid, Options options);
  // Waits until the deadline for one of: stdin writable (while `data` remains), stdout or
  // stderr readable, the child's exit (once stdin is closed); handles what is ready.
  Status PollOnce(std::string_view data, SteadyDeadline deadline);
  Status ReadSome(Fd* fd, bool is_stdout);

  const pid_t pid_;
  const Options options_;
  std::unique_ptr<Fd> stdin_, stdout_, stderr_, pidfd_;
  size_t written_ = 0;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  bool group_killed_ = false;
  int wait_status_ = 0;
};

}  // namespace btrq::analytics
