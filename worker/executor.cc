#include "worker/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <unordered_map>
#include <utility>

namespace btrq::worker {
namespace {

void AppendSized(std::string* out, std::string_view s) {
  const uint64_t n = s.size();
  out->append(reinterpret_cast<const char*>(&n), sizeof(n));
  out->append(s);
}

// A byte string that identifies (analytic, params) exactly, for the per-thread cache.
std::string CacheKey(const TaskSpec& task) {
  std::string key;
  AppendSized(&key, task.analytic);
  for (const auto& [name, value] : task.params) {
    AppendSized(&key, name);
    key.push_back(static_cast<char>(value.index()));
    if (const auto* i = std::get_if<int64_t>(&value)) {
      key.append(reinterpret_cast<const char*>(i), sizeof(*i));
    } else if (const auto* d = std::get_if<double>(&value)) {
      key.append(reinterpret_cast<const char*>(d), sizeof(*d));
    } else {
      AppendSized(&key, std::get<std::string>(value));
    }
  }
  return key;
}

// Whether `task` names exactly `name` and `params`: what CacheKey tells apart, told apart
// here too (doubles bit for bit).
bool SameAnalytic(const TaskSpec& task, const std::string& name, const Fields& params) {
  if (task.analytic != name || task.params.size() != params.size()) return false;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [a_name, a] = task.params[i];
    const auto& [b_name, b] = params[i];
    if (a_name != b_name || a.index() != b.index()) return false;
    if (const auto* d = std::get_if<double>(&a)) {
      if (std::memcmp(d, &std::get<double>(b), sizeof(double)) != 0) return false;
    } else if (a != b) {
      return false;
    }
  }
  return true;
}

}  // namespace

uint32_t DefaultThreads() {
  return 2 * std::max(1u, std::thread::hardware_concurrency());
}

ErrorClass ClassifyError(const Status& status) {
  if (status.ok()) return ErrorClass::kNone;
  return status.IsTransient() ? ErrorClass::kTransient : ErrorClass::kPermanent;
}

Result<std::unique_ptr<Executor>> Executor::Create(const ExecutorOptions& options,
                                                   const analytics::Registry* registry,
                                                   SourceProviderFactory sources,
                                                   const Clock* clock,
                                                   std::function<void()> on_finished) {
  if (registry == nullptr) return Status::InvalidArgument("executor: no analytics registry");
  if (!sources) return Status::InvalidArgument("executor: no source factory");
  if (clock == nullptr) return Status::InvalidArgument("executor: no clock");
  std::unique_ptr<Executor> executor(
      new Executor(options, registry, std::move(sources), clock, std::move(on_finished)));
  uint32_t n = options.threads;
  if (n == 0) n = DefaultThreads();
  executor->slots_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) executor->slots_.push_back(std::make_unique<Slot>());
  executor->threads_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    executor->threads_.emplace_back([e = executor.get(), i] { e->ThreadMain(i); });
  }
  return executor;
}

Executor::Executor(const ExecutorOptions& options, const analytics::Registry* registry,
                   SourceProviderFactory sources, const Clock* clock,
                   std::function<void()> on_finished)
    : options_(options),
      registry_(registry),
      sources_(std::move(sources)),
      clock_(clock),
      on_finished_(std::move(on_finished)) {}

Executor::~Executor() { Stop(); }

// A thread's analytics by CacheKey, plus the last task's (name, params) and the analytic
// they made, so a run of tasks of one job builds no key at all.
struct Executor::AnalyticCache {
  std::unordered_map<std::string, std::unique_ptr<analytics::Analytic>> by_key;
  const analytics::Analytic* last = nullptr;
  std::string last_name;
  Fields last_params;
};

bool Executor::RefuseLocked(const TaskSpec& task) {
  const bool was_empty = finished_.empty();
  TaskOutcome outcome;
  outcome.task = TaskRef{task.key, task.attempt};
  outcome.cancelled = true;
  finished_.push_back(std::move(outcome));
  return was_empty;
}

void Executor::Submit(TaskSpec task) {
  std::vector<TaskSpec> one;
  one.push_back(std::move(task));
  SubmitBatch(std::move(one));
}

