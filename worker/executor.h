#pragma once

// The worker's executor: `threads` threads taking TaskSpecs from one queue, each with its
// own SourceProvider (its own BTrDB client), running the task's analytic from the
// registry and producing one TaskOutcome per submitted task.
//
// Every Submit()ted task yields exactly one outcome, taken with TakeFinished(): a result,
// an error classified by Status::IsTransient() (kTransient: retry; kPermanent: dead
// letter; a failure while BTrDB could not be reached is kTransient and dependency_down
// whatever the analytic returned), or "cancelled" (CancelJob/CancelAll; the caller
// reports nothing for it).
// Analytics are made per thread and cached by (name, params).
//
// Hand-offs are batched: SubmitBatch queues many tasks under one lock and wakes one
// sleeping thread (none when every thread is busy or a wake-up is already on its way);
// a woken thread that takes a task while more are queued wakes the next, so sleeping
// threads join one wake-up latency apart. A thread reports an outcome and takes its
// next task under one lock.
//
// Thread-safety: all public methods may be called from any thread. `on_finished` runs
// (on an executor thread, or the thread that cancelled or submitted) only when the
// finished queue goes from empty to non-empty: whoever waits for outcomes must take them
// all with TakeFinished after each wake-up, and clear its wake-up signal before calling
// TakeFinished, or later outcomes may come without a call.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/mutex.h"
#include "common/status.h"
#include "analytics/registry.h"
#include "worker/btrdb_source.h"

namespace btrq::worker {

struct ExecutorOptions {
  uint32_t threads = 0;   // 0: two per hardware thread (see DefaultThreads)
  size_t analytic_cache_size = 64;  // analytics kept per thread, by (name, params)
};

struct TaskOutcome {
  TaskRef task;
  bool cancelled = false;             // abandoned: no result, no DONE
  ErrorClass error = ErrorClass::kNone;  // kNone with !cancelled: `result` holds it
  Status status;                      // the error, when there is one
  // With kTransient: not attempted, BTrDB could not be reached (TaskSource).
  bool dependency_down = false;
  TaskResult result;                  // when error == kNone and !cancelled
};

// The executor threads a worker runs by default: two per hardware thread. Every task
// waits on BTrDB for part of its time (the call's round trip, the server's work), so one
// thread per core leaves cores idle; two keep them busy (bench/run scan: 1.6 s with 2
// threads vs 1.46 s with 4 on 2 cores, btrdb-lite on the same host).
uint32_t DefaultThreads();

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
  void Submit(TaskSpec task) BTRQ_EXCLUDES(mu_);
  // Queues `tasks`, in order, under one lock; wakes at most one sleeping thread (the
  // chain above wakes more). After Stop, each is refused with a cancelled outcome.
  void SubmitBatch(std::vector<TaskSpec> tasks) BTRQ_EXCLUDES(mu_);

  // Abandons `job`'s queued tasks (their cancelled outcomes are ready at once) and flags
  // its running ones, which stop at their next read batch. Returns how many it touched.
  size_t CancelJob(JobId job) BTRQ_EXCLUDES(mu_);
  // The same for every task.
  size_t CancelAll() BTRQ_EXCLUDES(mu_);

  // Outcomes queued since the last call, in the order they finished.
  std::vector<TaskOutcome> TakeFinished() BTRQ_EXCLUDES(mu_);
  // The same into `*out` (its old contents are dropped; its capacity is recycled).
  void TakeFinished(std::vector<TaskOutcome>* out) BTRQ_EXCLUDES(mu_);

  // Queued and running tasks, in no particular order.
  std::vector<TaskRef> Active() const BTRQ_EXCLUDES(mu_);
  // Queued tasks, not started yet, into `*out` (its old contents are dropped).
  void Queued(std::vector<TaskRef>* out) const BTRQ_EXCLUDES(mu_);
  // Queued plus running tasks.
  size_t active_count() const BTRQ_EXCLUDES(mu_);
  // Running tasks (for metrics).
  size_t running_count() const BTRQ_EXCLUDES(mu_);

  // Cancels everything (queued tasks at once, under the same lock that refuses later
  // submissions), stops the threads after their current task and joins them.
  // Outcomes of tasks it cancelled stay available to TakeFinished. Idempotent.
  void Stop() BTRQ_EXCLUDES(mu_);

 private:
  // What one thread runs; slots_[i] belongs to thread i. `busy` and `task` are guarded
  // by mu_; `cancelled` is set under mu_ and read by the running task's source.
  struct Slot {
    bool busy = false;
    TaskRef task;
    std::atomic<bool> cancelled{false};
  };
  struct AnalyticCache;

  Executor(const ExecutorOptions& options, const analytics::Registry* registry,
           SourceProviderFactory sources, const Clock* clock, std::function<void()> on_finished);

  void ThreadMain(size_t index) BTRQ_EXCLUDES(mu_);
  // Moves the next queued task into `*task` and `slot`; false when none is queued.
  bool TakeQueuedLocked(Slot* slot, TaskSpec* task) BTRQ_REQUIRES(mu_);
  // Sleeps until a task is queued (true: taken) or the executor stops (false).
  bool WaitForTaskLocked(Slot* slot, TaskSpec* task) BTRQ_REQUIRES(mu_);
  // Appends a cancelled outcome for `task`; true when finished_ was empty.
  bool RefuseLocked(const TaskSpec& task) BTRQ_REQUIRES(mu_);
  size_t queued_locked() const BTRQ_REQUIRES(mu_) { return queue_.size() - queue_head_; }
  TaskOutcome RunTask(const TaskSpec& task, SourceProvider* provider, AnalyticCache* cache,
                      const std::atomic<bool>* cancelled);
  // Cancels matching tasks (queued ones at once, running ones flagged); `stop` also
  // refuses every later submission. Wakes the caller's loop when outcomes were added.
  size_t CancelMatching(const std::function<bool(const TaskRef&)>& match, bool stop)
      BTRQ_EXCLUDES(mu_);

  const ExecutorOptions options_;
  const analytics::Registry* const registry_;
  const SourceProviderFactory sources_;
  const Clock* const clock_;
  const std::function<void()> on_finished_;

  mutable Mutex mu_;
  CondVar work_cv_;
  bool stopping_ BTRQ_GUARDED_BY(mu_) = false;
  // Queued tasks are queue_[queue_head_, size()); the moved-from prefix is dropped when
  // the queue empties or the prefix outgrows the rest (no allocation per task).
  std::vector<TaskSpec> queue_ BTRQ_GUARDED_BY(mu_);
  size_t queue_head_ BTRQ_GUARDED_BY(mu_) = 0;
  size_t running_ BTRQ_GUARDED_BY(mu_) = 0;   // busy slots
  uint32_t idle_ BTRQ_GUARDED_BY(mu_) = 0;     // threads waiting on work_cv_
  uint32_t wakeups_ BTRQ_GUARDED_BY(mu_) = 0;  // signals sent that no waiter has taken yet
  std::vector<TaskOutcome> finished_ BTRQ_GUARDED_BY(mu_);

  std::vector<std::unique_ptr<Slot>> slots_;  // constant after Create
  std::vector<std::thread> threads_;          // constant after Create
};

}  // namespace btrq::worker
