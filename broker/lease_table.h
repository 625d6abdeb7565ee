#pragma once

// Tasks in flight: one lease per task key, held by one worker for one attempt until a
// deadline. A DONE counts only against the live lease it names (same attempt, same
// worker); anything else is rejected with a reason, so a late result of an expired
// attempt, a forged DONE or one for a task never dispatched is never counted.
//
// A pure data structure: callers pass times. Not thread-safe; the scheduler's thread
// owns it.
//
// Cost (it runs once per task on the dispatcher's thread): leases live in a slab indexed
// by an open-addressing hash of the key; deadlines sit in one FIFO per timeout value
// (grants arrive in time order, so appending keeps each FIFO sorted); a renewed or ended
// lease leaves its old entry behind, skipped when it reaches the front and swept out when
// such entries outnumber the live ones. Worker names are interned: a lease holds a small
// id, and Lease::worker views the table's copy. Grant, Renew and Complete allocate
// nothing in the steady state.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"

namespace btrq::broker {

// A lease is renewed by heartbeats, but never past kMaxLeaseTimeouts x timeout after it was
// granted: a task whose executor hangs while its worker lives (and heartbeats) is taken
// back like one whose worker died. Not so once the worker says the task finished (its
// result awaits the sink's ACK, Lease::finished): a sink outage must not cost it. The factor leaves room for the time a task waits in
// its worker's queue (credit = 2 x threads) before it runs for up to one timeout.
inline constexpr int kMaxLeaseTimeouts = 2;

struct Lease {
  TaskKey key;
  uint32_t attempt = 0;
  // The holder's id: a view of the table's copy, valid until the table's next Grant()
  // (a name no live lease uses any more may be reused then). Copy it to keep it longer.
  std::string_view worker;
  SteadyTime deadline{};
  Nanos timeout{0};           // renewals extend the deadline to now + timeout...
  SteadyTime granted{};       // ...but not past granted + kMaxLeaseTimeouts x timeout
  uint32_t stream_index = 0;  // the caller's cookie, handed back on completion
  // The worker said the task finished and its result awaits the sink's ACK: renewals
  // are no longer capped, and taking the lease back is no failure of the task.
  bool finished = false;
  // The worker's last heartbeat said the task waits in its queue, not started: if the
  // worker dies, the task did not take it down (Scheduler::RemoveWorker).
  bool queued = false;
};

// What a heartbeat says of a task it renews (HEARTBEAT `q`, `r`, `a`).
enum class TaskProgress : uint8_t { kQueued, kRunning, kFinished };

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

  // Extends the lease to now + timeout (at most granted + kMaxLeaseTimeouts x timeout
  // unless the lease is `finished`; never shortens it) if `worker` holds `attempt` of
  // `key`. kFinished (the result awaits the sink's ACK) marks the lease so, for good;
  // kQueued and kRunning set or clear Lease::queued.
  bool Renew(const TaskKey& key, uint32_t attempt, std::string_view worker, SteadyTime now,
             TaskProgress progress = TaskProgress::kRunning);

  // Ends the lease if `worker` holds `attempt` of `key` and returns it; otherwise
  // returns nullopt and sets *reason.
  std::optional<Lease> Complete(const TaskKey& key, uint32_t attempt, std::string_view worker,
                                LeaseReject* reason);

  // Moves every lease's deadline and grant time `by` later (the broker was stopped: the
  // time nobody listened to heartbeats is not held against anyone).
  void Postpone(Nanos by);

  // Removes and returns every lease whose deadline is before `now`, earliest first.
  std::vector<Lease> ExpireBefore(SteadyTime now);
  // Removes and returns every lease `worker` holds.
  std::vector<Lease> RemoveWorker(std::string_view worker);
  // Removes and returns every lease of `job`.
  std::vector<Lease> RemoveJob(JobId job);

  // The live lease of `key`, or null; valid until the next non-const call.
  const Lease* Find(const TaskKey& key) const;
  size_t size() const { return live_; }
  // The earliest deadline, if any lease is live.
  std::optional<SteadyTime> NextDeadline() const;
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slab_) {
      if (s.live) fn(s.lease);
    }
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;

  struct Slot {
    Lease lease;
    uint32_t generation = 0;  // bumped when the slot is freed: old queue entries go stale
    uint32_t worker = 0;      // index into workers_
    bool live = false;
  };
  // A deadline entry; current while its slot is live, of the same generation, and the
  // lease's deadline is still this one (not renewed since).
  struct Entry {
    SteadyTime deadline;
    uint32_t slot;
    uint32_t generation;
  };
  // Entries of one timeout value, sorted by deadline; [head, size) are queued.
  struct DeadlineQueue {
    Nanos timeout{0};
    std::vector<Entry> entries;
    size_t head = 0;
    bool empty() const { return head == entries.size(); }
    const Entry& front() const { return entries[head]; }
  };
  struct WorkerName {
    std::string name;
    uint32_t leases = 0;  // live leases held
    bool idle_listed = false;  // in idle_workers_
  };
  // Open-addressing (linear probing) index entry: slot + 1 (0 = empty) and the key's hash.
  struct IndexEntry {
    uint32_t slot_plus_one = 0;
    uint32_t hash = 0;
  };

  static constexpr size_t kNoPos = SIZE_MAX;
  // The index position of `key` (whose hash is `hash`) with *found = true, or else the
  // empty position where it would go with *found = false. REQUIRES: a non-empty index.
  size_t Probe(const TaskKey& key, uint32_t hash, bool* found) const;
  // The index position of `key` (whose hash is `hash`), or kNoPos.
  size_t FindPos(const TaskKey& key, uint32_t hash) const;
  void IndexInsert(uint32_t slot, uint32_t hash);
  void IndexEraseAt(size_t pos);
  void GrowIndex();

  // The interned id of `worker`, or kNone; InternWorker adds it if missing.
  uint32_t LookupWorker(std::string_view worker) const;
  uint32_t InternWorker(std::string_view worker);

  DeadlineQueue& QueueFor(Nanos timeout);
  void Push(DeadlineQueue& q, const Entry& e);
  void PopFront(DeadlineQueue& q);
  bool Current(const Entry& e) const;
  // Drops stale entries at the front of `q` (so its front is a live deadline).
  void Settle(DeadlineQueue& q);
  void SettleAll();
  // Removes stale entries everywhere once they outnumber the live ones.
  void MaybeSweep();

  // Frees a live slot (its index entry at `pos`, or found when kNoPos; its worker's
  // count) and returns its lease. The caller accounts for its deadline entry.
  Lease Release(uint32_t slot, size_t pos = kNoPos);
  template <typename Pred>
  std::vector<Lease> RemoveIf(Pred pred);

  std::vector<Slot> slab_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  std::vector<IndexEntry> index_;  // size 0 or a power of two, at most half full
  std::vector<DeadlineQueue> queues_;
  size_t last_queue_ = 0;
  size_t stale_entries_ = 0;
  std::deque<WorkerName> workers_;  // a deque: names never move (Lease::worker views them)
  std::map<std::string, uint32_t, std::less<>> worker_ids_;
  std::vector<uint32_t> idle_workers_;  // ids whose lease count dropped to 0 (maybe reused)
  mutable uint32_t last_worker_ = kNone;
};

}  // namespace btrq::broker
