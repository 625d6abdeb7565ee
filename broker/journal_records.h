#pragma once

// The scheduler's journal records: what must survive a broker crash. A compact binary
// encoding (varints, zigzag for signed values, length-prefixed strings, raw 16-byte
// UUIDs); the first byte is the RecordType. Record types and field order are on disk:
// do not renumber or reorder; add new types at the end.
//
// Streams are named by their index in the job's stream list (journaled once, kStreams),
// so a DONE record costs about 20 bytes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/job.h"
#include "broker/stream_catalog.h"
#include "common/status.h"

namespace btrq::broker {

enum class RecordType : uint8_t {
  kNextJobId = 1,      // value: the next job id to hand out
  kJob = 2,            // job, spec, submitted_wall_ns (then, since job nonces, a tail:
                       // 1, nonce fixed64): a job accepted; without the tail: nonce 0
  kStreams = 3,        // job, streams: the job's stream list, in expansion order
  kPin = 4,            // job, stream_index, pin (version, extent; then, since pinned
                       // params, a tail: 1, params); without the tail: params_pinned false
  kDone = 5,           // job, stream_index, start: a task done
  kDoneRange = 6,      // job, stream_index, [start, end): chunks done (snapshots)
  kDead = 7,           // job, stream_index, start, attempt, message: dead-lettered
  kAttemptFailed = 8,  // job, stream_index, start, attempt: that attempt failed or was lost
  kRetry = 9,          // job: dead letters requeued with fresh attempts
  kCancel = 10,        // job, wall_ns
  kJobFailed = 11,     // job, message, wall_ns: expansion failed for good
  kJobSummary = 12,    // info: a finished job's summary (the same nonce tail as kJob)
  kRetried = 13,       // job, value: the job's retried count (snapshots)
  // kJob whose spec encodes each tag filter as an annotation filter is (present flag,
  // then the value): written only when a tag filter has no value ("key present"), so a
  // journal without such jobs stays readable by brokers that predate it. Decodes as kJob.
  kJobTagsOpt = 14,
  kWorkerDrain = 15,   // job 0, value (1: drain requested, 0: over), message: worker id
};

// A decoded record; only the fields of its type are set. Both job encodings (kJob,
// kJobTagsOpt) decode with type kJob.
struct JournalRecord {
  RecordType type = RecordType::kNextJobId;
  JobId job = 0;
  JobNonce nonce = 0;  // kJob (kJobSummary: info.nonce)
  uint64_t value = 0;
  JobSpec spec;
  int64_t wall_ns = 0;
  std::vector<Uuid> streams;
  uint32_t stream_index = 0;
  StreamPin pin;
  int64_t start = 0;
  int64_t end = 0;
  uint32_t attempt = 0;
  std::string message;
  JobInfo info;
};

// Each Encode* appends one record's payload to *out.
void EncodeNextJobId(std::string* out, JobId next);
void EncodeJob(std::string* out, JobId job, JobNonce nonce, const JobSpec& spec,
               int64_t submitted_wall_ns);
void EncodeStreams(std::string* out, JobId job, const std::vector<Uuid>& streams);
void EncodePin(std::string* out, JobId job, uint32_t stream_index, const StreamPin& pin);
void EncodeDone(std::string* out, JobId job, uint32_t stream_index, int64_t start);
void EncodeDoneRange(std::string* out, JobId job, uint32_t stream_index, int64_t from,
                     int64_t to);
void EncodeDead(std::string* out, JobId job, uint32_t stream_index, int64_t start,
                uint32_t attempt, std::string_view error);
void EncodeAttemptFailed(std::string* out, JobId job, uint32_t stream_index, int64_t start,
                         uint32_t attempt);
void EncodeRetry(std::string* out, JobId job);
void EncodeCancel(std::string* out, JobId job, int64_t wall_ns);
void EncodeJobFailed(std::string* out, JobId job, std::string_view error, int64_t wall_ns);
void EncodeJobSummary(std::string* out, const JobInfo& info);
void EncodeRetried(std::string* out, JobId job, uint64_t retried);
// `worker` was told to drain (`draining`), or its drain is over (it left).
void EncodeWorkerDrain(std::string* out, std::string_view worker, bool draining);

// Decodes one payload; InvalidMessage when it is malformed.
Result<JournalRecord> DecodeRecord(std::string_view payload);

}  // namespace btrq::broker
