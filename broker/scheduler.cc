#include "broker/scheduler.h"

#include <algorithm>
#include <set>
#include <utility>

namespace btrq::broker {

namespace {

uint64_t Sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

Scheduler::Scheduler(const SchedulerOptions& options, Clock* clock,
                     std::unique_ptr<CatalogRunner> runner, std::unique_ptr<Journal> journal)
    : options_(options),
      clock_(clock),
      runner_(std::move(runner)),
      journal_(std::move(journal)),
      random_(options.seed != 0 ? options.seed : static_cast<uint64_t>(clock->WallNanos()) | 1),
      backoff_(options.retry_backoff, &random_),
      workers_(options.heartbeat_interval * options.liveness) {}

Scheduler::~Scheduler() = default;

Result<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerOptions& options,
                                                     Clock* clock, StreamCatalog* catalog,
                                                     std::unique_ptr<Journal> journal) {
  return Create(options, clock, CatalogRunner::Inline(catalog), std::move(journal));
}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerOptions& options,
                                                     Clock* clock,
                                                     std::unique_ptr<CatalogRunner> runner,
                                                     std::unique_ptr<Journal> journal) {
  if (runner == nullptr) return Status::InvalidArgument("scheduler: no catalog runner");
  if (options.window_per_job == 0) {
    return Status::InvalidArgument("scheduler: window_per_job must be positive");
  }
  if (options.liveness == 0 || options.heartbeat_interval <= Nanos(0)) {
    return Status::InvalidArgument("scheduler: heartbeat interval and liveness must be positive");
  }
  std::unique_ptr<Scheduler> s(
      new Scheduler(options, clock, std::move(runner), std::move(journal)));
  if (s->journal_) {
    BTRQ_RETURN_IF_ERROR(s->Replay());
    s->last_snapshot_bytes_ = s->journal_->file_bytes();
  }
  return s;
}

// --- Helpers ---

Scheduler::Job* Scheduler::FindLive(JobId id) const {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second.get();
}

JobCounts Scheduler::CountsOf(const Job& job) const {
  JobCounts c;
  c.total = job.expander->total_known();
  c.total_final = job.expander->all_pinned();
  c.in_flight = job.in_flight;
  c.done = job.done;
  c.dead = job.dead;
  c.retried = job.retried;
  c.cancelled = job.cancelled;
  c.streams = job.expander->streams().size();
  c.points_read = job.points_read;
  c.pending = Sub(c.total, c.done + c.dead + c.in_flight + c.cancelled);
  return c;
}

JobInfo Scheduler::InfoOf(const Job& job) const {
  JobInfo info;
  info.id = job.id;
  info.nonce = job.nonce;
  info.spec = job.spec;
  info.state = job.state;
  info.counts = CountsOf(job);
  info.error = job.error.empty() ? job.waiting : job.error;
  info.submitted_wall_ns = job.submitted_wall_ns;
  info.finished_wall_ns = job.finished_wall_ns;
  info.queued = queue_.ready(job.id);
  info.delayed = queue_.delayed(job.id);
  return info;
}

void Scheduler::AddSummary(JobInfo info) {
  // Keep the summary small: a finished job's spec is only shown by name.
  JobSpec slim;
  slim.name = std::move(info.spec.name);
  slim.collection = std::move(info.spec.collection);
  slim.analytic = std::move(info.spec.analytic);
  slim.priority = info.spec.priority;
  info.spec = std::move(slim);
  info.queued = 0;
  info.delayed = 0;
  const JobId id = info.id;
  finished_[id] = std::move(info);
  while (finished_.size() > options_.finished_jobs_kept) finished_.erase(finished_.begin());
}

void Scheduler::Retire(Job& job) {
  queue_.RemoveJob(job.id);
  for (const Lease& l : leases_.RemoveJob(job.id)) {
    DropLease(l);
    cancel_notices_.push_back(CancelNotice{std::string(l.worker), job.id});
  }
  job.in_flight = 0;
  std::erase_if(taken_back_, [&job](const auto& e) { return e.first.job == job.id; });
  JobInfo info = InfoOf(job);
  std::erase_if(pending_pins_, [&](const PendingPin& p) { return p.job == job.id; });
  live_.erase(job.id);  // destroys `job`
  AddSummary(std::move(info));
}

