#pragma once

// The broker's state machine: jobs, their lazy expansion, the ready queue, leases,
// retries, dead letters, workers and their credit, and the journal that makes all of it
// survive a crash. No sockets, no gRPC, no threads: the dispatcher thread owns the
// Scheduler and calls it from its poll loop; the control service reaches it through
// that thread. Time comes from the Clock; BTrDB from the StreamCatalog, whose calls run
// on the CatalogRunner's threads: the Scheduler never waits for BTrDB.
//
// The dispatcher's loop, in order:
//   poll sockets until NextWakeup()
//   OnWorkerHello/Credit/Heartbeat/Done/Bye for each message; SubmitJob/CancelJob/...
//   Tick()                       leases, dead workers, backoff, compaction
//   Expand()                     applies catalog answers (lists, pins), asks for more,
//                                fills windows
//   NextDispatch(w) for each worker with credit, and send the TASKs
//   TakeCancelNotices()          send CANCEL to whoever holds a cancelled job's tasks
//   PollJournal()                group commit; runs SubmitJob's on_durable callbacks
//
// Reliability. SubmitJob's callback runs once the job is durable (or with the error,
// e.g. ResourceExhausted on a full disk, in which case the job is forgotten). A job
// dispatches nothing before it is durable, and a stream's tasks nothing before its pin
// is, so a restart never re-runs a task against a version it forgot. A pin holds
// everything a task's result depends on beyond the spec (version, extent, the stream's
// params), so a restart, an outage or a slow BTrDB never changes a result. DONEs are
// journaled but not waited for: after a crash a task whose DONE was lost runs again and
// the sink keeps one result per key.
//
// Attempts. An attempt is spent only by a failure of the task itself: an error the worker
// reports (transient or permanent), or a lease taken back (expired, capped, its worker
// dead or gone) while the task may have run there, so that a task that hangs or kills
// its worker every time still ends. Free, with the same attempt number: a DONE saying
// "not attempted: a dependency was down" (requeued after backoff), the tasks a worker
// hands back with BYE (drained or stopped on purpose), the tasks lost in transit when
// a worker reconnects (OnWorkerReconnect), a lease taken back from a lost
// worker whose last heartbeat listed the task as queued, not started (HEARTBEAT `q`; a
// few times per attempt), and a lease taken back after its worker said the task
// finished (its result awaited the sink's ACK; run again, the sink keeps one result).
// A DONE "ok" for an attempt whose lease was taken back from that worker ends the task
// if it has not ended (the sink holds its result), even if that worker was declared dead
// and has not said HELLO since. So no task whose worker said it finished is ever
// dead-lettered.
//
// Replay. In-flight tasks at crash time are pending again; their attempt number is the
// last journaled failed attempt + 1: attempts are preserved across a broker crash, and
// the attempt a crash interrupted is not charged to the task (it was not its fault).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/backoff.h"
#include "broker/catalog_runner.h"
#include "broker/chunk_ranges.h"
#include "broker/job.h"
#include "broker/job_expander.h"
#include "broker/journal.h"
#include "broker/journal_records.h"
#include "broker/lease_table.h"
#include "broker/recovery.h"
#include "broker/stream_catalog.h"
#include "broker/task_queue.h"
#include "broker/worker_registry.h"
#include "common/clock.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::broker {

struct SchedulerOptions {
  // Materialised (ready + delayed) tasks per job at most; refilled below half.
  size_t window_per_job = 4096;
  // Stream pins per job in flight at most (each about three BTrDB calls), and how many
  // streams ahead of the expansion cursor may be pinned.
  size_t pins_per_expand = 16;
  size_t pin_lookahead = 16;
  // A worker silent for heartbeat_interval * liveness is dead.
  Nanos heartbeat_interval = std::chrono::seconds(1);
  uint32_t liveness = 3;
  // Delay before a task that failed transiently or whose lease expired runs again.
  BackoffOptions retry_backoff;
  // Delay before listing/pinning again after a transient catalog error (grows 2x, 60 s max).
  Nanos expand_retry = std::chrono::seconds(1);
  // Finished jobs kept as summaries (oldest dropped first).
  size_t finished_jobs_kept = 1000;
  // Tick() compacts the journal once it exceeds this and twice the last snapshot.
  uint64_t compact_after_bytes = uint64_t{64} << 20;
  // Jitter seed; 0 seeds from the clock.
  uint64_t seed = 0;
  // A Tick more than this after the previous one means the broker itself did not run
  // (SIGSTOP, swapped out): nobody was heard because nobody listened, so the gap is added
  // to every lease deadline and every worker's last-heard time. 0: off.
  Nanos stall_threshold{0};
};

