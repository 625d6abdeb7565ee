// How a task's attempt ends (scheduler.h, Attempts): done, dead-lettered, failed and
// retried, requeued without spending an attempt (a passing outage, a BYE, a finished
// task whose worker died), or ended by a DONE that came after its lease was taken back.

#include "broker/scheduler.h"

#include <algorithm>
#include <string>

namespace btrq::broker {
namespace {

// Take-backs remembered per task: enough for every attempt a worker may still report,
// bounded whatever a task's history.
constexpr size_t kTakenBackPerTask = 8;
// Times an attempt may be taken back unstarted from a lost worker at no cost: a task that
// kills its worker just after a heartbeat listed it queued must still run out of attempts.
constexpr size_t kFreeUnstartedTakeBacks = 3;

}  // namespace

void Scheduler::Complete(Job& job, const Lease& lease) {
  ForgetTakenBack(lease.key);
  job.done_ranges[lease.stream_index].Add(lease.key.start, lease.key.start + job.spec.chunk);
  ++job.done;
  ++done_total_;
  Log([&](std::string* out) { EncodeDone(out, job.id, lease.stream_index, lease.key.start); });
  MaybeFinish(job);
}

void Scheduler::Bury(Job& job, const Lease& lease, std::string_view error) {
  ForgetTakenBack(lease.key);
  job.dead_letters[ChunkId{lease.stream_index, lease.key.start}] =
      broker::DeadLetter{lease.key, lease.attempt, std::string(error)};
  ++job.dead;
  ++dead_total_;
  Log([&](std::string* out) {
    EncodeDead(out, job.id, lease.stream_index, lease.key.start, lease.attempt, error);
  });
  MaybeFinish(job);
}

void Scheduler::FailAttempt(Job& job, const Lease& lease, std::string_view error, bool backoff) {
  if (lease.attempt >= job.spec.max_attempts) {
    std::string why(error);
    why += " (attempt " + std::to_string(lease.attempt) + " of " +
           std::to_string(job.spec.max_attempts) + ")";
    Bury(job, lease, why);
    return;
  }
  Log([&](std::string* out) {
    EncodeAttemptFailed(out, job.id, lease.stream_index, lease.key.start, lease.attempt);
  });
  Requeue(job, lease, lease.attempt + 1, backoff ? backoff_.Delay(lease.attempt) : Nanos(0));
}

void Scheduler::RemoveWorker(std::string_view id, std::string_view why, bool charge) {
  const std::string worker(id);
  workers_.Remove(worker);
  reconnected_.erase(worker);
  // A drain ends when its worker leaves, however it leaves.
  if (auto d = std::find(drains_.begin(), drains_.end(), worker); d != drains_.end()) {
    drains_.erase(d);
    Log([&](std::string* out) { EncodeWorkerDrain(out, worker, /*draining=*/false); });
  }
  for (const Lease& l : leases_.RemoveWorker(worker)) {
    Job* job = FindLive(l.key.job);
    if (job == nullptr) continue;
    --job->in_flight;
    // What the worker's last heartbeat listed as queued never ran there: its loss is no
    // failure of those tasks. Unlisted ones may have started, so they are charged.
    const bool unstarted = l.queued && TakenBackTimes(l) < kFreeUnstartedTakeBacks;
    TakeBack(*job, l, "worker " + worker + " " + std::string(why), /*backoff=*/false,
             charge && !unstarted);
  }
}

size_t Scheduler::TakenBackTimes(const Lease& lease) const {
  auto [begin, end] = taken_back_.equal_range(lease.key);
  return static_cast<size_t>(std::count_if(
      begin, end, [&](const auto& e) { return e.second.attempt == lease.attempt; }));
}

size_t Scheduler::OnWorkerBye(std::string_view worker) {
  const RegisteredWorker* w = workers_.Find(worker);
  if (w == nullptr) return 0;
  const size_t n = w->info.in_flight;
  // The worker stopped on purpose and handed its tasks back (cancelled, unrun): no
  // fault of theirs. A task that hangs is still charged by the next worker's cap.
  RemoveWorker(worker, "left", /*charge=*/false);
  return n;
}

size_t Scheduler::OnWorkerLost(std::string_view worker, std::string_view why) {
  const RegisteredWorker* w = workers_.Find(worker);
  if (w == nullptr) return 0;
  const size_t n = w->info.in_flight;
  RemoveWorker(worker, why);
  return n;
}

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
