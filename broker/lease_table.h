#pragma once

// Tasks in flight: one lease per task key, held by one worker for one attempt until a
// deadline. A DONE counts only against the live lease it names (same attempt, same
// worker); anything else is rejected with a reason, so a late result of an expired
// attempt, a forged DONE or one for a task never dispatched is never counted.
//
// A pure data structure: callers pass times. Not thread-safe; the scheduler's thread
// owns it.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"

namespace btrq::broker {

// A lease is renewed by heartbeats, but never past kMaxLeaseTimeouts x timeout after it was
// granted: a task whose executor hangs while its worker lives (and heartbeats) is taken
// back like one whose worker died. The factor leaves room for the time a task waits in
// its worker's queue (credit = 2 x threads) before it runs for up to one timeout.
inline constexpr int kMaxLeaseTimeouts = 2;

struct Lease {
  TaskKey key;
  uint32_t attempt = 0;
  std::string worker;
  SteadyTime deadline{};
  Nanos timeout{0};           // renewals extend the deadline to now + timeout...
  SteadyTime granted{};       // ...but not past granted + kMaxLeaseTimeouts x timeout
  uint32_t stream_index = 0;  // the caller's cookie, handed back on completion
};

// Why a completion was refused. Values are stable (metrics labels).
enum class LeaseReject : uint8_t {
  kNone = 0,
  kUnknownTask,   // no live lease for the key: never dispatched, already done, expired
  kWrongAttempt,  // the key is leased, but for another attempt (a late or early DONE)
  kWrongWorker,   // the key and attempt are leased, to another worker (forged)
  kUnknownWorker, // the sender never said HELLO (or was declared dead)
  kJobNotActive,  // the job was cancelled or has failed
};
std::string_view LeaseRejectName(LeaseReject reason);

class LeaseTable {
 public:
  LeaseTable() = default;
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // Leases `key` for `attempt` to `worker` until now + timeout. Returns false (and
  // changes nothing) if the key is already leased.
  bool Grant(const TaskKey& key, uint32_t attempt, std::string_view worker, SteadyTime now,
             Nanos timeout, uint32_t stream_index);

  // Extends the lease to now + timeout (at most granted + kMaxLeaseTimeouts x timeout) if
  // `worker` holds `attempt` of `key`.
  bool Renew(const TaskKey& key, uint32_t attempt, std::string_view worker, SteadyTime now);

  // Ends the lease if `worker` holds `attempt` of `key` and returns it; otherwise
  // returns nullopt and sets *reason.
  std::optional<Lease> Complete(const TaskKey& key, uint32_t attempt, std::string_view worker,
                                LeaseReject* reason);

  // Removes and returns every lease whose deadline is before `now`, earliest first.
  std::vector<Lease> ExpireBefore(SteadyTime now);
  // Removes and returns every lease `worker` holds.
  std::vector<Lease> RemoveWorker(std::string_view worker);
  // Removes and returns every lease of `job`.
  std::vector<Lease> RemoveJob(JobId job);

  const Lease* Find(const TaskKey& key) const;
  size_t size() const { return leases_.size(); }
  // The earliest deadline, if any lease is live.
  std::optional<SteadyTime> NextDeadline() const;
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, lease] : leases_) fn(lease);
  }

 private:
  std::vector<Lease> RemoveIf(const std::function<bool(const Lease&)>& pred);

  std::unordered_map<TaskKey, Lease> leases_;
  std::set<std::pair<SteadyTime, TaskKey>> by_deadline_;
};

}  // namespace btrq::broker