void Scheduler::MaybeFinish(Job& job) {
  if (!IsActive(job.state) && job.state != JobState::kDoneWithFailures) return;
  const JobExpander& ex = *job.expander;
  if (!ex.all_pinned() || job.done + job.dead < ex.total_known() || job.in_flight > 0) return;
  const JobState before = job.state;
  job.state = job.dead > 0 ? JobState::kDoneWithFailures : JobState::kDone;
  if (before == job.state) return;
  if (job.finished_wall_ns == 0) job.finished_wall_ns = clock_->WallNanos();
  queue_.RemoveJob(job.id);
  const JobInfo info = InfoOf(job);
  Log([&](std::string* out) { EncodeJobSummary(out, info); });
  // A job with dead letters stays whole so RetryJob can requeue them.
  if (job.state == JobState::kDone) Retire(job);
}

void Scheduler::FailJob(Job& job, const Status& error) {
  job.state = JobState::kFailed;
  job.error = error.ToString();
  job.finished_wall_ns = clock_->WallNanos();
  Log([&](std::string* out) { EncodeJobFailed(out, job.id, job.error, job.finished_wall_ns); });
  Retire(job);
}

void Scheduler::DropLease(const Lease& lease) { workers_.ReleaseLease(lease.worker); }

// --- Jobs ---

Result<JobId> Scheduler::SubmitJob(const JobSpec& spec, DurableCallback on_durable) {
  BTRQ_RETURN_IF_ERROR(spec.Validate());
  // The nonce keeps this job's results apart from any earlier job given the same id
  // (a journal salvaged or lost): the id alone is only unique per journal.
  std::unique_ptr<Job> owned =
      MakeLiveJob(next_job_id_++, NewJobNonce(), spec, clock_->WallNanos(),
                  workers_.InternAnalytic(spec.analytic));
  Job& job = *owned;
  job.durable = journal_ == nullptr;
  queue_.AddJob(job.id, spec.priority);
  live_.emplace(job.id, std::move(owned));
  const JobId id = job.id;
  if (!journal_) {
    if (on_durable) on_durable(Status::OK());
    return id;
  }
  scratch_.clear();
  EncodeJob(&scratch_, id, job.nonce, spec, job.submitted_wall_ns);
  journal_->AppendAcked(scratch_, [this, id, cb = std::move(on_durable)](const Status& s) {
    if (Job* j = FindLive(id)) {
      if (s.ok()) {
        j->durable = true;
      } else {
        // Never acknowledged, never journaled: forget it entirely.
        queue_.RemoveJob(id);
        live_.erase(id);
      }
    }
    if (cb) cb(s);
  });
  return id;
}

Result<std::vector<std::string>> Scheduler::CancelJob(JobId id) {
  Job* job = FindLive(id);
  if (job == nullptr) {
    if (finished_.count(id) != 0) {
      return Status::FailedPrecondition("job " + std::to_string(id) + " has already finished");
    }
    return Status::NotFound("no job " + std::to_string(id));
  }
  if (!IsActive(job->state)) {
    return Status::FailedPrecondition("job " + std::to_string(id) + " is " +
                                      std::string(JobStateName(job->state)));
  }
  const std::vector<Lease> held = leases_.RemoveJob(id);
  std::set<std::string> workers;
  for (const Lease& l : held) {
    DropLease(l);
    workers.emplace(l.worker);
  }
  for (const std::string& w : workers) cancel_notices_.push_back(CancelNotice{w, id});
  job->in_flight = 0;
  job->cancelled = job->Unresolved();
  job->state = JobState::kCancelled;
  job->finished_wall_ns = clock_->WallNanos();
  Log([&](std::string* out) { EncodeCancel(out, id, job->finished_wall_ns); });
  Retire(*job);
  return std::vector<std::string>(workers.begin(), workers.end());
}

Result<size_t> Scheduler::RetryJob(JobId id) {
  Job* job = FindLive(id);
  if (job == nullptr) {
    if (finished_.count(id) != 0) {
      return Status::FailedPrecondition("job " + std::to_string(id) +
                                        " has finished without dead letters or was cancelled");
    }
    return Status::NotFound("no job " + std::to_string(id));
  }
  if (job->dead_letters.empty()) {
    return Status::FailedPrecondition("job " + std::to_string(id) + " has no dead letters");
  }
  queue_.AddJob(id, job->spec.priority);
  const SteadyTime now = clock_->Now();
  const ExpansionCursor& cur = job->expander->cursor();
  for (const auto& [chunk, letter] : job->dead_letters) {
    // Letters the cursor has not reached yet (it restarts at the beginning after a
    // replay) will be expanded again once they are no longer dead; queue only the rest.
    const bool behind = chunk.stream < cur.stream_index ||
                        (chunk.stream == cur.stream_index && cur.positioned &&
                         chunk.start < cur.next_start);
    if (behind) queue_.Push(id, QueuedTask{letter.key, chunk.stream, 1, now});
  }
  const size_t n = job->dead_letters.size();
  job->dead_letters.clear();
  job->dead = 0;
  job->retried += n;
  retried_total_ += n;
  job->state = JobState::kRunning;
  job->finished_wall_ns = 0;
  Log([&](std::string* out) { EncodeRetry(out, id); });
  return n;
}

