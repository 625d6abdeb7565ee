#include "broker/journal_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "common/posix_error.h"

namespace btrq::broker {

namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { ::close(fd_); }

  Status Append(std::string_view data) override {
    return WriteFully(fd_, data, path_);
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync " + path_, errno);
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return PosixError("ftruncate " + path_, errno);
    }
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

// flock, not fcntl locks: those are per process, and a second Journal in the same
// process (a test, a salvage from inside a broker) must be refused too.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // releases the lock

 private:
  const int fd_;
};

class PosixEnv final : public JournalEnv {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     bool truncate) override {
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    const int fd = ::open(path.c_str(), flags, kJournalFileMode);
    if (fd < 0) return PosixError("open " + path, errno);
    auto file = std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
    // A file made before journals were owner-only (or copied in) may be wider; the
    // params in it are no less secret for that.
    struct stat st {};
    if (::fstat(fd, &st) != 0) return PosixError("fstat " + path, errno);
    if ((st.st_mode & 0777) != kJournalFileMode) {
      if (::fchmod(fd, kJournalFileMode) != 0) return PosixError("chmod 0600 " + path, errno);
      spdlog::warn("btrq-broker: {} had mode {:o}; tightened to 0600 (it holds job params)", path,
                   st.st_mode & 0777);
    }
    return file;
  }

  Result<std::string> ReadFile(const std::string& path) override {
    return ReadFileToString(path);
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return PosixError("truncate " + path, errno);
    }
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename " + from, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override { return btrq::SyncDir(dir); }

  Status CreateDir(const std::string& dir) override {
    std::error_code ec;
    const bool created = std::filesystem::create_directories(dir, ec);
    if (ec) return PosixError("mkdir " + dir, ec.value());
    // A directory made here is the broker's alone; an existing one is the operator's.
    if (created && ::chmod(dir.c_str(), 0700) != 0) return PosixError("chmod 0700 " + dir, errno);
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("unlink " + path, errno);
    return Status::OK();
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kJournalFileMode);
    if (fd < 0) return PosixError("open " + path, errno);
    auto lock = std::make_unique<PosixFileLock>(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Status::FailedPrecondition(
            path + " is locked: another btrq-broker (or a salvage) is using this data directory");
      }
      return PosixError("flock " + path, errno);
    }
    return std::unique_ptr<FileLock>(std::move(lock));
  }
};

}  // namespace

Status ReplaceFileContents(JournalEnv* env, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  Status s;
  {
    Result<std::unique_ptr<WritableFile>> f = env->OpenWritable(tmp, /*truncate=*/true);
    s = f.status();
    if (s.ok()) s = (*f)->Append(data);
    if (s.ok()) s = (*f)->Sync();
  }
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) env->RemoveFile(tmp).IgnoreError();  // a later replacement truncates it anyway
  return s;
}

JournalEnv* JournalEnv::Posix() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

}  // namespace btrq::broker
