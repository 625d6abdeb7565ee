#include "broker/lease_table.h"

#include <algorithm>

#include "common/limits.h"

namespace btrq::broker {
namespace {

// Stale deadline entries are swept once there are more of them than this and than live
// leases, so a sweep costs O(live) amortised over as many operations.
constexpr size_t kSweepFloor = 1024;
// A queue's consumed prefix is erased once it is this long and half the vector.
constexpr size_t kCompactHead = 1024;

// The index keeps 32 bits of a key's hash.
uint32_t HashOf(const TaskKey& key) { return static_cast<uint32_t>(TaskKeyHash()(key)); }

}  // namespace

std::string_view LeaseRejectName(LeaseReject reason) {
  switch (reason) {
    case LeaseReject::kNone: return "none";
    case LeaseReject::kUnknownTask: return "unknown_task";
    case LeaseReject::kWrongAttempt: return "wrong_attempt";
    case LeaseReject::kWrongWorker: return "wrong_worker";
    case LeaseReject::kUnknownWorker: return "unknown_worker";
    case LeaseReject::kJobNotActive: return "job_not_active";
  }
  return "unknown";
}

// --- Index ---

size_t LeaseTable::Probe(const TaskKey& key, uint32_t hash, bool* found) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const IndexEntry& e = index_[i];
    if (e.slot_plus_one == 0) {
      *found = false;
      return i;
    }
    if (e.hash == hash && slab_[e.slot_plus_one - 1].lease.key == key) {
      *found = true;
      return i;
    }
  }
}

size_t LeaseTable::FindPos(const TaskKey& key, uint32_t hash) const {
  if (index_.empty()) return kNoPos;
  bool found;
  const size_t pos = Probe(key, hash, &found);
  return found ? pos : kNoPos;
}

void LeaseTable::GrowIndex() {
  std::vector<IndexEntry> old = std::move(index_);
  index_.assign(std::max<size_t>(64, old.size() * 2), IndexEntry{});
  for (const IndexEntry& e : old) {
    if (e.slot_plus_one != 0) IndexInsert(e.slot_plus_one - 1, e.hash);
  }
}

void LeaseTable::IndexInsert(uint32_t slot, uint32_t hash) {
  const size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  while (index_[i].slot_plus_one != 0) i = (i + 1) & mask;
  index_[i] = IndexEntry{slot + 1, hash};
}

