#pragma once

// Test helpers for the journal: a temporary directory, a JournalEnv that injects write
// and sync failures (a full disk) into the real POSIX one, and a counter of the journal
// thread's wakeups to wait on.

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "broker/journal.h"
#include "broker/journal_file.h"
#include "common/ids.h"
#include "common/posix_error.h"

namespace btrq::broker {

// The payloads Open recovered, in order (a test failure if reading them fails).
inline std::vector<std::string> RecoveredPayloads(const Journal& j) {
  std::vector<std::string> out;
  const Status s = j.ForEachRecovered([&](std::string_view p) {
    out.emplace_back(p);
    return Status::OK();
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = (std::filesystem::temp_directory_path() / ("btrq-h6-" + Uuid::Random().ToString())).string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Counts Journal::SetWakeup calls from the journal thread, as the dispatcher's WakeupFd
// does, and lets a test wait for them.
class WakeupCounter {
 public:
  std::function<void()> Hook() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  uint64_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  // Waits (10 s at most) until more than `seen` wakeups happened; false on timeout.
  bool WaitBeyond(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ > seen; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

// Fails writes (after writing `partial_bytes` of them), syncs and/or directory syncs while
// told to, and
// runs `before_sync` (on the journal thread) before each sync of a journal file. Set the
// fields while no group is in flight.
class FaultEnv final : public JournalEnv {
 public:
  bool fail_writes = false;
  bool fail_syncs = false;
  bool fail_dir_syncs = false;
  size_t partial_bytes = 0;
  int error_number = ENOSPC;
  std::function<void()> before_sync;

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, bool truncate) override {
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, JournalEnv::Posix()->OpenWritable(path, truncate));
    return std::unique_ptr<WritableFile>(new File(this, std::move(f)));
  }
  Result<std::string> ReadFile(const std::string& path) override { return JournalEnv::Posix()->ReadFile(path); }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return JournalEnv::Posix()->TruncateFile(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return JournalEnv::Posix()->Rename(from, to);
  }
  Status SyncDir(const std::string& dir) override {
    if (fail_dir_syncs) return PosixError("fsync " + dir, error_number);
    return JournalEnv::Posix()->SyncDir(dir);
  }
  Status CreateDir(const std::string& dir) override { return JournalEnv::Posix()->CreateDir(dir); }
  Status RemoveFile(const std::string& path) override { return JournalEnv::Posix()->RemoveFile(path); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return JournalEnv::Posix()->LockFile(path);
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultEnv* env, std::unique_ptr<WritableFile> base) : env_(env), base_(std::move(base)) {}
    Status Append(std::string_view data) override {
      if (env_->fail_writes) {
        if (env_->partial_bytes > 0) {
          BTRQ_RETURN_IF_ERROR(base_->Append(data.substr(0, std::min(data.size(), env_->partial_bytes))));
        }
        return PosixError("write journal.log", env_->error_number);
      }
      return base_->Append(data);
    }
    Status Sync() override {
      if (env_->before_sync) env_->before_sync();
      if (env_->fail_syncs) return PosixError("fdatasync journal.log", env_->error_number);
      return base_->Sync();
    }
    Status Truncate(uint64_t size) override { return base_->Truncate(size); }

   private:
    FaultEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };
};

}  // namespace btrq::broker
