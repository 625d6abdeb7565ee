#include "broker/task_queue.h"

#include <algorithm>

namespace btrq::broker {

void TaskQueue::AddJob(JobId job, int32_t priority) {
  auto [it, inserted] = jobs_.try_emplace(job);
  if (inserted) {
    it->second.priority = priority;
    it->second.epoch = next_epoch_++;
  }
}

size_t TaskQueue::RemoveJob(JobId job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return 0;
  JobQueue& q = it->second;
  const size_t n = q.ready.size() + q.delayed;
  LeaveRing(q);
  ready_total_ -= q.ready.size();
  delayed_total_ -= q.delayed;
  // Its delayed heap entries stay until due and are dropped then: the epoch no longer
  // matches any job.
  jobs_.erase(it);
  return n;
}

void TaskQueue::EnterRing(JobId job, JobQueue& q) {
  if (q.in_ring) return;
  std::list<JobId>& ring = rings_[q.priority];
  q.ring_pos = ring.insert(ring.end(), job);
  q.in_ring = true;
}

void TaskQueue::LeaveRing(JobQueue& q) {
  if (!q.in_ring) return;
  auto level = rings_.find(q.priority);
  level->second.erase(q.ring_pos);
  if (level->second.empty()) rings_.erase(level);
  q.in_ring = false;
}

void TaskQueue::Push(JobId job, const QueuedTask& task) {
  JobQueue& q = jobs_.at(job);
  q.ready.push_back(task);
  ++ready_total_;
  EnterRing(job, q);
}

void TaskQueue::PushDelayed(JobId job, const QueuedTask& task, SteadyTime ready_at) {
  JobQueue& q = jobs_.at(job);
  delayed_.push(Delayed{ready_at, next_seq_++, job, q.epoch, task});
  ++q.delayed;
  ++delayed_total_;
}

size_t TaskQueue::PromoteDue(SteadyTime now) {
  size_t n = 0;
  while (!delayed_.empty() && delayed_.top().at <= now) {
    Delayed d = delayed_.top();
    delayed_.pop();
    auto it = jobs_.find(d.job);
    if (it == jobs_.end() || it->second.epoch != d.epoch) continue;
    JobQueue& q = it->second;
    --q.delayed;
    --delayed_total_;
    d.task.ready_since = now;
    q.ready.push_back(d.task);
    ++ready_total_;
    EnterRing(d.job, q);
    ++n;
  }
  return n;
}

std::optional<SteadyTime> TaskQueue::NextDelayedAt() const {
  // Entries of removed jobs may still sit on top; a too-early answer only costs the
  // caller a spurious wake-up.
  if (delayed_.empty()) return std::nullopt;
  return delayed_.top().at;
}

std::optional<QueuedTask> TaskQueue::Pop(const std::function<bool(JobId)>& accept) {
  for (auto level = rings_.begin(); level != rings_.end(); ++level) {
    std::list<JobId>& ring = level->second;
    for (auto it = ring.begin(); it != ring.end(); ++it) {
      const JobId job = *it;
      if (accept && !accept(job)) continue;
      JobQueue& q = jobs_.find(job)->second;
      QueuedTask task = q.ready.front();
      q.ready.pop_front();
      --ready_total_;
      if (q.ready.empty()) {
        LeaveRing(q);  // may erase the level; we return before touching it again
      } else {
        ring.splice(ring.end(), ring, it);  // its turn is over: to the back
      }
      return task;
    }
  }
  return std::nullopt;
}

size_t TaskQueue::ready(JobId job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : it->second.ready.size();
}

size_t TaskQueue::delayed(JobId job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : it->second.delayed;
}

std::optional<SteadyTime> TaskQueue::OldestReadySince() const {
  std::optional<SteadyTime> oldest;
  for (const auto& [priority, ring] : rings_) {
    for (JobId job : ring) {
      const SteadyTime t = jobs_.find(job)->second.ready.front().ready_since;
      if (!oldest || t < *oldest) oldest = t;
    }
  }
  return oldest;
}

void TaskQueue::ForEach(JobId job, const std::function<void(const QueuedTask&)>& fn) const {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  for (const QueuedTask& t : it->second.ready) fn(t);
  // The heap is not iterable in place; copy it (rare: compaction only).
  auto copy = delayed_;
  while (!copy.empty()) {
    const Delayed& d = copy.top();
    if (d.job == job && d.epoch == it->second.epoch) fn(d.task);
    copy.pop();
  }
}

}  // namespace btrq::broker
