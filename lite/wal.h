#pragma once

// The write-ahead log: framed, checksummed records with group commit.
//
// Records are framed by common/record_log.h. A reader stops at the first record that is
// short or fails its checksum; on recovery such a tail is a torn write of the last,
// unacknowledged records. A full disk fails Sync with ResourceExhausted.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/record_log.h"
#include "common/status.h"

namespace btrq::lite {

class LogWriter {
 public:
  // Creates (or appends to) the file at `path`.
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& path);
  ~LogWriter();

  // Buffers one record; returns its sequence number for Sync(). Thread-safe, no I/O.
  // REQUIRES: a non-empty payload (an empty frame is zeros: read back as a torn tail).
  uint64_t Append(std::string_view payload) BTRQ_EXCLUDES(mu_);
  // Returns once every record up to `seq` is written and fdatasync'ed. Concurrent callers
  // share one write + fdatasync (group commit): one leader flushes everything pending.
  Status Sync(uint64_t seq) BTRQ_EXCLUDES(mu_);
  // Sync() of everything appended so far.
  Status SyncAll() BTRQ_EXCLUDES(mu_);
  // Bytes appended so far (buffered or written).
  uint64_t size_bytes() const BTRQ_EXCLUDES(mu_);
  const std::string& path() const { return path_; }

 private:
  LogWriter(std::string path, int fd, uint64_t size);

  const std::string path_;
  const int fd_;
  mutable Mutex mu_;
  CondVar cv_;
  std::string pending_ BTRQ_GUARDED_BY(mu_);
  uint64_t appended_seq_ BTRQ_GUARDED_BY(mu_) = 0;
  uint64_t synced_seq_ BTRQ_GUARDED_BY(mu_) = 0;
  uint64_t size_ BTRQ_GUARDED_BY(mu_) = 0;
  bool syncing_ BTRQ_GUARDED_BY(mu_) = false;
  Status error_ BTRQ_GUARDED_BY(mu_);
};

struct LogReadResult {
  uint64_t records = 0;
  uint64_t valid_bytes = 0;  // length of the intact prefix
  uint64_t file_bytes = 0;   // file_bytes > valid_bytes: a torn or corrupt tail was skipped
  record_log::LogEnd end;    // how the intact prefix ended
  uint64_t records_after = 0;  // end.kind == kCorrupt: intact records after the damage
};

// Calls fn(payload) for each intact record of the file, in order, up to the first torn
// or corrupt record (a tail of zeros is torn: common/record_log.h). An error from fn
// stops the read and is returned.
Result<LogReadResult> ReadLog(const std::string& path, const std::function<Status(std::string_view)>& fn);

}  // namespace btrq::lite
