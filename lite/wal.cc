#include "lite/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"
#include "common/posix_error.h"

namespace btrq::lite {
namespace {

constexpr uint32_t kMaxRecordBytes = 1u << 30;

}  // namespace

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const Status s = PosixError("fstat " + path, errno);
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
    if (!pending_.empty() && error_.ok() && WriteFully(fd_, pending_, path_).ok()) {
      ::fdatasync(fd_);
    }
  }
  ::close(fd_);
}

uint64_t LogWriter::Append(std::string_view payload) {
  MutexLock l(&mu_);
  record_log::AppendRecord(&pending_, payload);
  size_ += record_log::kHeaderBytes + payload.size();
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
    Status s = WriteFully(fd_, batch, path_);
    if (s.ok() && ::fdatasync(fd_) != 0) s = PosixError("fdatasync " + path_, errno);
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
  BTRQ_ASSIGN_OR_RETURN(const std::string data, ReadFileToString(path));
  LogReadResult r;
  r.file_bytes = data.size();
  // Records are never empty (a type and a UUID at least), so zeros to the end are a
  // power loss's torn tail, not empty records.
  record_log::Reader reader(data, {.max_record_bytes = kMaxRecordBytes, .zero_tail_is_torn = true});
  std::string_view payload;
  while (reader.Next(&payload)) {
    BTRQ_RETURN_IF_ERROR(fn(payload));
    ++r.records;
  }
  // Every bad end stops the read the same way; Database::Recover decides.
  r.valid_bytes = reader.offset();
  r.end = reader.end();
  r.records_after = reader.CountIntactAfterCorrupt();
  return r;
}

}  // namespace btrq::lite
