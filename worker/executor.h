#pragma once

// The worker's executor: `threads` threads taking TaskSpecs from one queue, each with its
// own SourceProvider (its own BTrDB client), running the task's analytic from the
// registry and producing one TaskOutcome per submitted task.
//
// Every Submit()ted task yields exactly one outcome, taken with TakeFinished(): a result,
// an error classified by Status::IsTransient() (kTransient: retry; kPermanent: dead
// letter), or "cancelled" (CancelJob/CancelAll; the caller reports nothing for it).
// Analytics are made per thread and cached by (name, params).
//
// Thread-safety: all public methods may be called from any thread; `on_finished` runs
// on an executor thread after each outcome is queued (the worker wakes its poll loop).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/mutex.h"
#include "common/status.h"
#include "worker/analytics/registry.h"
#include "worker/btrdb_source.h"

namespace btrq::worker {

struct ExecutorOptions {
  uint32_t threads = 0;   // 0: std::thread::hardware_concurrency()
  std::string worker_id;  // stamped on every TaskResult
  size_t analytic_cache_size = 64;  // analytics kept per thread, by (name, params)
};

struct TaskOutcome {
  TaskRef task;
  bool cancelled = false;             // abandoned: no result, no DONE
  ErrorClass error = ErrorClass::kNone;  // kNone with !cancelled: `result` holds it
  Status status;                      // the error, when there is one
  TaskResult result;                  // when error == kNone and !cancelled
};

// How a failed task is reported: transient errors are retried, the rest dead-lettered.
ErrorClass ClassifyError(const Status& status);

class Executor {
 public:
  // Starts the threads; each calls `sources` once. `registry` and `clock` must outlive the
  // executor. InvalidArgument without a registry or a source factory.
  static Result<std::unique_ptr<Executor>> Create(const ExecutorOptions& options,
                                                  const analytics::Registry* registry,
                                                  SourceProviderFactory sources,
                                                  const Clock* clock,
                                                  std::function<void()> on_finished);
  // Stop().
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  uint32_t threads() const { return static_cast<uint32_t>(threads_.size()); }

  // Queues `task` for the next free thread.
  void Submit(TaskSpec task) EXCLUDES(mu_);

  // Abandons `job`'s queued tasks (their cancelled outcomes are ready at once) and flags
  // its running ones, which stop at their next read batch. Returns how many it touched.
  size_t CancelJob(JobId job) EXCLUDES(mu_);
  // The same for every task.
  size_t CancelAll() EXCLUDES(mu_);

  // Outcomes queued since the last call, in the order they finished.
  std::vector<TaskOutcome> TakeFinished() EXCLUDES(mu_);

  // Queued and running tasks, in no particular order.
  std::vector<TaskRef> Active() const EXCLUDES(mu_);
  // Queued plus running tasks.
  size_t active_count() const EXCLUDES(mu_);
  // Running tasks (for metrics).
  size_t running_count() const EXCLUDES(mu_);

  // Cancels everything, stops the threads after their current task and joins them.
  // Outcomes of tasks it cancelled stay available to TakeFinished. Idempotent.
  void Stop() EXCLUDES(mu_);

 private:
  struct Running {
    TaskRef task;
    std::shared_ptr<std::atomic<bool>> cancelled;
  };

  Executor(const ExecutorOptions& options, const analytics::Registry* registry,
           SourceProviderFactory sources, const Clock* clock, std::function<void()> on_finished);

  void ThreadMain(size_t index) EXCLUDES(mu_);
  TaskOutcome RunTask(const TaskSpec& task, SourceProvider* provider,
                      std::unordered_map<std::string, std::unique_ptr<analytics::Analytic>>* cache,
                      const std::atomic<bool>* cancelled);
  size_t CancelMatching(const std::function<bool(const TaskRef&)>& match) EXCLUDES(mu_);

  const ExecutorOptions options_;
  const analytics::Registry* const registry_;
  const SourceProviderFactory sources_;
  const Clock* const clock_;
  const std::function<void()> on_finished_;

  mutable Mutex mu_;
  CondVar work_cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  std::deque<TaskSpec> queue_ GUARDED_BY(mu_);
  uint64_t next_run_id_ GUARDED_BY(mu_) = 0;
  std::unordered_map<uint64_t, Running> running_ GUARDED_BY(mu_);
  std::vector<TaskOutcome> finished_ GUARDED_BY(mu_);

  std::vector<std::thread> threads_;  // constant after Create
};

}  // namespace btrq::worker
