#pragma once

// Test helpers for the journal: a temporary directory and a JournalEnv that injects
// write and sync failures (a full disk) into the real POSIX one.

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>

#include "broker/journal_file.h"
#include "common/ids.h"

namespace btrq::broker {

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

// Fails writes (after writing `partial_bytes` of them) and/or syncs while told to.
class FaultEnv final : public JournalEnv {
 public:
  bool fail_writes = false;
  bool fail_syncs = false;
  size_t partial_bytes = 0;
  int error_number = ENOSPC;

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
  Status SyncDir(const std::string& dir) override { return JournalEnv::Posix()->SyncDir(dir); }
  Status CreateDir(const std::string& dir) override { return JournalEnv::Posix()->CreateDir(dir); }
  Status RemoveFile(const std::string& path) override { return JournalEnv::Posix()->RemoveFile(path); }

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
