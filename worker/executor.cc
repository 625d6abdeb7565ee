#include "worker/executor.h"

#include <algorithm>
#include <chrono>
#include <exception>
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

}  // namespace

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
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
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

void Executor::Submit(TaskSpec task) {
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      work_cv_.Signal();
      return;
    }
    // A stopped executor refuses the task like a cancellation, so every Submit still
    // yields one outcome.
    TaskOutcome outcome;
    outcome.task = TaskRef{task.key, task.attempt};
    outcome.cancelled = true;
    finished_.push_back(std::move(outcome));
  }
  if (on_finished_) on_finished_();
}

size_t Executor::CancelMatching(const std::function<bool(const TaskRef&)>& match) {
  size_t touched = 0;
  {
    MutexLock lock(&mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      const TaskRef ref{it->key, it->attempt};
      if (!match(ref)) {
        ++it;
        continue;
      }
      TaskOutcome outcome;
      outcome.task = ref;
      outcome.cancelled = true;
      finished_.push_back(std::move(outcome));
      it = queue_.erase(it);
      ++touched;
    }
    const size_t dequeued = touched;
    for (auto& [id, running] : running_) {
      if (match(running.task)) {
        running.cancelled->store(true);
        ++touched;
      }
    }
    if (dequeued == 0) return touched;
  }
  if (on_finished_) on_finished_();
  return touched;
}

size_t Executor::CancelJob(JobId job) {
  return CancelMatching([job](const TaskRef& ref) { return ref.key.job == job; });
}

size_t Executor::CancelAll() {
  return CancelMatching([](const TaskRef&) { return true; });
}

std::vector<TaskOutcome> Executor::TakeFinished() {
  MutexLock lock(&mu_);
  std::vector<TaskOutcome> out;
  out.swap(finished_);
  return out;
}

std::vector<TaskRef> Executor::Active() const {
  MutexLock lock(&mu_);
  std::vector<TaskRef> out;
  out.reserve(queue_.size() + running_.size());
  for (const TaskSpec& t : queue_) out.push_back(TaskRef{t.key, t.attempt});
  for (const auto& [id, running] : running_) out.push_back(running.task);
  return out;
}

size_t Executor::active_count() const {
  MutexLock lock(&mu_);
  return queue_.size() + running_.size();
}

size_t Executor::running_count() const {
  MutexLock lock(&mu_);
  return running_.size();
}

void Executor::Stop() {
  CancelAll();
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    work_cv_.SignalAll();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Executor::ThreadMain(size_t /*index*/) {
  // Made on this thread, used only by it: the thread's own BTrDB client.
  std::unique_ptr<SourceProvider> provider = sources_();
  std::unordered_map<std::string, std::unique_ptr<analytics::Analytic>> cache;
  for (;;) {
    TaskSpec task;
    uint64_t run_id = 0;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    {
      MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) work_cv_.Wait();
      if (stopping_ && queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      run_id = next_run_id_++;
      running_.emplace(run_id, Running{TaskRef{task.key, task.attempt}, cancelled});
    }
    TaskOutcome outcome = RunTask(task, provider.get(), &cache, cancelled.get());
    {
      MutexLock lock(&mu_);
      running_.erase(run_id);
      finished_.push_back(std::move(outcome));
    }
    if (on_finished_) on_finished_();
  }
}

TaskOutcome Executor::RunTask(
    const TaskSpec& task, SourceProvider* provider,
    std::unordered_map<std::string, std::unique_ptr<analytics::Analytic>>* cache,
    const std::atomic<bool>* cancelled) {
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

  const std::string key = CacheKey(task);
  auto it = cache->find(key);
  if (it == cache->end()) {
    auto made = registry_->Create(task.analytic, task.params);
    if (!made.ok()) {
      // Bad params or an unknown analytic stay bad on every attempt.
      fail(Status::InvalidArgument(made.status().message()));
      return outcome;
    }
    if (cache->size() >= options_.analytic_cache_size) cache->clear();
    it = cache->emplace(key, std::move(made).value()).first;
  }

  std::unique_ptr<TaskSource> source = provider->Open(task, cancelled);
  analytics::RunCounters counters;
  const SteadyTime start = clock_->Now();
  Result<Fields> fields = Status::Internal("analytic did not run");
  try {
    fields = it->second->Run(task, *source, &counters);
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
  r.worker_id = options_.worker_id;
  r.fields = std::move(fields).value();
  return outcome;
}

}  // namespace btrq::worker