struct DoneOutcome {
  size_t accepted = 0;
  std::vector<std::pair<TaskRef, LeaseReject>> rejected;
};

struct HeartbeatOutcome {
  size_t renewed = 0;
  size_t unknown = 0;  // tasks named that the worker holds no lease for
};

struct TickOutcome {
  std::vector<std::string> dead_workers;  // declared dead now; their tasks requeued
  size_t expired_leases = 0;
  Nanos stalled{0};   // the gap forgiven when this Tick came after a stall
  Status compaction;  // the error of a compaction attempt, if one failed
};

struct CancelNotice {
  std::string worker;
  JobId job = 0;
};

struct SchedulerStats {
  size_t live_jobs = 0;
  size_t workers = 0;
  size_t ready = 0;
  size_t delayed = 0;
  size_t in_flight = 0;
  uint64_t dispatched_total = 0;
  uint64_t done_total = 0;
  uint64_t dead_total = 0;
  uint64_t retried_total = 0;
  uint64_t expired_total = 0;
  uint64_t points_total = 0;  // raw points of every accepted DONE since start
  uint64_t handed_back_total = 0;  // "not attempted: dependency down", requeued free
  uint64_t unacked_rerun_total = 0;  // finished leases taken back, requeued free
  uint64_t late_done_total = 0;  // DONE "ok" of a taken-back attempt that ended its task
  uint64_t rejected_done_total = 0;
  std::map<LeaseReject, uint64_t> rejected_by_reason;
  Nanos oldest_ready_age{0};  // 0 when nothing is ready
};

class Scheduler {
 public:
  // Replays `journal` (nullable: no durability, for tests and benchmarks) into a new
  // scheduler, which then owns it and `runner`. `clock` is borrowed and must outlive the
  // scheduler. Fails on a journal that does not decode.
  static Result<std::unique_ptr<Scheduler>> Create(const SchedulerOptions& options,
                                                   Clock* clock,
                                                   std::unique_ptr<CatalogRunner> runner,
                                                   std::unique_ptr<Journal> journal);
  // As above with CatalogRunner::Inline(catalog): catalog calls run inside Expand().
  static Result<std::unique_ptr<Scheduler>> Create(const SchedulerOptions& options,
                                                   Clock* clock, StreamCatalog* catalog,
                                                   std::unique_ptr<Journal> journal);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // --- Jobs ---
  // Validates and accepts a job; returns its id (from 1, never reused). `on_durable`
  // runs once the job is in the journal (inside PollJournal/SyncJournal; before this
  // returns when there is no journal); if the journal fails it runs with the error and
  // the job is dropped. Acknowledge the submitter only from there.
  Result<JobId> SubmitJob(const JobSpec& spec, DurableCallback on_durable);
  // Cancels a job that has not finished: drops its queued tasks and leases (the workers
  // holding them appear in TakeCancelNotices and in the result). NotFound, or
  // FailedPrecondition for a finished job. Journaled, not waited for: see WhenDurable.
  Result<std::vector<std::string>> CancelJob(JobId job);
  // Requeues a job's dead letters with fresh attempts; returns how many.
  // FailedPrecondition when it has none or was cancelled/failed.
  Result<size_t> RetryJob(JobId job);
  // Applies the catalog's answers (stream lists and pins, journaled; a pin is usable
  // once durable), asks for the pins the cursors will need next (bounded by the options)
  // and refills the windows of jobs below half. Never waits for BTrDB. Transient catalog
  // errors retry later with backoff (the job's error says "waiting for BTrDB: ...");
  // permanent ones fail the job with the message.
  void Expand();

  // --- Workers ---
  // Registers (or re-registers: credit reset, leases kept) a worker. True when it was
  // told to drain and has not left since (journaled: also after a broker restart); it is
  // draining again and must be told so.
  bool OnWorkerHello(const HelloMsg& hello);
  // The worker may take `credit` more tasks. NotFound for a worker that has not said HELLO
  // (the dispatcher answers REJECT so it says HELLO again).
  Status OnWorkerCredit(std::string_view worker, uint32_t credit);
  // The worker said HELLO from a new connection: TASK frames sent on its old one may be
  // lost. Of the leases it holds now, those its next heartbeat does not name go back to
  // the queue with their attempt unchanged (lost in transit: not the task's fault).
  void OnWorkerReconnect(std::string_view worker);
  // Renews the leases the worker names (awaiting_ack ones without the cap, see
  // LeaseTable::Renew). NotFound for an unknown worker.
  Result<HeartbeatOutcome> OnWorkerHeartbeat(std::string_view worker, const HeartbeatMsg& msg);
  // Counts each DONE against its live lease; the rest are rejected with a reason, except
  // an "ok" of an attempt taken back from this worker, which ends its task (see Attempts).
  // ok -> done; kTransient -> retried with backoff until max_attempts, then dead-lettered
  // (with dependency_down: requeued after backoff, no attempt spent); kPermanent ->
  // dead-lettered now.
  DoneOutcome OnWorkerDone(std::string_view worker, const DoneMsg& msg);
  // The worker said BYE: it handed its tasks back on purpose; they go back to the queue
  // with their attempts unchanged. Returns how many.
  size_t OnWorkerBye(std::string_view worker);
  // The worker is lost without a BYE (unreachable, revoked, replaced): its tasks go back
  // to the queue, with attempt + 1 for those it may have run (neither finished nor
  // listed queued by its last heartbeat). Returns how many.
  size_t OnWorkerLost(std::string_view worker, std::string_view why);
  // Stops dispatching to the worker; its leases stay. NotFound for an unknown worker.
  // Journaled (see OnWorkerHello) until the worker leaves: a caller acknowledging it
  // waits for WhenDurable.
  Status DrainWorker(std::string_view worker);

