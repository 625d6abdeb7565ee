#pragma once

// A live job's state as the journal records it, and the two directions between the two:
// applying a journal record to a job (replay) and writing a job out as the records that
// rebuild it (compaction). Pure functions over plain data; the Scheduler supplies what
// lives outside the job (the ready queue, leases, the finished-job summaries).

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/chunk_ranges.h"
#include "broker/job.h"
#include "broker/job_expander.h"
#include "broker/journal_records.h"
#include "common/clock.h"
#include "common/status.h"

namespace btrq::broker {

// A task's place in its job: stream index and chunk start.
struct ChunkId {
  uint32_t stream = 0;
  int64_t start = 0;
  auto operator<=>(const ChunkId&) const = default;
};

// Queued, expanding or running: the job may still dispatch tasks.
inline bool IsActive(JobState s) {
  return s == JobState::kQueued || s == JobState::kExpanding || s == JobState::kRunning;
}

// The scheduler's record of a job that has not been summarised yet.
struct LiveJob {
  JobId id = 0;
  JobNonce nonce = 0;  // in every task key of the job (common/ids.h)
  JobSpec spec;
  JobState state = JobState::kQueued;
  std::string error;
  int64_t submitted_wall_ns = 0;
  int64_t finished_wall_ns = 0;
  bool durable = false;
  uint32_t analytic_id = 0;
  std::unique_ptr<JobExpander> expander;  // borrows `spec`: a LiveJob is never moved
  SteadyTime expand_not_before{};
  Nanos expand_delay{0};
  bool listing = false;  // a ListStreams request is in flight
  std::string waiting;   // why expansion waits ("waiting for BTrDB: ..."), or empty

  uint64_t done = 0;
  uint64_t dead = 0;
  uint64_t retried = 0;
  uint64_t cancelled = 0;
  uint64_t in_flight = 0;
  uint64_t points_read = 0;  // from DONEs since this broker started (not journaled)
  std::unordered_map<uint32_t, ChunkRanges> done_ranges;  // by stream index
  std::map<ChunkId, DeadLetter> dead_letters;
  std::map<ChunkId, uint32_t> failed_attempts;  // from replay: attempts already used

  // Tasks known and not yet done, dead or in flight, at most.
  uint64_t Unresolved() const;
};

// A new live job as a kJob record (or SubmitJob) describes it; its expander is made.
std::unique_ptr<LiveJob> MakeLiveJob(JobId id, JobNonce nonce, const JobSpec& spec,
                                     int64_t submitted_wall_ns, uint32_t analytic_id);

// What applying a record asks of the scheduler beyond the job's own state.
enum class ApplyEffect {
  kNone,
  kRequeue,  // the job dispatches again (kRetry): put it back in the ready queue
  kRetire,   // the job ended (kCancel, kJobFailed): summarise and drop it
};

// Applies a per-job record (kStreams through kRetried, kRetry, kCancel, kJobFailed) to
// `job`. Internal for a record naming a stream index beyond the job's list, or a record
// type that is not per-job.
Result<ApplyEffect> ApplyJobRecord(const JournalRecord& rec, LiveJob* job);

// Appends the records that rebuild `job` on replay to `out`, one payload each: kJob, then
// (once listed) streams, pins, done ranges, dead letters, `attempts_used` (attempts each
// chunk has used, as the caller gathers them from leases, the queue and failed_attempts),
// the retried count, and `summary` when non-null (a job done with failures keeps it).
void SnapshotJob(const LiveJob& job, const std::map<ChunkId, uint32_t>& attempts_used,
                 const JobInfo* summary, std::vector<std::string>* out);

}  // namespace btrq::broker
