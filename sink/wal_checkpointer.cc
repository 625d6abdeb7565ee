#include "sink/wal_checkpointer.h"

#include <sqlite3.h>

#include <spdlog/spdlog.h>

namespace btrq::sink {

WalCheckpointer::WalCheckpointer(sqlite3* db) : db_(db), thread_([this] { Loop(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.Signal();
  thread_.join();
  sqlite3_close(db_);
}

void WalCheckpointer::Exclusive(const std::function<void()>& f) {
  MutexLock running(&run_mu_);
  f();
}

void WalCheckpointer::Wake() {
  {
    MutexLock lock(&mu_);
    wake_ = true;
  }
  cv_.Signal();
}

void WalCheckpointer::Loop() {
  MutexLock lock(&mu_);
  while (true) {
    while (!wake_ && !stop_) cv_.Wait(&mu_);
    if (stop_) return;
    wake_ = false;
    mu_.Unlock();
    {
      MutexLock running(&run_mu_);
      const int rc =
          sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      // BUSY: another connection checkpoints (e.g. recovery); the next wake retries.
      if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
        spdlog::warn("btrq-sink: background checkpoint failed: {}", sqlite3_errmsg(db_));
      }
    }
    mu_.Lock();
  }
}

}  // namespace btrq::sink
