#pragma once

// Cancels a server-streaming BTrDB call that waits too long for its next message. A
// frozen server (SIGSTOPped, or a link gone without a reset) would otherwise hold the
// reading thread until the whole stream's deadline, minutes away. One thread per watchdog
// looks at the calls it watches; each call's own thread says when it starts and stops
// waiting in Read, so the time a caller spends on a batch never counts as idle.

#include <atomic>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace grpc {
class ClientContext;
}

namespace btrq::btrdb {

class StallWatchdog {
 public:
  // `clock` is borrowed and must outlive the watchdog. Its thread starts with the first
  // watch.
  explicit StallWatchdog(const Clock* clock);
  // REQUIRES: no live Watch.
  ~StallWatchdog();
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // The process's watchdog, on the system clock; never destroyed.
  static StallWatchdog* Default();

  // Watches one call for its lifetime, which must end before `context`'s. Used by the
  // call's thread only.
  class Watch {
   public:
    // `idle` <= 0 (or a null watchdog) watches nothing.
    Watch(StallWatchdog* dog, grpc::ClientContext* context, Nanos idle);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    void BeginWait();  // about to block for the next message
    void EndWait();    // a message, or the end of the stream, arrived
    // Runs `read` (a blocking read of the next message) as one watched wait.
    template <typename Read>
    bool Wait(Read&& read) {
      BeginWait();
      const bool got = read();
      EndWait();
      return got;
    }
    // True once the watchdog cancelled the call for waiting longer than `idle`.
    bool stalled() const { return stalled_.load(std::memory_order_acquire); }
    // What a stalled call returns: Unavailable (transient: the server is frozen or the
    // link is gone, an outage rather than a failure of the call).
    Status StalledError(std::string_view rpc) const;

   private:
    friend class StallWatchdog;
    StallWatchdog* const dog_;
    grpc::ClientContext* const context_;
    const Nanos idle_;
    std::atomic<int64_t> waiting_since_{0};  // the clock's ns; 0 while not waiting
    std::atomic<bool> stalled_{false};
  };

 private:
  void Add(Watch* w) BTRQ_EXCLUDES(mu_);
  void Remove(Watch* w) BTRQ_EXCLUDES(mu_);
  // Cancels the calls waiting past their idle time; returns how long until the next may.
  Nanos CheckLocked() BTRQ_REQUIRES(mu_);
  void ThreadMain() BTRQ_EXCLUDES(mu_);

  const Clock* const clock_;
  Mutex mu_;
  CondVar cv_;
  std::vector<Watch*> watches_ BTRQ_GUARDED_BY(mu_);
  bool stop_ BTRQ_GUARDED_BY(mu_) = false;
  std::thread thread_ BTRQ_GUARDED_BY(mu_);
};

}  // namespace btrq::btrdb