// --- Workers ---

bool Scheduler::OnWorkerHello(const HelloMsg& hello) {
  workers_.Hello(hello, clock_->Now());
  if (std::find(drains_.begin(), drains_.end(), hello.worker_id) == drains_.end()) return false;
  // Told to drain before (maybe by a broker that has since restarted): it still is.
  static_cast<void>(workers_.Drain(hello.worker_id));
  return true;
}

void Scheduler::OnWorkerReconnect(std::string_view worker) {
  std::vector<TaskRef> held;
  leases_.ForEach([&](const Lease& l) {
    if (l.worker == worker) held.push_back(TaskRef{l.key, l.attempt});
  });
  if (held.empty()) {
    reconnected_.erase(std::string(worker));
  } else {
    reconnected_[std::string(worker)] = std::move(held);
  }
}

void Scheduler::TakeBackLostInTransit(std::string_view worker, const HeartbeatMsg& msg) {
  auto it = reconnected_.find(std::string(worker));
  if (it == reconnected_.end()) return;
  // The first heartbeat on the new connection names all the worker holds; a lease it
  // held at the HELLO and leaves out was on the old connection when that closed.
  std::set<TaskRef> named(msg.running.begin(), msg.running.end());
  named.insert(msg.queued.begin(), msg.queued.end());
  named.insert(msg.awaiting_ack.begin(), msg.awaiting_ack.end());
  for (const TaskRef& ref : it->second) {
    if (named.contains(ref)) continue;
    LeaseReject why;
    std::optional<Lease> lease = leases_.Complete(ref.key, ref.attempt, worker, &why);
    if (!lease) continue;  // ended since
    DropLease(*lease);
    Job* job = FindLive(lease->key.job);
    if (job == nullptr) continue;
    --job->in_flight;
    TakeBack(*job, *lease, "lost in transit when its worker reconnected", /*backoff=*/false,
             /*charge=*/false);
  }
  reconnected_.erase(it);
}

Status Scheduler::OnWorkerCredit(std::string_view worker, uint32_t credit) {
  return workers_.AddCredit(worker, credit, clock_->Now());
}

Result<HeartbeatOutcome> Scheduler::OnWorkerHeartbeat(std::string_view worker,
                                                      const HeartbeatMsg& msg) {
  const SteadyTime now = clock_->Now();
  BTRQ_RETURN_IF_ERROR(workers_.Touch(worker, now));
  HeartbeatOutcome out;
  auto renew = [&](const std::vector<TaskRef>& refs, TaskProgress progress) {
    for (const TaskRef& t : refs) {
      if (leases_.Renew(t.key, t.attempt, worker, now, progress)) {
        ++out.renewed;
      } else {
        ++out.unknown;
      }
    }
  };
  renew(msg.queued, TaskProgress::kQueued);
  renew(msg.running, TaskProgress::kRunning);
  renew(msg.awaiting_ack, TaskProgress::kFinished);
  TakeBackLostInTransit(worker, msg);
  return out;
}

DoneOutcome Scheduler::OnWorkerDone(std::string_view worker, const DoneMsg& msg) {
  DoneOutcome out;
  RegisteredWorker* w = workers_.Find(worker);
  if (w != nullptr) w->info.last_seen = clock_->Now();
  for (const DoneItem& item : msg.items) {
    LeaseReject reason = LeaseReject::kUnknownWorker;
    std::optional<Lease> lease;
    if (w != nullptr) lease = leases_.Complete(item.task.key, item.task.attempt, worker, &reason);
    Job* job = lease ? FindLive(lease->key.job) : nullptr;
    if (lease && job == nullptr) reason = LeaseReject::kJobNotActive;
    if (reason != LeaseReject::kNone) {
      // A worker declared dead (and not yet back) may still hold a stored result.
      if (AcceptLateDone(worker, w, item)) {
        ++out.accepted;
        continue;
      }
      out.rejected.emplace_back(item.task, reason);
      ++rejected_[reason];
      continue;
    }
    ++out.accepted;
    if (w->info.in_flight > 0) --w->info.in_flight;
    ++w->info.done;
    --job->in_flight;
    AddPoints(w, *job, item.points_read);
    switch (item.error) {
      case ErrorClass::kNone:
        Complete(*job, *lease);
        break;
      case ErrorClass::kTransient:
        if (item.dependency_down) {
          // Not attempted: the outage is no fault of the task.
          ++handed_back_total_;
          Requeue(*job, *lease, lease->attempt, backoff_.Delay(lease->attempt));
          break;
        }
        ++w->info.failed;
        FailAttempt(*job, *lease, item.message, /*backoff=*/true);
        break;
      case ErrorClass::kPermanent:
      default:
        ++w->info.failed;
        Bury(*job, *lease, item.message);
        break;
    }
  }
  return out;
}