void LeaseTable::IndexEraseAt(size_t i) {
  const size_t mask = index_.size() - 1;
  // Backward-shift deletion: move up every later entry of the run that may sit at i.
  for (size_t j = (i + 1) & mask; index_[j].slot_plus_one != 0; j = (j + 1) & mask) {
    const size_t home = index_[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = IndexEntry{};
}

// --- Workers ---

uint32_t LeaseTable::LookupWorker(std::string_view worker) const {
  if (last_worker_ != kNone && workers_[last_worker_].name == worker) return last_worker_;
  auto it = worker_ids_.find(worker);
  if (it == worker_ids_.end()) return kNone;
  last_worker_ = it->second;
  return it->second;
}

uint32_t LeaseTable::InternWorker(std::string_view worker) {
  if (const uint32_t id = LookupWorker(worker); id != kNone) return id;
  uint32_t id = kNone;
  while (!idle_workers_.empty() && id == kNone) {
    const uint32_t candidate = idle_workers_.back();
    idle_workers_.pop_back();
    workers_[candidate].idle_listed = false;
    if (workers_[candidate].leases == 0) id = candidate;
  }
  if (id == kNone) {
    id = static_cast<uint32_t>(workers_.size());
    workers_.emplace_back();
  } else {
    worker_ids_.erase(worker_ids_.find(workers_[id].name));
  }
  workers_[id].name.assign(worker);
  worker_ids_.emplace(workers_[id].name, id);
  last_worker_ = id;
  return id;
}

// --- Deadlines ---

LeaseTable::DeadlineQueue& LeaseTable::QueueFor(Nanos timeout) {
  if (last_queue_ < queues_.size() && queues_[last_queue_].timeout == timeout) {
    return queues_[last_queue_];
  }
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (queues_[i].timeout == timeout) {
      last_queue_ = i;
      return queues_[i];
    }
  }
  last_queue_ = queues_.size();
  queues_.emplace_back().timeout = timeout;
  return queues_.back();
}

void LeaseTable::Push(DeadlineQueue& q, const Entry& e) {
  if (q.empty() || q.entries.back().deadline <= e.deadline) {
    q.entries.push_back(e);
    return;
  }
  // Out of order (a grant with an earlier `now`, or a renewal capped below the newest
  // deadline): insert in place.
  auto at = std::upper_bound(q.entries.begin() + static_cast<ptrdiff_t>(q.head), q.entries.end(),
                             e.deadline,
                             [](SteadyTime d, const Entry& x) { return d < x.deadline; });
  q.entries.insert(at, e);
}

bool LeaseTable::Current(const Entry& e) const {
  const Slot& s = slab_[e.slot];
  return s.live && s.generation == e.generation && s.lease.deadline == e.deadline;
}

void LeaseTable::PopFront(DeadlineQueue& q) {
  ++q.head;
  if (q.head == q.entries.size()) {
    q.entries.clear();
    q.head = 0;
  } else if (q.head >= kCompactHead && 2 * q.head >= q.entries.size()) {
    q.entries.erase(q.entries.begin(), q.entries.begin() + static_cast<ptrdiff_t>(q.head));
    q.head = 0;
  }
}

void LeaseTable::Settle(DeadlineQueue& q) {
  while (!q.empty() && !Current(q.front())) {
    PopFront(q);
    --stale_entries_;
  }
}

void LeaseTable::SettleAll() {
  for (DeadlineQueue& q : queues_) Settle(q);
}

void LeaseTable::MaybeSweep() {
  if (stale_entries_ <= kSweepFloor || stale_entries_ <= live_) return;
  std::vector<DeadlineQueue> kept;
  for (DeadlineQueue& q : queues_) {
    auto end = std::copy_if(q.entries.begin() + static_cast<ptrdiff_t>(q.head), q.entries.end(),
                            q.entries.begin(), [this](const Entry& e) { return Current(e); });
    q.entries.erase(end, q.entries.end());
    q.head = 0;
    if (!q.entries.empty()) kept.push_back(std::move(q));
  }
  queues_ = std::move(kept);
  last_queue_ = 0;
  stale_entries_ = 0;
}

// --- Leases ---

Lease LeaseTable::Release(uint32_t slot, size_t pos) {
  Slot& s = slab_[slot];
  IndexEraseAt(pos != kNoPos ? pos : FindPos(s.lease.key, HashOf(s.lease.key)));
  s.live = false;
  ++s.generation;
  --live_;
  WorkerName& w = workers_[s.worker];
  if (--w.leases == 0 && !w.idle_listed) {
    w.idle_listed = true;
    idle_workers_.push_back(s.worker);
  }
  free_slots_.push_back(slot);
  return s.lease;
}

bool LeaseTable::Grant(const TaskKey& key, uint32_t attempt, std::string_view worker,
                       SteadyTime now, Nanos timeout, uint32_t stream_index) {
  const uint32_t hash = HashOf(key);
  // One probe finds the key, or the empty entry where it goes (growing first keeps
  // that entry valid).
  if (2 * (live_ + 1) > index_.size()) GrowIndex();
  bool found;
  const size_t pos = Probe(key, hash, &found);
  if (found) return false;
  const uint32_t worker_id = InternWorker(worker);
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slab_.size());
    slab_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& s = slab_[slot];
  s.live = true;
  s.worker = worker_id;
  Lease& l = s.lease;
  l.key = key;
  l.attempt = attempt;
  l.worker = workers_[worker_id].name;
  // Saturating: a timeout near int64's end must not wrap the deadline into the past.
  l.deadline = limits::SaturatingAdd(now, timeout);
  l.timeout = timeout;
  l.granted = now;
  l.stream_index = stream_index;
  l.finished = false;
  ++workers_[worker_id].leases;
  index_[pos] = IndexEntry{slot + 1, hash};
  ++live_;
  Push(QueueFor(timeout), Entry{l.deadline, slot, s.generation});
  return true;
}

bool LeaseTable::Renew(const TaskKey& key, uint32_t attempt, std::string_view worker,
                       SteadyTime now, TaskProgress progress) {
  const size_t pos = FindPos(key, HashOf(key));
  if (pos == kNoPos) return false;
  const uint32_t slot = index_[pos].slot_plus_one - 1;
  Lease& l = slab_[slot].lease;
  if (l.attempt != attempt || l.worker != worker) return false;
  if (progress == TaskProgress::kFinished) l.finished = true;
  l.queued = progress == TaskProgress::kQueued;
  // The cap is for hung executors; a finished task only waits for the sink, which may
  // be away for as long as an outage lasts.
  const SteadyTime renewal = limits::SaturatingAdd(now, l.timeout);
  SteadyTime cap = l.granted;
  for (int i = 0; i < kMaxLeaseTimeouts; ++i) cap = limits::SaturatingAdd(cap, l.timeout);
  const SteadyTime deadline = std::max(l.deadline, l.finished ? renewal : std::min(renewal, cap));
  if (deadline == l.deadline) return true;
  l.deadline = deadline;
  ++stale_entries_;  // the entry of the old deadline
  DeadlineQueue& q = QueueFor(l.timeout);
  Push(q, Entry{deadline, slot, slab_[slot].generation});
  Settle(q);
  MaybeSweep();
  return true;
}

