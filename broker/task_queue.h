#pragma once

// Tasks waiting for a worker. Ready tasks are served by priority (higher first) and,
// among jobs of equal priority, round-robin one task per job, so a big job cannot starve
// a small one. Delayed tasks (retry backoff) wait in a time heap until PromoteDue().
//
// A pure data structure: no I/O, no clock reads (callers pass times). Not thread-safe;
// the scheduler's thread owns it. Entries are small (key, stream index, attempt, time):
// the full TaskSpec is built at dispatch.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"

namespace btrq::broker {

struct QueuedTask {
  TaskKey key;
  uint32_t stream_index = 0;
  uint32_t attempt = 1;
  SteadyTime ready_since{};  // when it became ready (for the oldest-ready age)
};

class TaskQueue {
 public:
  TaskQueue() = default;
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Registers a job before its first Push. Re-adding an existing job keeps its tasks.
  void AddJob(JobId job, int32_t priority);
  // Drops the job and every task it has queued or delayed; returns how many.
  size_t RemoveJob(JobId job);
  bool HasJob(JobId job) const { return jobs_.count(job) != 0; }

  // Queues a ready task. REQUIRES: HasJob(job).
  void Push(JobId job, const QueuedTask& task);
  // Queues a task that becomes ready at `ready_at`. REQUIRES: HasJob(job).
  void PushDelayed(JobId job, const QueuedTask& task, SteadyTime ready_at);
  // Moves delayed tasks due at or before `now` to ready. Returns how many.
  size_t PromoteDue(SteadyTime now);
  // When the next delayed task becomes ready, if any.
  std::optional<SteadyTime> NextDelayedAt() const;

  // Takes the next ready task of a job `accept` returns true for: highest priority
  // first, round-robin between jobs of one priority. nullopt when none qualifies.
  std::optional<QueuedTask> Pop(const std::function<bool(JobId)>& accept);

  size_t ready(JobId job) const;
  size_t delayed(JobId job) const;
  size_t ready_total() const { return ready_total_; }
  size_t delayed_total() const { return delayed_total_; }
  // ready_since of the longest-waiting ready task; nullopt when nothing is ready.
  // O(jobs with ready tasks).
  std::optional<SteadyTime> OldestReadySince() const;

  // Calls fn for every queued and delayed task of the job (ready first).
  void ForEach(JobId job, const std::function<void(const QueuedTask&)>& fn) const;

 private:
  struct JobQueue {
    int32_t priority = 0;
    uint64_t epoch = 0;  // tells this job's delayed entries from a removed job's
    std::deque<QueuedTask> ready;
    size_t delayed = 0;
    bool in_ring = false;
    std::list<JobId>::iterator ring_pos;
  };
  struct Delayed {
    SteadyTime at;
    uint64_t seq;
    JobId job;
    uint64_t epoch;
    QueuedTask task;
    bool operator>(const Delayed& o) const {
      return at != o.at ? at > o.at : seq > o.seq;
    }
  };

  void EnterRing(JobId job, JobQueue& q);
  void LeaveRing(JobQueue& q);

  std::unordered_map<JobId, JobQueue> jobs_;
  // Jobs with ready tasks, by priority (highest first), each level a rotation.
  std::map<int32_t, std::list<JobId>, std::greater<>> rings_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_;
  uint64_t next_epoch_ = 1;
  uint64_t next_seq_ = 0;
  size_t ready_total_ = 0;
  size_t delayed_total_ = 0;
};

}  // namespace btrq::broker
