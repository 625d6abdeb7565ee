#pragma once

// The Python runtime behind the `python` analytic: long-lived interpreter processes, each
// running `python3 -m btrq.runner` (python/btrq/runner.py), spoken to in frames over their
// stdin and stdout (the protocol is in runner.py's docstring and docs/analytics.md).
//
// A PythonPool hands an interpreter to one task at a time: an idle one, or a new one
// started on first use, so there are at most as many as tasks run at once (one per
// executor thread). An interpreter that timed out, crashed, broke the protocol or ran out
// of memory is not given back: it is killed, and the next task starts a fresh one.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/child_process.h"
#include "common/mutex.h"
#include "common/status.h"

namespace btrq::analytics {

struct PythonRuntimeOptions {
  std::string interpreter = "/usr/bin/python3";
  // Directories put first on the import path: the one holding the btrq package (the
  // runner), then the operator's (worker.python.path).
  std::vector<std::string> path;
  uint64_t memory_limit_bytes = 0;  // RLIMIT_AS of each interpreter; 0: none
  int64_t start_timeout_ns = int64_t{30} * 1'000'000'000;
};

// Frame kinds (runner.py).
inline constexpr char kPyTask = 'T';
inline constexpr char kPyPoints = 'P';
inline constexpr char kPyEnd = 'E';
inline constexpr char kPyHello = 'H';
inline constexpr char kPyResult = 'R';
inline constexpr char kPyFailure = 'X';
inline constexpr size_t kPyHeaderBytes = 8;
// A reply frame's payload is at most this long (a result is a flat object of scalars).
inline constexpr size_t kPyMaxReplyBytes = size_t{1} << 20;

// Appends a frame header (payload length, kind) to `out`.
void AppendPyHeader(std::string* out, char kind, size_t payload_bytes);

// One interpreter process.
class PythonInterpreter {
 public:
  struct Frame {
    char kind = 0;
    std::string payload;
  };

  // Starts one and waits for its H frame. Unavailable when it cannot start.
  static Result<std::unique_ptr<PythonInterpreter>> Start(const PythonRuntimeOptions& options);

  // Writes `bytes` (whole frames), taking in any reply meanwhile (ReplyReady).
  Status Write(std::string_view bytes, SteadyDeadline deadline);
  bool ReplyReady() const;
  // Waits for the next reply frame and takes it.
  Result<Frame> ReadReply(SteadyDeadline deadline);

  pid_t pid() const { return child_->pid(); }
  std::string StderrExcerpt() const { return child_->StderrExcerpt(); }
  // Whether the process has exited (reaps it).
  bool Exited() { return child_->Exited(); }

 private:
  explicit PythonInterpreter(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}
  std::unique_ptr<ChildProcess> child_;
};

class PythonPool {
 public:
  explicit PythonPool(PythonRuntimeOptions options) : options_(std::move(options)) {}

  // An idle interpreter, or a new one.
  Result<std::unique_ptr<PythonInterpreter>> Checkout();
  // Gives a healthy interpreter back for the next task.
  void Return(std::unique_ptr<PythonInterpreter> interpreter);

  // For /metrics: interpreters started in all, interpreters killed as broken (each is
  // replaced by the next task's start), and how many run a task now.
  uint64_t started() const { return started_.load(); }
  uint64_t replaced() const { return replaced_.load(); }
  int64_t busy() const { return busy_.load(); }
  // Wall time of tasks in interpreters, ns.
  uint64_t task_ns() const { return task_ns_.load(); }
  void AddTaskTime(uint64_t ns) { task_ns_.fetch_add(ns); }
  // Counts an interpreter dropped as broken (its replacement comes with the next task).
  void Discard(std::unique_ptr<PythonInterpreter> interpreter);

  const PythonRuntimeOptions& options() const { return options_; }

 private:
  const PythonRuntimeOptions options_;
  Mutex mu_;
  std::vector<std::unique_ptr<PythonInterpreter>> idle_ BTRQ_GUARDED_BY(mu_);
  std::atomic<uint64_t> started_{0};
  std::atomic<uint64_t> replaced_{0};
  std::atomic<int64_t> busy_{0};
  std::atomic<uint64_t> task_ns_{0};
};

}  // namespace btrq::analytics
