#include "common/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/posix_error.h"

namespace btrq {

Result<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + path, errno);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return PosixError("read " + path, err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes) {
      ::close(fd);
      return Status::OutOfRange(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return data;
}

Status WriteFully(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return PosixError("fsync " + dir, err);
  return Status::OK();
}

Result<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path,
                                                                   mode_t mode) {
  std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return PosixError("open " + temp, errno);
  return std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter(path, std::move(temp), fd));
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string temp, int fd)
    : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());  // best effort; the next writer truncates it
}

Status AtomicFileWriter::Append(std::string_view data) {
  if (fd_ < 0) return Status::FailedPrecondition("write " + temp_ + ": writer is closed");
  return WriteFully(fd_, data, temp_);
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return Status::FailedPrecondition("commit " + temp_ + ": writer is closed");
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return PosixError("fsync " + temp_, err);
  }
  // close() reports deferred write errors on some file systems (NFS).
  if (::close(fd) != 0) return PosixError("close " + temp_, errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) return PosixError("rename " + temp_, errno);
  committed_ = true;
  std::string dir = std::filesystem::path(path_).parent_path().string();
  return SyncDir(dir.empty() ? "." : dir);
}

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode) {
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> writer,
                        AtomicFileWriter::Create(path, mode));
  BTRQ_RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

}  // namespace btrq