Status Scheduler::DrainWorker(std::string_view worker) {
  BTRQ_RETURN_IF_ERROR(workers_.Drain(worker));
  if (std::find(drains_.begin(), drains_.end(), worker) != drains_.end()) return Status::OK();
  NoteDrain(std::string(worker));
  Log([&](std::string* out) { EncodeWorkerDrain(out, worker, /*draining=*/true); });
  return Status::OK();
}

void Scheduler::NoteDrain(std::string worker) {
  // Drained workers that die without BYE are forgotten oldest first; the live ones are
  // far fewer than this.
  constexpr size_t kMaxDrains = 4096;
  drains_.push_back(std::move(worker));
  if (drains_.size() > kMaxDrains) drains_.pop_front();
}

std::vector<TaskSpec> Scheduler::NextDispatch(std::string_view worker, size_t max_n) {
  std::vector<TaskSpec> out;
  RegisteredWorker* w = workers_.Find(worker);
  if (w == nullptr || w->info.draining || w->info.credit == 0 || max_n == 0) return out;
  const SteadyTime now = clock_->Now();
  queue_.PromoteDue(now);
  const size_t n = static_cast<size_t>(std::min<uint64_t>(w->info.credit, max_n));
  out.reserve(std::min<size_t>(n, 1024));
  const auto accept = [this, w](JobId id) {
    const Job* job = FindLive(id);
    return job != nullptr && w->CanRun(job->analytic_id);
  };
  bool refilled = false;
  while (out.size() < n) {
    std::optional<QueuedTask> t = queue_.Pop(accept);
    if (!t) {
      // The windows ran dry between Expand() calls: refill from pins already made.
      if (refilled) break;
      refilled = true;
      size_t added = 0;
      std::vector<Job*> jobs;
      for (auto& [id, job] : live_) {
        if (IsActive(job->state) && accept(id)) jobs.push_back(job.get());
      }
      for (Job* job : jobs) added += Refill(*job, /*allow_catalog=*/false);
      if (added == 0) break;
      continue;
    }
    Job& job = *FindLive(t->key.job);
    // Requeued, then ended by a late DONE (AcceptLateDone): skip it. Only then can a
    // queued task be done, so the lookup costs nothing per task otherwise.
    if (late_done_total_ > 0) {
      if (auto done = job.done_ranges.find(t->stream_index);
          done != job.done_ranges.end() && done->second.Contains(t->key.start)) {
        continue;
      }
    }
    if (!leases_.Grant(t->key, t->attempt, worker, now, Nanos(job.spec.task_timeout),
                       t->stream_index)) {
      continue;  // already in flight: never hand out one key twice
    }
    ++job.in_flight;
    out.push_back(job.expander->MakeTask(t->stream_index, t->key.start, t->attempt));
  }
  w->info.credit -= out.size();
  w->info.in_flight += out.size();
  dispatched_total_ += out.size();
  return out;
}

TickOutcome Scheduler::Tick() {
  TickOutcome out;
  const SteadyTime now = clock_->Now();
  // The loop ticks several times a second; a longer gap means the broker itself did not
  // run (SIGSTOP, swapped out). Whatever the workers sent meanwhile waits in its socket,
  // unread: expiring leases or declaring workers dead for that silence would charge
  // attempts for the broker's own absence.
  if (last_tick_ && options_.stall_threshold > Nanos(0) &&
      now - *last_tick_ > options_.stall_threshold) {
    out.stalled = now - *last_tick_;
    leases_.Postpone(out.stalled);
    workers_.Postpone(out.stalled);
  }
  last_tick_ = now;
  queue_.PromoteDue(now);
  for (const Lease& l : leases_.ExpireBefore(now)) {
    ++out.expired_leases;
    ++expired_total_;
    DropLease(l);
    Job* job = FindLive(l.key.job);
    if (job == nullptr) continue;
    --job->in_flight;
    TakeBack(*job, l, "lease expired after task_timeout", /*backoff=*/true);
  }
  out.dead_workers = workers_.Silent(now);
  for (const std::string& id : out.dead_workers) RemoveWorker(id, "silent (declared dead)");
  if (journal_ && journal_->file_bytes() > options_.compact_after_bytes &&
      journal_->file_bytes() > 2 * last_snapshot_bytes_ && now >= compact_not_before_) {
    out.compaction = Compact();
    // A failed compaction (a full disk) is retried after a doubling pause, not on every
    // loop turn: each try writes a whole snapshot.
    if (out.compaction.ok()) {
      compact_retry_ = Nanos(0);
    } else {
      compact_retry_ = std::clamp(2 * compact_retry_, kCompactRetryMin, kCompactRetryMax);
      compact_not_before_ = now + compact_retry_;
    }
  }
  return out;
}

