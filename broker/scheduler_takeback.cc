// The scheduler's side of "a passing outage never burns an attempt" (scheduler.h,
// Attempts): requeues that spend no attempt, leases taken back without a DONE, and DONEs
// that come after their lease was taken back.

#include <algorithm>

#include "broker/scheduler.h"

namespace btrq::broker {
namespace {

// Take-backs remembered per task: enough for every attempt a worker may still report,
// bounded whatever a task's history.
constexpr size_t kTakenBackPerTask = 8;

}  // namespace

void Scheduler::Requeue(Job& job, const Lease& lease, uint32_t attempt, Nanos delay) {
  ++job.retried;
  ++retried_total_;
  const SteadyTime now = clock_->Now();
  const QueuedTask task{lease.key, lease.stream_index, attempt, now};
  if (delay > Nanos(0)) {
    queue_.PushDelayed(job.id, task, now + delay);
  } else {
    queue_.Push(job.id, task);
  }
}

void Scheduler::TakeBack(Job& job, const Lease& lease, std::string_view why, bool backoff,
                         bool charge) {
  auto [begin, end] = taken_back_.equal_range(lease.key);
  if (static_cast<size_t>(std::distance(begin, end)) >= kTakenBackPerTask) {
    taken_back_.erase(std::min_element(begin, end, [](const auto& a, const auto& b) {
      return a.second.attempt < b.second.attempt;
    }));
  }
  taken_back_.emplace(lease.key, TakenBack{lease.stream_index, lease.attempt,
                                           std::string(lease.worker)});
  if (lease.finished || !charge) {
    // A finished task's result exists and may be stored already; running it again is
    // how the broker learns (the sink ACKs a duplicate too), so no attempt is spent and
    // no dead letter can follow.
    if (lease.finished) ++unacked_rerun_total_;
    Requeue(job, lease, lease.attempt, Nanos(0));
    return;
  }
  FailAttempt(job, lease, why, backoff);
}

bool Scheduler::AcceptLateDone(std::string_view worker, RegisteredWorker* w,
                               const DoneItem& item) {
  if (item.error != ErrorClass::kNone || taken_back_.empty()) return false;
  const TaskKey& key = item.task.key;
  auto [begin, end] = taken_back_.equal_range(key);
  auto held = std::find_if(begin, end, [&](const auto& e) {
    return e.second.attempt == item.task.attempt && e.second.worker == worker;
  });
  if (held == end) return false;
  Job* job = FindLive(key.job);
  if (job == nullptr || !IsActive(job->state)) return false;
  Lease done;
  done.key = key;
  done.attempt = item.task.attempt;
  done.stream_index = held->second.stream_index;
  // Another attempt may hold the task now; its lease ends here. Its worker's result is
  // de-duplicated by the sink and its DONE refused as stale.
  if (const Lease* current = leases_.Find(key)) {
    const std::string holder(current->worker);
    LeaseReject reason = LeaseReject::kNone;
    if (std::optional<Lease> l = leases_.Complete(key, current->attempt, holder, &reason)) {
      DropLease(*l);
      --job->in_flight;
    }
  }
  if (w != nullptr) ++w->info.done;
  AddPoints(w, *job, item.points_read);
  ++late_done_total_;
  Complete(*job, done);  // forgets the take-backs; may retire the job
  return true;
}

void Scheduler::ForgetTakenBack(const TaskKey& key) {
  if (!taken_back_.empty()) taken_back_.erase(key);
}

void Scheduler::AddPoints(RegisteredWorker* w, Job& job, int64_t points_read) {
  if (points_read <= 0) return;
  const auto points = static_cast<uint64_t>(points_read);
  if (w != nullptr) w->info.points_read += points;
  job.points_read += points;
  points_total_ += points;
}

}  // namespace btrq::broker