  // Tasks for the worker: at most min(its credit, max_n), only of analytics it announced,
  // highest priority first and round-robin between jobs of equal priority. Each consumes
  // one credit and starts a lease of the job's task_timeout.
  std::vector<TaskSpec> NextDispatch(std::string_view worker, size_t max_n = SIZE_MAX);

  // Expires leases (requeue with attempt + 1 and backoff, or dead-letter when attempts
  // are exhausted), declares silent workers dead (their tasks requeued), promotes due
  // retries, and compacts the journal when it has grown.
  TickOutcome Tick();

  // (worker, job) pairs to send CANCEL for, since the last call.
  std::vector<CancelNotice> TakeCancelNotices();

  // --- Journal ---
  // Collects a finished group commit (running on_durable callbacks) and starts the next
  // one when due; never waits for the disk (Journal::Poll).
  Status PollJournal();
  // Makes everything journaled so far durable and waits for it (shutdown).
  Status SyncJournal();
  // Runs `on_durable` once everything journaled so far is durable, or with the error that
  // kept it from being so (Journal::WhenDurable); at once without a journal. Acknowledge
  // a call that changed state (CancelJob, RetryJob, ...) only from there.
  void WhenDurable(DurableCallback on_durable);
  // Called from another thread when a group commit finishes (see Journal::SetWakeup) or
  // a catalog answer arrives, so the loop can PollJournal()/Expand() without waiting for
  // NextWakeup(). Thread-safe.
  void SetWakeup(std::function<void()> wakeup);
  // Writes a snapshot of live state and switches the journal to it.
  Status Compact();
  const Journal* journal() const { return journal_.get(); }

  // --- Queries ---
  Result<JobInfo> GetJob(JobId job) const;
  std::vector<JobInfo> ListJobs() const;  // by id
  Result<std::vector<DeadLetter>> DeadLetters(JobId job) const;
  std::vector<WorkerInfo> Workers() const;
  SchedulerStats Stats() const;
  // The earliest time Tick/Expand/PollJournal has something to do; nullopt: nothing
  // timed is pending.
  std::optional<SteadyTime> NextWakeup() const;

 private:
  using Job = LiveJob;
  struct PendingPin {
    JobId job;
    uint32_t stream_index;
    uint64_t seq;
  };

  Scheduler(const SchedulerOptions& options, Clock* clock,
            std::unique_ptr<CatalogRunner> runner, std::unique_ptr<Journal> journal);
  // Rebuilds the state from the journal's records. Replay, Apply and Compact live in
  // recovery.cc, beside the per-job halves they call.
  Status Replay();
  Status Apply(const JournalRecord& rec);

  Job* FindLive(JobId id) const;
  JobInfo InfoOf(const Job& job) const;
  JobCounts CountsOf(const Job& job) const;

