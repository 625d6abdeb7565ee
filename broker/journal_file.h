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

// Permission bits of every file the journal creates: it holds job params.
inline constexpr int kJournalFileMode = 0600;

// An exclusive lock on a file, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class JournalEnv {
 public:
  virtual ~JournalEnv() = default;
  // Opens (creating it if missing) `path` for appending; `truncate` empties it first.
  // The file is left with mode kJournalFileMode, tightened (with a warning) if wider.
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             bool truncate) = 0;
  // The whole file; NotFound when it does not exist.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes renames and creations in `dir` durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Creates `dir` (and parents) if missing; a directory created is owner-only (0700).
  virtual Status CreateDir(const std::string& dir) = 0;
  // Removes `path`; OK when it does not exist.
  virtual Status RemoveFile(const std::string& path) = 0;
  // Locks `path` (created 0600 if missing) exclusively, without waiting: one journal
  // writer per directory. FailedPrecondition when another holder (any process) has it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // The process-wide POSIX implementation. Thread-safe.
  static JournalEnv* Posix();
};

// Writes `data` to "<path>.tmp", syncs it and renames it over `path`; on failure the
// temp file is removed and `path` is untouched. The directory is not synced: the caller
// decides what a failed SyncDir means.
Status ReplaceFileContents(JournalEnv* env, const std::string& path, std::string_view data);

}  // namespace btrq::broker
