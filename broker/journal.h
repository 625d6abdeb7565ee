#pragma once

// An append-only log of checksummed records with group commit.
//
// File: <dir>/journal.log, a sequence of frames [u32 length][u32 crc32c(payload)][payload]
// (little-endian). The first frame of every file is a header naming the format. What
// the payloads mean is the scheduler's business (broker/journal_records.h).
//
// Group commit, off the owner's thread: Append() only buffers and never blocks on the
// disk. Once the oldest buffered record has waited `sync_interval` (or the buffer is
// large), Poll() hands the whole buffer, as one group, to the journal's own thread, which
// writes it with one write() and makes it durable with one fdatasync; records appended
// meanwhile wait for the next group (one group is in flight at a time). When the group is
// done the thread calls the wakeup hook (SetWakeup), and the next Poll() collects it on
// the owner's thread: durable_seq() advances and the callbacks run there, never on the
// journal thread. Sync() does all of it now and waits.
//
// Records appended with AppendAcked() carry a callback that runs once they are durable,
// or with the error when the write or sync failed, in which case they are dropped from
// the journal (the caller must not acknowledge them); the other records of the group are
// kept and retried by a later Poll. After a failed write the file is cut back to its last
// durable size, so a partial write never leaves a torn frame in the middle of the log; if
// that fails too, the journal is broken for good and every later group fails.
//
// Recovery (Open): a torn tail (a damaged last frame with nothing intact after it, or
// zeros to the end: common/record_log.h) is a crash mid-write and is cut off. Damage
// followed by intact frames is corruption: Open fails naming the file and offset and
// leaves the file alone; btrq-broker --salvage-journal (journal_salvage.h) repairs it.
//
// Files (the log, its compaction temp file) are owner-only, 0600: they hold job params.
// One journal per directory: Open locks <dir>/LOCK (flock) until the journal is gone, so a
// second broker on the same data directory, or a salvage under a running one, is refused.
//
// Compaction: Rewrite() waits for the group in flight, then writes a snapshot of live
// state (as payloads) to a new file, fsyncs it, renames it over journal.log and fsyncs
// the directory, on the owner's thread; buffered records (and those of a group that just
// failed) are subsumed by the snapshot and their callbacks run with OK. If the directory
// sync fails they run with its error, and nothing is durable until a retry of it (first
// thing in the next group) succeeds, as after a failed write.
//
// Threads: one owner thread (the dispatcher's) calls every method but SetWakeup, which is
// thread-safe. Callbacks and on_sync run on the owner's thread, inside Poll/Sync/Rewrite.
// The destructor finishes the group in flight (without running its callbacks) and drops
// what is still buffered.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "broker/journal_file.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/record_log.h"
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
  // Told the duration of every fdatasync of the log (e.g. for a histogram); may be empty.
  // Runs on the owner's thread, when Poll/Sync collects the group.
  std::function<void(Nanos)> on_sync;
};

struct JournalRecoveryInfo {
  uint64_t records = 0;         // payloads recovered (header excluded)
  uint64_t valid_bytes = 0;     // length of the log kept
  uint64_t truncated_bytes = 0; // torn tail cut off
};

struct JournalStats {
  uint64_t appended = 0;     // records appended since Open
  uint64_t writes = 0;       // write() calls (groups written)
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
  static constexpr std::string_view kLockFileName = "LOCK";
  // The payload of every journal's first frame: the format.
  static constexpr std::string_view kHeader = "btrq-journal/1";

  // Opens (or creates) the journal in options.dir and recovers it. `clock` and `env`
  // are borrowed and must outlive the journal.
  static Result<std::unique_ptr<Journal>> Open(const JournalOptions& options, Clock* clock,
                                               JournalEnv* env = JournalEnv::Posix());

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  // How a journal's frames are read (Open, ForEachRecovered, salvage).
  static record_log::ReaderOptions ReaderOptions(const JournalOptions& options);

  const JournalRecoveryInfo& recovery() const { return recovery_; }
  // Calls fn on each recovered payload in order, stopping at the first error, which is
  // returned with the journal's path and the record's offset. Until ReleaseRecovered().
  Status ForEachRecovered(const std::function<Status(std::string_view)>& fn) const;
  void ReleaseRecovered();

  // Buffers a record; returns its sequence number (1, 2, ...). REQUIRES: a non-empty
  // payload (an empty frame is all zeros: recovery reads it as a torn tail).
  uint64_t Append(std::string_view payload);
  // Buffers a record whose writer needs to know when it is durable (see above).
  uint64_t AppendAcked(std::string_view payload, DurableCallback on_durable);
  // Runs `on_durable` (on the owner's thread) once every record appended so far is
  // durable: with OK, or with the error of the group that failed to make them so (those
  // records stay buffered and are retried; they are not dropped). At once when nothing
  // is pending. For an acknowledgement of state already changed in memory.
  void WhenDurable(DurableCallback on_durable);

