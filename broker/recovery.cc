#include "broker/recovery.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "broker/scheduler.h"

namespace btrq::broker {
namespace {

uint64_t Sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

Status CheckIndex(const JournalRecord& rec, const LiveJob& job) {
  const JobExpander& ex = *job.expander;
  if (!ex.listed() || rec.stream_index >= ex.streams().size()) {
    return Status::Internal("record for job " + std::to_string(job.id) + " names stream index " +
                            std::to_string(rec.stream_index) + " beyond its stream list");
  }
  return Status::OK();
}

// Records whose stream index must fall inside the job's stream list.
bool NamesStream(RecordType type) {
  return type == RecordType::kPin || type == RecordType::kDone || type == RecordType::kDoneRange ||
         type == RecordType::kDead || type == RecordType::kAttemptFailed;
}

}  // namespace

uint64_t LiveJob::Unresolved() const { return Sub(expander->total_known(), done + dead); }

std::unique_ptr<LiveJob> MakeLiveJob(JobId id, JobNonce nonce, const JobSpec& spec,
                                     int64_t submitted_wall_ns, uint32_t analytic_id) {
  auto job = std::make_unique<LiveJob>();
  job->id = id;
  job->nonce = nonce;
  job->spec = spec;
  job->submitted_wall_ns = submitted_wall_ns;
  job->analytic_id = analytic_id;
  job->expander = std::make_unique<JobExpander>(job->id, job->nonce, &job->spec);
  return job;
}

Result<ApplyEffect> ApplyJobRecord(const JournalRecord& rec, LiveJob* job) {
  if (NamesStream(rec.type)) BTRQ_RETURN_IF_ERROR(CheckIndex(rec, *job));
  JobExpander& ex = *job->expander;
  const ChunkId chunk{rec.stream_index, rec.start};
  switch (rec.type) {
    case RecordType::kStreams:
      if (!ex.listed()) {
        ex.SetStreams(rec.streams);
        job->state = JobState::kExpanding;
      }
      return ApplyEffect::kNone;
    case RecordType::kPin:
      ex.SetPin(rec.stream_index, rec.pin, /*usable=*/true);
      return ApplyEffect::kNone;
    case RecordType::kDone:
    case RecordType::kDoneRange: {
      const int64_t to = rec.type == RecordType::kDone ? rec.start + job->spec.chunk : rec.end;
      job->done += static_cast<uint64_t>(job->done_ranges[rec.stream_index].Add(rec.start, to) /
                                         job->spec.chunk);
      job->failed_attempts.erase(chunk);
      return ApplyEffect::kNone;
    }
    case RecordType::kDead: {
      DeadLetter d{ex.KeyOf(rec.stream_index, rec.start), rec.attempt, rec.message};
      if (job->dead_letters.emplace(chunk, std::move(d)).second) ++job->dead;
      job->failed_attempts.erase(chunk);
      return ApplyEffect::kNone;
    }
    case RecordType::kAttemptFailed: {
      uint32_t& used = job->failed_attempts[chunk];
      used = std::max(used, rec.attempt);
      ++job->retried;
      return ApplyEffect::kNone;
    }
    case RecordType::kRetried:
      job->retried = rec.value;
      return ApplyEffect::kNone;
    case RecordType::kRetry:
      job->retried += job->dead_letters.size();
      job->dead_letters.clear();
      job->dead = 0;
      job->state = JobState::kRunning;
      job->finished_wall_ns = 0;
      return ApplyEffect::kRequeue;
    case RecordType::kCancel:
      job->cancelled = job->Unresolved();
      job->state = JobState::kCancelled;
      job->finished_wall_ns = rec.wall_ns;
      return ApplyEffect::kRetire;
    case RecordType::kJobFailed:
      job->state = JobState::kFailed;
      job->error = rec.message;
      job->finished_wall_ns = rec.wall_ns;
      return ApplyEffect::kRetire;
    default:
      return Status::Internal("unexpected record type " +
                              std::to_string(static_cast<int>(rec.type)));
  }
}

void SnapshotJob(const LiveJob& job, const std::map<ChunkId, uint32_t>& attempts_used,
                 const JobInfo* summary, std::vector<std::string>* out) {
  const auto add = [out](auto&& encode) {
    out->emplace_back();
    encode(&out->back());
  };
  const JobId id = job.id;
  const JobExpander& ex = *job.expander;
  add([&](std::string* o) { EncodeJob(o, id, job.nonce, job.spec, job.submitted_wall_ns); });
  if (!ex.listed()) return;
  add([&](std::string* o) { EncodeStreams(o, id, ex.streams()); });
  for (uint32_t i = 0; i < ex.streams().size(); ++i) {
    if (ex.pinned(i)) add([&](std::string* o) { EncodePin(o, id, i, ex.pin(i)); });
  }
  for (const auto& [stream, ranges] : job.done_ranges) {
    for (const auto& [from, to] : ranges.ranges()) {
      add([&, &stream = stream, from = from, to = to](std::string* o) {
        EncodeDoneRange(o, id, stream, from, to);
      });
    }
  }
  for (const auto& [chunk, d] : job.dead_letters) {
    add([&, &chunk = chunk, &d = d](std::string* o) {
      EncodeDead(o, id, chunk.stream, chunk.start, d.attempt, d.error);
    });
  }
  for (const auto& [chunk, used] : attempts_used) {
    add([&, &chunk = chunk, used = used](std::string* o) {
      EncodeAttemptFailed(o, id, chunk.stream, chunk.start, used);
    });
  }
  add([&](std::string* o) { EncodeRetried(o, id, job.retried); });
  if (summary != nullptr) add([&](std::string* o) { EncodeJobSummary(o, *summary); });
}

// --- The Scheduler's side: replay at start-up, snapshots when the journal has grown ---

Status Scheduler::Replay() {
  replaying_ = true;
  Status s = journal_->ForEachRecovered([this](std::string_view payload) -> Status {
    BTRQ_ASSIGN_OR_RETURN(JournalRecord rec, DecodeRecord(payload));
    return Apply(rec);
  });
  journal_->ReleaseRecovered();
  if (s.ok()) {
    // Settle each job: finished ones retire, the others run (their cursors restart at the
    // beginning and skip what is resolved).
    std::vector<Job*> jobs;
    for (auto& [id, job] : live_) jobs.push_back(job.get());
    for (Job* job : jobs) {
      if (IsActive(job->state) && job->expander->listed()) job->state = JobState::kRunning;
      MaybeFinish(*job);
    }
  }
  replaying_ = false;
  return s.WithContext("journal replay");
}

Status Scheduler::Apply(const JournalRecord& rec) {
  if (rec.type == RecordType::kWorkerDrain) {
    std::erase(drains_, rec.message);
    if (rec.value != 0) NoteDrain(rec.message);
    return Status::OK();
  }
  if (rec.type == RecordType::kNextJobId) {
    next_job_id_ = std::max(next_job_id_, rec.value);
    return Status::OK();
  }
  next_job_id_ = std::max(next_job_id_, rec.job + 1);
  if (rec.type == RecordType::kJob) {
    if (live_.count(rec.job) != 0 || finished_.count(rec.job) != 0) return Status::OK();
    std::unique_ptr<Job> job = MakeLiveJob(rec.job, rec.nonce, rec.spec, rec.wall_ns,
                                           workers_.InternAnalytic(rec.spec.analytic));
    job->durable = true;
    queue_.AddJob(job->id, job->spec.priority);
    live_.emplace(rec.job, std::move(job));
    return Status::OK();
  }
  if (rec.type == RecordType::kJobSummary) {
    if (Job* job = FindLive(rec.job)) {
      if (rec.info.state == JobState::kDoneWithFailures) {
        job->finished_wall_ns = rec.info.finished_wall_ns;
        return Status::OK();
      }
      queue_.RemoveJob(job->id);
      live_.erase(rec.job);
    }
    AddSummary(rec.info);
    return Status::OK();
  }
  Job* job = FindLive(rec.job);
  if (job == nullptr) return Status::OK();  // a record of a job since summarised
  BTRQ_ASSIGN_OR_RETURN(const ApplyEffect effect, ApplyJobRecord(rec, job));
  switch (effect) {
    case ApplyEffect::kNone:
      break;
    case ApplyEffect::kRequeue:
      queue_.AddJob(job->id, job->spec.priority);
      break;
    case ApplyEffect::kRetire:
      Retire(*job);
      break;
  }
  return Status::OK();
}

Status Scheduler::Compact() {
  if (!journal_) return Status::OK();
  std::vector<std::string> snap;
  snap.emplace_back();
  EncodeNextJobId(&snap.back(), next_job_id_);
  for (const auto& [id, info] : finished_) {
    snap.emplace_back();
    EncodeJobSummary(&snap.back(), info);
  }
  for (const std::string& worker : drains_) {
    snap.emplace_back();
    EncodeWorkerDrain(&snap.back(), worker, /*draining=*/true);
  }
  // In-flight and queued tasks restart after a crash at their last failed attempt + 1.
  std::map<JobId, std::map<ChunkId, uint32_t>> failed;
  leases_.ForEach([&](const Lease& l) {
    if (l.attempt > 1) failed[l.key.job][ChunkId{l.stream_index, l.key.start}] = l.attempt - 1;
  });
  for (const auto& [id, job] : live_) {
    std::map<ChunkId, uint32_t>& f = failed[id];
    for (const auto& [chunk, used] : job->failed_attempts) f[chunk] = std::max(f[chunk], used);
    queue_.ForEach(id, [&](const QueuedTask& t) {
      if (t.attempt > 1) f[ChunkId{t.stream_index, t.key.start}] = t.attempt - 1;
    });
    std::optional<JobInfo> summary;
    if (job->state == JobState::kDoneWithFailures) summary = InfoOf(*job);
    SnapshotJob(*job, f, summary ? &*summary : nullptr, &snap);
  }
  BTRQ_RETURN_IF_ERROR(journal_->Rewrite(snap));
  last_snapshot_bytes_ = journal_->file_bytes();
  return Status::OK();
}

}  // namespace btrq::broker
