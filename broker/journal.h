#pragma once

// An append-only log of checksummed records with group commit.
//
// File: <dir>/journal.log, a sequence of frames [u32 length][u32 crc32c(payload)][payload]
// (little-endian). The first frame of every file is a header naming the format. What
// the payloads mean is the scheduler's business (broker/journal_records.h).
//
// Group commit: Append() only buffers. Poll() writes the whole buffer with one write()
// and makes it durable with one fdatasync once the oldest buffered record has waited
// `sync_interval`; Sync() does it now. Records appended with AppendAcked() carry a
// callback that runs once they are durable, or with the error when the write or sync
// failed, in which case they are dropped from the journal (the caller must not
// acknowledge them); the other buffered records are kept and retried by the next Poll.
// After a failed write the file is cut back to its last durable size, so a partial
// write never leaves a torn frame in the middle of the log.
//
// Recovery (Open): a torn or corrupt *last* frame (a crash mid-write) is cut off. A
// corrupt frame followed by valid ones is real damage and fails Open, unless
// `skip_corrupt` is set, in which case it is skipped and counted.
//
// Compaction: Rewrite() writes a snapshot of live state (as payloads) to a new file,
// fsyncs it, renames it over journal.log and fsyncs the directory; buffered records are
// subsumed by the snapshot and their callbacks run with OK.
//
// Not thread-safe: the dispatcher thread owns it. Callbacks run on that thread, inside
// Poll/Sync/Rewrite.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal_file.h"
#include "common/clock.h"
#include "common/status.h"

namespace btrq::broker {

struct JournalOptions {
  std::string dir;  // required; created if missing
  // Longest a record waits in the buffer before Poll() makes it durable.
  Nanos sync_interval = std::chrono::milliseconds(2);
  // Poll() writes (without syncing) once the buffer holds this much.
  size_t write_buffer_bytes = size_t{1} << 20;
  // Frames longer than this are treated as corrupt on recovery.
  uint32_t max_record_bytes = uint32_t{256} << 20;
  // When false, writes are never fdatasync'ed (benchmarks of CPU cost; never in service).
  bool fsync = true;
  // Skip a corrupt frame in the middle of the log instead of failing Open.
  bool skip_corrupt = false;
  // Told the duration of every fdatasync of the log (e.g. for a histogram); may be empty.
  // Runs on the thread that called Poll/Sync.
  std::function<void(Nanos)> on_sync;
};

struct JournalRecoveryInfo {
  uint64_t records = 0;         // payloads recovered (header excluded)
  uint64_t valid_bytes = 0;     // length of the log kept
  uint64_t truncated_bytes = 0; // torn or corrupt tail cut off
  uint64_t skipped_records = 0; // corrupt frames skipped (skip_corrupt)
};

struct JournalStats {
  uint64_t appended = 0;     // records appended since Open
  uint64_t writes = 0;       // write() calls
  uint64_t syncs = 0;        // fdatasync calls
  uint64_t bytes_written = 0;
  uint64_t failures = 0;     // failed write or sync attempts
  uint64_t rewrites = 0;
  Nanos last_sync_duration{0};
};

using DurableCallback = std::function<void(const Status&)>;

class Journal {
 public:
  static constexpr std::string_view kFileName = "journal.log";

  // Opens (or creates) the journal in options.dir and recovers it. `clock` and `env`
  // are borrowed and must outlive the journal.
  static Result<std::unique_ptr<Journal>> Open(const JournalOptions& options, Clock* clock,
                                               JournalEnv* env = JournalEnv::Posix());

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  const JournalRecoveryInfo& recovery() const { return recovery_; }
  // Calls fn on each recovered payload in order, stopping at the first error.
  // Available until ReleaseRecovered().
  Status ForEachRecovered(const std::function<Status(std::string_view)>& fn) const;
  void ReleaseRecovered();

  // Buffers a record; returns its sequence number (1, 2, ...).
  uint64_t Append(std::string_view payload);
  // Buffers a record whose writer needs to know when it is durable (see above).
  uint64_t AppendAcked(std::string_view payload, DurableCallback on_durable);

  // Writes and syncs the buffer if the oldest record has waited sync_interval (or the
  // buffer is large). Returns the I/O error, if any (already passed to callbacks).
  Status Poll();
  // Writes and syncs the buffer now.
  Status Sync();
  // When Poll() next has work; nullopt when nothing is buffered.
  std::optional<SteadyTime> NextSyncAt() const;

  // Every record with a sequence number <= this is durable.
  uint64_t durable_seq() const { return durable_seq_; }
  uint64_t appended_seq() const { return appended_seq_; }
  size_t buffered_bytes() const { return buffer_.size(); }
  // Size of the log on disk (durable part).
  uint64_t file_bytes() const { return file_bytes_; }

  // Replaces the log with `payloads` (a snapshot of live state). On error the old log
  // and the buffer are untouched.
  Status Rewrite(const std::vector<std::string>& payloads);

  const JournalStats& stats() const { return stats_; }

 private:
  struct Acked {
    size_t begin = 0;  // byte range of its frame in buffer_
    size_t end = 0;
    DurableCallback callback;
  };

  Journal(const JournalOptions& options, Clock* clock, JournalEnv* env);
  Status Recover();
  void Frame(std::string* out, std::string_view payload) const;
  Status WriteBuffer(bool sync);
  void FailBuffer(const Status& error);

  const JournalOptions options_;
  Clock* const clock_;
  JournalEnv* const env_;
  const std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::string recovered_;  // the valid log as read at Open, until ReleaseRecovered()
  JournalRecoveryInfo recovery_;

  std::string buffer_;
  std::vector<Acked> acked_;
  std::optional<SteadyTime> oldest_buffered_;
  uint64_t appended_seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t file_bytes_ = 0;
  Status broken_;  // sticky: the file could not be restored after a failed write
  JournalStats stats_;
};

}  // namespace btrq::broker