  // Collects the group the journal thread finished, if any (durable_seq, callbacks),
  // then hands the buffer to the thread if the oldest record has waited sync_interval
  // (or the buffer is large). Never waits for the disk. Returns the I/O error of the
  // collected group, if any (already passed to its callbacks).
  Status Poll();
  // Waits for the group in flight, then writes and syncs the buffer and waits for that
  // too (e.g. at shutdown). Returns the first I/O error.
  Status Sync();
  // When Poll() next has work: now when a finished group awaits collection; nullopt
  // while a group is in flight (the wakeup hook tells when it is done) or when nothing
  // is buffered.
  std::optional<SteadyTime> NextSyncAt() const;
  // Called on the journal thread each time a group is done, e.g. to make a poll() on the
  // owner's thread return (WakeupFd::Notify); must be cheap and must not call into the
  // journal. Empty to stop; it is never called after SetWakeup returns. Thread-safe.
  void SetWakeup(std::function<void()> wakeup);
  // True while the journal thread holds a group (written or not yet collected).
  bool group_in_flight() const;

  // Every record with a sequence number <= this is durable (as of the last collection).
  uint64_t durable_seq() const { return durable_seq_; }
  uint64_t appended_seq() const { return appended_seq_; }
  size_t buffered_bytes() const { return buffer_.size(); }
  // Size of the log on disk (durable part).
  uint64_t file_bytes() const { return file_bytes_; }

  // Replaces the log with `payloads` (a snapshot of live state), after waiting for the
  // group in flight. On error the old log and the buffer are untouched.
  Status Rewrite(const std::vector<std::string>& payloads);

  const JournalStats& stats() const { return stats_; }

 private:
  struct Acked {
    size_t begin = 0;  // byte range of its frame in the buffer
    size_t end = 0;
    DurableCallback callback;
  };
  // A buffer handed to the journal thread. The thread owns it (and file_) from Submit
  // until it marks it done; then the owner's thread collects it.
  struct Group {
    std::string data;
    std::vector<Acked> acked;
    uint64_t last_seq = 0;    // the highest sequence number in `data`
    uint64_t base_bytes = 0;  // the durable file size before it
    bool sync = true;
    // Set by the journal thread.
    Status status;
    Status broken;  // the cut-back after a failure failed too
    bool synced = false;
    Nanos sync_duration{0};
  };
  enum class GroupState { kIdle, kQueued, kDone };

  Journal(const JournalOptions& options, Clock* clock, JournalEnv* env);
  Status Recover();
  void Frame(std::string* out, std::string_view payload) const;
  // Hands the buffer to the journal thread (or fails it at once when broken_).
  Status Submit();
  // Waits until no group is queued; returns whether one is done (awaiting Collect).
  bool WaitForGroup();
  // Collects a done group: durable_seq, stats, callbacks. With `requeue_on_failure` a
  // failed group goes back to the front of the buffer whole (for Rewrite to subsume).
  Status Collect(bool requeue_on_failure);
  void FailBuffer(const Status& error);
  // Syncs the directory after a compaction whose directory sync failed; on success the
  // snapshot's records become durable.
  Status SyncDirIfPending();
  // Runs the WhenDurable callbacks up to `seq` with `status`.
  void RunWaiters(uint64_t seq, const Status& status);
  // Puts `data` with its acknowledged records back in front of the buffer.
  void Prepend(std::string* data, std::vector<Acked>* acked);
  void ThreadMain();
  void WriteGroup(Group* g);  // on the journal thread

  const JournalOptions options_;
  Clock* const clock_;
  JournalEnv* const env_;
  const std::string path_;
  std::unique_ptr<FileLock> lock_;  // <dir>/LOCK, for the journal's lifetime
  std::unique_ptr<WritableFile> file_;  // the journal thread's while a group is queued
  std::string recovered_;  // the valid log as read at Open, until ReleaseRecovered()
  JournalRecoveryInfo recovery_;

  std::string buffer_;
  std::vector<Acked> acked_;
  std::vector<std::pair<uint64_t, DurableCallback>> waiters_;  // WhenDurable, by seq
  std::optional<SteadyTime> oldest_buffered_;
  uint64_t appended_seq_ = 0;
  uint64_t durable_seq_ = 0;
  // Set while a compaction's directory sync has failed: its snapshot covers records up to
  // this sequence number, durable once a retry of the sync succeeds.
  std::optional<uint64_t> dir_sync_pending_seq_;
  uint64_t file_bytes_ = 0;
  Status broken_;  // sticky: the file could not be restored after a failed write
  JournalStats stats_;

  Group group_;  // see Group
  mutable Mutex mu_;
  CondVar cv_;  // state_ or stop_ changed
  GroupState state_ BTRQ_GUARDED_BY(mu_) = GroupState::kIdle;
  bool stop_ BTRQ_GUARDED_BY(mu_) = false;
  std::function<void()> wakeup_ BTRQ_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace btrq::broker