  // Expansion (scheduler_expand.cc).
  size_t Refill(Job& job, bool allow_catalog);
  void RequestCatalog(Job& job);  // asks for the job's list or next pins, when due
  bool ApplyCatalogAnswers();     // true when there were any
  void ApplyListAnswer(Job& job, const CatalogAnswer& answer);
  void ApplyPinAnswer(Job& job, const CatalogAnswer& answer);
  void OnCatalogError(Job& job, const Status& error);
  void OnCatalogSuccess(Job& job);
  void PromoteDurablePins();
  void FailJob(Job& job, const Status& error);
  void MaybeFinish(Job& job);
  void Retire(Job& job);  // moves a finished job to the summaries
  void AddSummary(JobInfo info);
  // How attempts end: these, TakeBack, Requeue and AcceptLateDone live in
  // scheduler_attempts.cc.
  void Complete(Job& job, const Lease& lease);
  // The lease's attempt failed: retry (after `backoff` if set) or dead-letter.
  void FailAttempt(Job& job, const Lease& lease, std::string_view error, bool backoff);
  void Bury(Job& job, const Lease& lease, std::string_view error);  // dead-letters the task
  // Forgets a worker and takes its leases back (TakeBack; `charge` false: none spends
  // an attempt, for a worker that handed its tasks back with BYE).
  void RemoveWorker(std::string_view id, std::string_view why, bool charge = true);
  // Queues `lease`'s task again as `attempt`, ready after `delay`; counts a re-dispatch.
  void Requeue(Job& job, const Lease& lease, uint32_t attempt, Nanos delay);
  // A lease ended without its own DONE (expired, its worker dead or gone): a finished
  // one, or any when !charge, is requeued free; any other is a failed attempt.
  // Remembered for AcceptLateDone.
  void TakeBack(Job& job, const Lease& lease, std::string_view why, bool backoff,
                bool charge = true);
  // Ends the task of `item` (an ok DONE rejected by the lease table) when `worker` held
  // that attempt when its lease was taken back and the task has not ended.
  bool AcceptLateDone(std::string_view worker, RegisteredWorker* w, const DoneItem& item);
  // Remembers a drain (in drains_, bounded); the caller journals it.
  void NoteDrain(std::string worker);
  // How often `lease`'s attempt of its task was taken back (as remembered).
  size_t TakenBackTimes(const Lease& lease) const;
  void ForgetTakenBack(const TaskKey& key);
  // After OnWorkerReconnect: requeues, free, the leases `msg` (the worker's first
  // heartbeat since) leaves out.
  void TakeBackLostInTransit(std::string_view worker, const HeartbeatMsg& msg);
  // Adds an accepted DONE's points to the worker (nullable), the job and the total.
  void AddPoints(RegisteredWorker* w, Job& job, int64_t points);
  void DropLease(const Lease& lease);  // worker bookkeeping for a lease that ended

  template <typename Encode>
  uint64_t Log(Encode&& encode);

  const SchedulerOptions options_;
  Clock* const clock_;
  const std::unique_ptr<CatalogRunner> runner_;
  std::unique_ptr<Journal> journal_;
  SeededRandom random_;
  Backoff backoff_;
  bool replaying_ = false;
  std::string scratch_;

  JobId next_job_id_ = 1;
  std::map<JobId, std::unique_ptr<Job>> live_;
  std::map<JobId, JobInfo> finished_;
  WorkerRegistry workers_;
  TaskQueue queue_;
  LeaseTable leases_;
  std::vector<PendingPin> pending_pins_;
  std::vector<CancelNotice> cancel_notices_;
  // Attempts whose lease was taken back, per task until it ends (at most
  // kTakenBackPerTask each, oldest dropped): who held which attempt.
  struct TakenBack {
    uint32_t stream_index = 0;
    uint32_t attempt = 0;
    std::string worker;
  };
  std::unordered_multimap<TaskKey, TakenBack, TaskKeyHash> taken_back_;
  std::optional<SteadyTime> last_tick_;  // for stall_threshold
  // Workers that reconnected: the leases each held then, checked by its next heartbeat.
  std::unordered_map<std::string, std::vector<TaskRef>> reconnected_;
  // Workers told to drain that have not left since, oldest first (journaled, bounded).
  std::deque<std::string> drains_;
  uint64_t last_snapshot_bytes_ = 0;
  // After a failed compaction, none before compact_not_before_ (pause doubling to 60 s).
  static constexpr Nanos kCompactRetryMin = std::chrono::seconds(1);
  static constexpr Nanos kCompactRetryMax = std::chrono::seconds(60);
  Nanos compact_retry_{0};
  SteadyTime compact_not_before_{};

  uint64_t dispatched_total_ = 0;
  uint64_t done_total_ = 0;
  uint64_t dead_total_ = 0;
  uint64_t retried_total_ = 0;
  uint64_t expired_total_ = 0;
  uint64_t points_total_ = 0;
  uint64_t handed_back_total_ = 0;
  uint64_t unacked_rerun_total_ = 0;
  uint64_t late_done_total_ = 0;
  std::map<LeaseReject, uint64_t> rejected_;
};

// Journals one record (encode(&payload)); returns its sequence number, 0 without a
// journal or while replaying. In the header: scheduler.cc, scheduler_attempts.cc and
// scheduler_expand.cc all journal.
template <typename Encode>
uint64_t Scheduler::Log(Encode&& encode) {
  if (!journal_ || replaying_) return 0;
  scratch_.clear();
  encode(&scratch_);
  return journal_->Append(scratch_);
}

}  // namespace btrq::broker
