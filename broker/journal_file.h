#pragma once

// The journal's file-system seam (leveldb's Env, cut down to what the journal does), so
// tests can inject a full disk or a failing fsync. The POSIX implementation maps errno
// through common/posix_error.h: ENOSPC and EDQUOT become ResourceExhausted.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq::broker {

// A file opened for appending. Not thread-safe.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: what was appended survives a crash once this returns OK.
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes; later appends continue from there.
  virtual Status Truncate(uint64_t size) = 0;
};

class JournalEnv {
 public:
  virtual ~JournalEnv() = default;
  // Opens (creating it if missing) `path` for appending; `truncate` empties it first.
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             bool truncate) = 0;
  // The whole file; NotFound when it does not exist.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes renames and creations in `dir` durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Creates `dir` (and parents) if missing.
  virtual Status CreateDir(const std::string& dir) = 0;
  // Removes `path`; OK when it does not exist.
  virtual Status RemoveFile(const std::string& path) = 0;

  // The process-wide POSIX implementation. Thread-safe.
  static JournalEnv* Posix();
};

}  // namespace btrq::broker