void Executor::SubmitBatch(std::vector<TaskSpec> tasks) {
  if (tasks.empty()) return;
  uint32_t wake = 0;
  bool notify = false;
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      // A stopped executor refuses tasks like a cancellation, so every submitted task
      // still yields one outcome.
      for (const TaskSpec& task : tasks) notify |= RefuseLocked(task);
    } else {
      if (queue_.empty()) {
        queue_.swap(tasks);
      } else {
        queue_.insert(queue_.end(), std::make_move_iterator(tasks.begin()),
                      std::make_move_iterator(tasks.end()));
      }
      // One sleeping thread is woken, and only when no wake-up is on its way: the woken
      // thread wakes the next if tasks are still queued when it takes one (a chain, see
      // WaitForTaskLocked). Tasks of microseconds are then done by the first threads
      // before the others are disturbed; long ones still spread over every thread, one
      // wake-up latency apart.
      if (idle_ > wakeups_ && wakeups_ == 0) {
        wake = 1;
        ++wakeups_;
      }
    }
  }
  // Outside the lock, so a woken thread does not block on it at once. The thread was
  // counted asleep under the lock, so the signal cannot be lost.
  if (wake > 0) work_cv_.Signal();
  if (notify && on_finished_) on_finished_();
}

size_t Executor::CancelMatching(const std::function<bool(const TaskRef&)>& match, bool stop) {
  size_t touched = 0;
  bool notify = false;
  {
    MutexLock lock(&mu_);
    if (stop) stopping_ = true;
    size_t kept = queue_head_;
    for (size_t i = queue_head_; i < queue_.size(); ++i) {
      TaskSpec& task = queue_[i];
      if (match(TaskRef{task.key, task.attempt})) {
        notify |= RefuseLocked(task);
        ++touched;
      } else {
        if (kept != i) queue_[kept] = std::move(task);
        ++kept;
      }
    }
    queue_.resize(kept);
    if (queue_head_ == queue_.size()) {
      queue_.clear();
      queue_head_ = 0;
    }
    for (const std::unique_ptr<Slot>& slot : slots_) {
      if (slot->busy && match(slot->task)) {
        slot->cancelled.store(true);
        ++touched;
      }
    }
  }
  if (stop) work_cv_.SignalAll();
  if (notify && on_finished_) on_finished_();
  return touched;
}

size_t Executor::CancelJob(JobId job) {
  return CancelMatching([job](const TaskRef& ref) { return ref.key.job == job; },
                        /*stop=*/false);
}

size_t Executor::CancelAll() {
  return CancelMatching([](const TaskRef&) { return true; }, /*stop=*/false);
}

std::vector<TaskOutcome> Executor::TakeFinished() {
  std::vector<TaskOutcome> out;
  TakeFinished(&out);
  return out;
}

void Executor::TakeFinished(std::vector<TaskOutcome>* out) {
  out->clear();
  MutexLock lock(&mu_);
  out->swap(finished_);
}

std::vector<TaskRef> Executor::Active() const {
  MutexLock lock(&mu_);
  std::vector<TaskRef> out;
  out.reserve(queued_locked() + running_);
  for (size_t i = queue_head_; i < queue_.size(); ++i) {
    out.push_back(TaskRef{queue_[i].key, queue_[i].attempt});
  }
  for (const std::unique_ptr<Slot>& slot : slots_) {
    if (slot->busy) out.push_back(slot->task);
  }
  return out;
}

void Executor::Queued(std::vector<TaskRef>* out) const {
  out->clear();
  MutexLock lock(&mu_);
  out->reserve(queued_locked());
  for (size_t i = queue_head_; i < queue_.size(); ++i) {
    out->push_back(TaskRef{queue_[i].key, queue_[i].attempt});
  }
}

size_t Executor::active_count() const {
  MutexLock lock(&mu_);
  return queued_locked() + running_;
}

size_t Executor::running_count() const {
  MutexLock lock(&mu_);
  return running_;
}

