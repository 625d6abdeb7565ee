#pragma once

// A job as the broker accepts it (JobSpec), its life cycle (JobState) and its progress
// (JobCounts). Plain value types: no I/O, no locking.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::broker {

// BTrDB's time range: [kMinTime, kMaxTime) nanoseconds since the Unix epoch.
inline constexpr int64_t kMinTime = -(int64_t{16} << 56);
inline constexpr int64_t kMaxTime = int64_t{48} << 56;
inline constexpr int64_t kDefaultChunkNs = int64_t{12} * 3600 * 1'000'000'000;
inline constexpr int64_t kDefaultTaskTimeoutNs = int64_t{300} * 1'000'000'000;

struct JobSpec {
  std::string name;  // a label for people; not unique

  // Stream selection: an explicit list of streams wins; otherwise the collection
  // (exact, or every collection starting with it when `collection_prefix`) narrowed by
  // tags and annotations: a value must match exactly; nullopt means the key is present
  // with any value.
  std::string collection;
  bool collection_prefix = false;
  std::map<std::string, std::optional<std::string>> tags;
  std::map<std::string, std::optional<std::string>> annotations;
  std::vector<Uuid> streams;

  // [start, end) in ns; absent: each stream's earliest point / just after its latest.
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  int64_t chunk = kDefaultChunkNs;  // chunks are [k*chunk, (k+1)*chunk)

  std::string analytic;
  Fields params;

  int32_t priority = 0;       // higher runs first
  uint32_t max_attempts = 3;  // dispatches per task before it is dead-lettered
  int64_t task_timeout = kDefaultTaskTimeoutNs;  // lease length, renewed by heartbeats

  // Stream versions to read; a stream not listed is pinned at its version when the
  // broker expands it.
  std::map<Uuid, uint64_t> versions;

  // OK, or InvalidArgument naming the first fault found.
  Status Validate() const;
};

// Values are journaled: do not renumber.
enum class JobState : uint8_t {
  kQueued = 0,            // accepted; streams not listed yet
  kExpanding = 1,         // listing/pinning streams; nothing dispatchable yet
  kRunning = 2,           // tasks are being dispatched
  kDone = 3,              // every task done
  kDoneWithFailures = 4,  // every task done or dead-lettered, at least one dead
  kCancelled = 5,
  kFailed = 6,  // expansion failed permanently (see JobInfo::error)
};

std::string_view JobStateName(JobState state);
// True for states no task can leave on its own (kDoneWithFailures can be retried).
bool IsFinished(JobState state);

struct JobCounts {
  uint64_t total = 0;           // tasks known so far (streams pinned so far)
  bool total_final = false;     // every stream is pinned: `total` will not grow
  uint64_t pending = 0;         // not yet done: queued, delayed or not yet materialised
  uint64_t in_flight = 0;       // leased to a worker
  uint64_t done = 0;
  uint64_t retried = 0;         // re-dispatches after a failed or lost attempt
  uint64_t dead = 0;            // dead-lettered
  uint64_t cancelled = 0;
  uint64_t streams = 0;         // streams selected (listed) so far
  uint64_t points_read = 0;     // raw points read by the attempts reported (DONE), since
                                // this broker started: not journaled
};

// A task that exhausted its attempts or failed permanently.
struct DeadLetter {
  TaskKey key;
  uint32_t attempt = 0;  // the attempt that failed last
  std::string error;
};

// What the broker tells about a job. Jobs that finished long ago are kept only as a
// summary: their spec then holds just name, collection, analytic and priority.
struct JobInfo {
  JobId id = 0;
  JobNonce nonce = 0;  // the job's incarnation (common/ids.h); 0 for a legacy job
  JobSpec spec;
  JobState state = JobState::kQueued;
  JobCounts counts;
  std::string error;              // why the job failed
  int64_t submitted_wall_ns = 0;  // wall-clock ns
  int64_t finished_wall_ns = 0;   // 0 until finished
  size_t queued = 0;              // ready tasks materialised now
  size_t delayed = 0;             // tasks waiting for their retry backoff
};

}  // namespace btrq::broker