std::optional<Lease> LeaseTable::Complete(const TaskKey& key, uint32_t attempt,
                                          std::string_view worker, LeaseReject* reason) {
  const size_t pos = FindPos(key, HashOf(key));
  if (pos == kNoPos) {
    *reason = LeaseReject::kUnknownTask;
    return std::nullopt;
  }
  const uint32_t slot = index_[pos].slot_plus_one - 1;
  const Lease& held = slab_[slot].lease;
  if (held.attempt != attempt) {
    *reason = LeaseReject::kWrongAttempt;
    return std::nullopt;
  }
  if (held.worker != worker) {
    *reason = LeaseReject::kWrongWorker;
    return std::nullopt;
  }
  *reason = LeaseReject::kNone;
  Lease l = Release(slot, pos);
  ++stale_entries_;
  Settle(QueueFor(l.timeout));
  MaybeSweep();
  return l;
}

std::vector<Lease> LeaseTable::ExpireBefore(SteadyTime now) {
  std::vector<Lease> out;
  for (;;) {
    DeadlineQueue* earliest = nullptr;
    for (DeadlineQueue& q : queues_) {
      if (!q.empty() && (earliest == nullptr || q.front().deadline < earliest->front().deadline)) {
        earliest = &q;
      }
    }
    if (earliest == nullptr || !(earliest->front().deadline < now)) break;
    const uint32_t slot = earliest->front().slot;
    PopFront(*earliest);
    out.push_back(Release(slot));
    Settle(*earliest);
  }
  MaybeSweep();
  return out;
}

void LeaseTable::Postpone(Nanos by) {
  // Rare (a stall of the broker): the deadline queues are rebuilt from the live leases,
  // which also drops every stale entry.
  for (DeadlineQueue& q : queues_) {
    q.entries.clear();
    q.head = 0;
  }
  stale_entries_ = 0;
  for (uint32_t i = 0; i < slab_.size(); ++i) {
    Slot& s = slab_[i];
    if (!s.live) continue;
    s.lease.deadline = limits::SaturatingAdd(s.lease.deadline, by);
    s.lease.granted = limits::SaturatingAdd(s.lease.granted, by);
    QueueFor(s.lease.timeout).entries.push_back(Entry{s.lease.deadline, i, s.generation});
  }
  for (DeadlineQueue& q : queues_) {
    std::sort(q.entries.begin(), q.entries.end(),
              [](const Entry& a, const Entry& b) { return a.deadline < b.deadline; });
  }
}

template <typename Pred>
std::vector<Lease> LeaseTable::RemoveIf(Pred pred) {
  std::vector<Lease> out;
  for (uint32_t i = 0; i < slab_.size(); ++i) {
    if (slab_[i].live && pred(slab_[i])) {
      out.push_back(Release(i));
      ++stale_entries_;
    }
  }
  if (!out.empty()) {
    SettleAll();
    MaybeSweep();
  }
  return out;
}

std::vector<Lease> LeaseTable::RemoveWorker(std::string_view worker) {
  const uint32_t id = LookupWorker(worker);
  if (id == kNone) return {};
  return RemoveIf([id](const Slot& s) { return s.worker == id; });
}

std::vector<Lease> LeaseTable::RemoveJob(JobId job) {
  return RemoveIf([job](const Slot& s) { return s.lease.key.job == job; });
}

const Lease* LeaseTable::Find(const TaskKey& key) const {
  const size_t pos = FindPos(key, HashOf(key));
  return pos == kNoPos ? nullptr : &slab_[index_[pos].slot_plus_one - 1].lease;
}

std::optional<SteadyTime> LeaseTable::NextDeadline() const {
  std::optional<SteadyTime> t;
  for (const DeadlineQueue& q : queues_) {
    if (!q.empty() && (!t || q.front().deadline < *t)) t = q.front().deadline;
  }
  return t;
}

}  // namespace btrq::broker