void Executor::Stop() {
  CancelMatching([](const TaskRef&) { return true; }, /*stop=*/true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool Executor::TakeQueuedLocked(Slot* slot, TaskSpec* task) {
  if (queue_head_ == queue_.size()) return false;
  *task = std::move(queue_[queue_head_++]);
  if (queue_head_ == queue_.size()) {
    queue_.clear();  // keeps the capacity
    queue_head_ = 0;
  } else if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
    // Never empty for long: drop the moved-from prefix (amortised O(1) per task).
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
  slot->busy = true;
  slot->task = TaskRef{task->key, task->attempt};
  slot->cancelled.store(false);
  ++running_;
  return true;
}

bool Executor::WaitForTaskLocked(Slot* slot, TaskSpec* task) {
  for (bool woken = false;; woken = true) {
    // Stop empties the queue as it sets stopping_, and refuses later tasks.
    if (TakeQueuedLocked(slot, task)) {
      // The next link of SubmitBatch's chain: more work queued, another thread asleep.
      if (woken && queue_head_ < queue_.size() && idle_ > wakeups_) {
        ++wakeups_;
        work_cv_.Signal();
      }
      return true;
    }
    if (stopping_) return false;
    ++idle_;
    work_cv_.Wait(&mu_);
    --idle_;
    // Taken by this waiter, or by a spuriously woken one in its stead: either way the
    // count stays at most the signals still on their way, so none is ever missing.
    if (wakeups_ > 0) --wakeups_;
  }
}

void Executor::ThreadMain(size_t index) {
  Slot* const slot = slots_[index].get();
  // Made on this thread, used only by it: the thread's own BTrDB client.
  std::unique_ptr<SourceProvider> provider = sources_();
  AnalyticCache cache;
  TaskSpec task;
  {
    MutexLock lock(&mu_);
    if (!WaitForTaskLocked(slot, &task)) return;
  }
  for (;;) {
    TaskOutcome outcome = RunTask(task, provider.get(), &cache, &slot->cancelled);
    bool notify = false;
    bool next = false;
    {
      // Report the outcome and take the next task under one lock.
      MutexLock lock(&mu_);
      slot->busy = false;
      --running_;
      notify = finished_.empty();
      finished_.push_back(std::move(outcome));
      next = TakeQueuedLocked(slot, &task);
    }
    if (notify && on_finished_) on_finished_();
    if (next) continue;
    MutexLock lock(&mu_);
    if (!WaitForTaskLocked(slot, &task)) return;
  }
}

TaskOutcome Executor::RunTask(const TaskSpec& task, SourceProvider* provider,
                              AnalyticCache* cache, const std::atomic<bool>* cancelled) {
  TaskOutcome outcome;
  outcome.task = TaskRef{task.key, task.attempt};
  const auto fail = [&](const Status& status) {
    if (cancelled->load()) {
      outcome.cancelled = true;
      return;
    }
    outcome.status = status;
    outcome.error = ClassifyError(status);
  };
  if (cancelled->load()) {
    outcome.cancelled = true;
    return outcome;
  }

  const analytics::Analytic* analytic = cache->last;
  if (analytic == nullptr || !SameAnalytic(task, cache->last_name, cache->last_params)) {
    std::string key = CacheKey(task);
    auto it = cache->by_key.find(key);
    if (it == cache->by_key.end()) {
      auto made = registry_->Create(task.analytic, task.params);
      if (!made.ok()) {
        // Bad params or an unknown analytic stay bad on every attempt.
        fail(Status::InvalidArgument(made.status().message()));
        return outcome;
      }
      if (cache->by_key.size() >= options_.analytic_cache_size) cache->by_key.clear();
      it = cache->by_key.emplace(std::move(key), std::move(made).value()).first;
    }
    analytic = it->second.get();
    cache->last = analytic;
    cache->last_name = task.analytic;
    cache->last_params = task.params;
  }

  std::unique_ptr<TaskSource> source = provider->Open(task, cancelled);
  analytics::RunCounters counters;
  const SteadyTime start = clock_->Now();
  Result<Fields> fields = Status::Internal("analytic did not run");
  try {
    fields = analytic->Run(task, *source, &counters);
  } catch (const std::exception& e) {
    // An analytic that throws is a bug in it, not in the data: dead-letter the task.
    fields = Status::Internal(std::string("analytic threw: ") + e.what());
  }
  const int64_t duration_ns =
      std::chrono::duration_cast<Nanos>(clock_->Now() - start).count();
  outcome.result.points_read = counters.points_read;
  outcome.result.duration_ns = duration_ns;
  if (!fields.ok()) {
    fail(fields.status());
    if (source->dependency_down() && !outcome.cancelled) {
      // The analytic may have wrapped or reclassified the read's error; what counts is
      // that the data could not be read at all.
      outcome.dependency_down = true;
      outcome.error = ErrorClass::kTransient;
    }
    return outcome;
  }
  if (cancelled->load()) {
    outcome.cancelled = true;
    return outcome;
  }
  TaskResult& r = outcome.result;
  r.task = outcome.task;
  r.end = task.end;
  r.version = task.version != 0 ? task.version : source->version_read();
  r.fields = std::move(fields).value();
  r.lease_token = task.lease_token;  // the sink stores the result only with it
  return outcome;
}

}  // namespace btrq::worker
