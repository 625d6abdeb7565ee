#include "lite/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "lite/crc32c.h"
#include "lite/encoding.h"

namespace btrq::lite {
namespace {

constexpr size_t kHeaderBytes = 8;
constexpr uint32_t kMaxRecordBytes = 1u << 30;

Status ErrnoStatus(const std::string& what) { return Status::IoError(what + ": " + std::strerror(errno)); }

Status WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

}  // namespace

std::string FrameRecord(std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  PutFixed32(&out, Crc32c(payload.data(), payload.size()));
  out.append(payload);
  return out;
}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const Status s = ErrnoStatus("fstat " + path);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<LogWriter>(new LogWriter(path, fd, static_cast<uint64_t>(st.st_size)));
}

LogWriter::LogWriter(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd) {
  MutexLock l(&mu_);
  size_ = size;
}

LogWriter::~LogWriter() {
  {
    MutexLock l(&mu_);
    while (syncing_) cv_.Wait(&mu_);
    if (!pending_.empty() && error_.ok() && WriteAll(fd_, pending_.data(), pending_.size()).ok()) {
      ::fdatasync(fd_);
    }
  }
  ::close(fd_);
}

uint64_t LogWriter::Append(std::string_view payload) {
  uint32_t header[2] = {static_cast<uint32_t>(payload.size()), Crc32c(payload.data(), payload.size())};
  MutexLock l(&mu_);
  pending_.append(reinterpret_cast<const char*>(header), sizeof(header));
  pending_.append(payload);
  size_ += sizeof(header) + payload.size();
  return ++appended_seq_;
}

Status LogWriter::Sync(uint64_t seq) {
  mu_.Lock();
  while (synced_seq_ < seq) {
    if (!error_.ok()) break;
    if (syncing_) {
      cv_.Wait(&mu_);
      continue;
    }
    // Become the leader: flush everything buffered so far, outside the lock.
    syncing_ = true;
    std::string batch;
    batch.swap(pending_);
    const uint64_t upto = appended_seq_;
    mu_.Unlock();
    Status s = WriteAll(fd_, batch.data(), batch.size());
    if (s.ok() && ::fdatasync(fd_) != 0) s = ErrnoStatus("fdatasync " + path_);
    mu_.Lock();
    syncing_ = false;
    if (s.ok()) {
      synced_seq_ = upto;
    } else {
      error_ = s;
    }
    cv_.SignalAll();
  }
  Status result = synced_seq_ >= seq ? Status::OK() : error_;
  mu_.Unlock();
  return result;
}

Status LogWriter::SyncAll() {
  uint64_t seq;
  {
    MutexLock l(&mu_);
    seq = appended_seq_;
  }
  return Sync(seq);
}

uint64_t LogWriter::size_bytes() const {
  MutexLock l(&mu_);
  return size_;
}

Result<LogReadResult> ReadLog(const std::string& path, const std::function<Status(std::string_view)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LogReadResult r;
  r.file_bytes = data.size();
  size_t off = 0;
  while (data.size() - off >= kHeaderBytes) {
    Decoder d(std::string_view(data).substr(off, kHeaderBytes));
    uint32_t len = 0, crc = 0;
    d.GetFixed32(&len);
    d.GetFixed32(&crc);
    if (len > kMaxRecordBytes || data.size() - off - kHeaderBytes < len) break;
    const std::string_view payload(data.data() + off + kHeaderBytes, len);
    if (Crc32c(payload.data(), payload.size()) != crc) break;
    BTRQ_RETURN_IF_ERROR(fn(payload));
    off += kHeaderBytes + len;
    ++r.records;
  }
  r.valid_bytes = off;
  return r;
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::OK() : ErrnoStatus("fsync " + dir);
}

}  // namespace btrq::lite
