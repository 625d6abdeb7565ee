#pragma once

// Whole-file reads and crash-safe replacement of a file, for every component.

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq {

// The whole content of `path`. NotFound when it does not exist, OutOfRange when it holds
// more than `max_bytes` (read no further); other failures as PosixError
// (common/posix_error.h).
Result<std::string> ReadFileToString(const std::string& path,
                                     size_t max_bytes = std::string().max_size());

// Writes all of `data` at `fd`'s offset, retrying short writes and EINTR. Errors as
// PosixError("write <path>"); part of `data` may have been written.
Status WriteFully(int fd, std::string_view data, const std::string& path);

// fsync of a directory, so that a rename or a creation in it survives a crash.
Status SyncDir(const std::string& dir);

// Replaces a file atomically, leveldb-style: the content goes to "<path>.tmp", which is
// fsync'ed and renamed over `path`, then the directory is fsync'ed. Until Commit() returns
// OK the old file (if any) is untouched; a writer destroyed uncommitted removes the temp
// file. Not thread-safe.
class AtomicFileWriter {
 public:
  // Creates (truncating) the temp file with permission bits `mode` (less the umask).
  static Result<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path,
                                                          mode_t mode = 0644);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Writes all of `data` to the temp file.
  Status Append(std::string_view data);
  // fsync, rename over the target, fsync of its directory. The writer is done after it.
  Status Commit();

  const std::string& temp_path() const { return temp_; }

 private:
  AtomicFileWriter(std::string path, std::string temp, int fd);

  const std::string path_;
  const std::string temp_;
  int fd_;  // -1 once closed
  bool committed_ = false;
};

// AtomicFileWriter in one call: `path` holds `data`, or its old content on failure.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode = 0644);

}  // namespace btrq
