#include "btrdb/stall_watchdog.h"

#include <algorithm>
#include <chrono>

#include <string>

#include <grpcpp/grpcpp.h>

#include "common/time_util.h"

namespace btrq::btrdb {
namespace {

int64_t NowNs(const Clock* clock) {
  // Never 0, which means "not waiting".
  return std::max<int64_t>(1, clock->Now().time_since_epoch().count());
}

// Whatever the idle times, the thread looks at least this seldom, so it costs nothing.
constexpr Nanos kMinCheckInterval = std::chrono::milliseconds(20);

}  // namespace

StallWatchdog::StallWatchdog(const Clock* clock) : clock_(clock) {}

StallWatchdog::~StallWatchdog() {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    thread.swap(thread_);
  }
  cv_.SignalAll();
  if (thread.joinable()) thread.join();
}

StallWatchdog* StallWatchdog::Default() {
  // Leaked on purpose: clients on any thread may use it until the process exits.
  static StallWatchdog* const dog = new StallWatchdog(SystemClock::Default());
  return dog;
}

StallWatchdog::Watch::Watch(StallWatchdog* dog, grpc::ClientContext* context, Nanos idle)
    : dog_(idle > Nanos(0) ? dog : nullptr), context_(context), idle_(idle) {
  if (dog_ != nullptr) dog_->Add(this);
}

StallWatchdog::Watch::~Watch() {
  if (dog_ != nullptr) dog_->Remove(this);
}

void StallWatchdog::Watch::BeginWait() {
  if (dog_ != nullptr) waiting_since_.store(NowNs(dog_->clock_), std::memory_order_release);
}

void StallWatchdog::Watch::EndWait() {
  if (dog_ != nullptr) waiting_since_.store(0, std::memory_order_release);
}

Status StallWatchdog::Watch::StalledError(std::string_view rpc) const {
  return Status::Unavailable(std::string(rpc) + ": no message from BTrDB for " +
                             FormatDuration(idle_.count()) +
                             " (btrdb.read_idle_timeout): the server stalled");
}

void StallWatchdog::Add(Watch* w) {
  MutexLock lock(&mu_);
  watches_.push_back(w);
  if (!thread_.joinable()) thread_ = std::thread([this] { ThreadMain(); });
  cv_.Signal();
}

void StallWatchdog::Remove(Watch* w) {
  // Under mu_: once this returns, the thread never touches w's context again.
  MutexLock lock(&mu_);
  std::erase(watches_, w);
}

Nanos StallWatchdog::CheckLocked() {
  const int64_t now = NowNs(clock_);
  Nanos next = std::chrono::seconds(1);
  for (Watch* w : watches_) {
    if (w->stalled_.load(std::memory_order_relaxed)) continue;
    const int64_t since = w->waiting_since_.load(std::memory_order_acquire);
    // Not waiting now: it cannot stall sooner than one idle time after it starts to.
    const Nanos left = since == 0 ? w->idle_ : w->idle_ - Nanos(now - since);
    if (left <= Nanos(0)) {
      w->stalled_.store(true, std::memory_order_release);
      w->context_->TryCancel();  // thread-safe; the call's Read returns at once
      continue;
    }
    next = std::min(next, left);
  }
  return std::max(next, kMinCheckInterval);
}

void StallWatchdog::ThreadMain() {
  MutexLock lock(&mu_);
  while (!stop_) {
    if (watches_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    cv_.WaitFor(&mu_, CheckLocked());
  }
}

}  // namespace btrq::btrdb