std::vector<CancelNotice> Scheduler::TakeCancelNotices() {
  std::vector<CancelNotice> out;
  out.swap(cancel_notices_);
  return out;
}

// --- Journal ---

Status Scheduler::PollJournal() { return journal_ ? journal_->Poll() : Status::OK(); }
Status Scheduler::SyncJournal() { return journal_ ? journal_->Sync() : Status::OK(); }
void Scheduler::WhenDurable(DurableCallback on_durable) {
  if (journal_) {
    journal_->WhenDurable(std::move(on_durable));
  } else {
    on_durable(Status::OK());
  }
}

void Scheduler::SetWakeup(std::function<void()> wakeup) {
  runner_->SetWakeup(wakeup);
  if (journal_) journal_->SetWakeup(std::move(wakeup));
}

// --- Queries ---

Result<JobInfo> Scheduler::GetJob(JobId id) const {
  if (const Job* job = FindLive(id)) return InfoOf(*job);
  if (auto it = finished_.find(id); it != finished_.end()) return it->second;
  return Status::NotFound("no job " + std::to_string(id));
}

std::vector<JobInfo> Scheduler::ListJobs() const {
  std::vector<JobInfo> out;
  out.reserve(live_.size() + finished_.size());
  auto l = live_.begin();
  auto f = finished_.begin();
  while (l != live_.end() || f != finished_.end()) {
    if (f == finished_.end() || (l != live_.end() && l->first < f->first)) {
      out.push_back(InfoOf(*l->second));
      ++l;
    } else {
      out.push_back(f->second);
      ++f;
    }
  }
  return out;
}

Result<std::vector<DeadLetter>> Scheduler::DeadLetters(JobId id) const {
  const Job* job = FindLive(id);
  if (job == nullptr) {
    if (finished_.count(id) != 0) return std::vector<DeadLetter>{};
    return Status::NotFound("no job " + std::to_string(id));
  }
  std::vector<DeadLetter> out;
  out.reserve(job->dead_letters.size());
  for (const auto& [chunk, d] : job->dead_letters) out.push_back(d);
  return out;
}

std::vector<WorkerInfo> Scheduler::Workers() const { return workers_.List(); }

SchedulerStats Scheduler::Stats() const {
  SchedulerStats s;
  s.live_jobs = live_.size();
  s.workers = workers_.size();
  s.ready = queue_.ready_total();
  s.delayed = queue_.delayed_total();
  s.in_flight = leases_.size();
  s.dispatched_total = dispatched_total_;
  s.done_total = done_total_;
  s.dead_total = dead_total_;
  s.retried_total = retried_total_;
  s.expired_total = expired_total_;
  s.points_total = points_total_;
  s.handed_back_total = handed_back_total_;
  s.unacked_rerun_total = unacked_rerun_total_;
  s.late_done_total = late_done_total_;
  for (const auto& [reason, n] : rejected_) s.rejected_done_total += n;
  s.rejected_by_reason = rejected_;
  if (std::optional<SteadyTime> oldest = queue_.OldestReadySince()) {
    s.oldest_ready_age = clock_->Now() - *oldest;
  }
  return s;
}

std::optional<SteadyTime> Scheduler::NextWakeup() const {
  std::optional<SteadyTime> t;
  const auto consider = [&t](std::optional<SteadyTime> c) {
    if (c && (!t || *c < *t)) t = c;
  };
  consider(queue_.NextDelayedAt());
  consider(leases_.NextDeadline());
  if (journal_) consider(journal_->NextSyncAt());
  consider(workers_.NextSilenceDeadline());
  for (const auto& [id, job] : live_) {
    if (IsActive(job->state) && job->expand_delay > Nanos(0)) consider(job->expand_not_before);
  }
  return t;
}

}  // namespace btrq::broker
