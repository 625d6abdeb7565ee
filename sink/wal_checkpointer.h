#pragma once

// Copies the result store's WAL into its database file on its own thread and connection,
// so the writer's commits do not wait for it. PASSIVE checkpoints never block the writer
// or readers; the connection syncs like the writer (synchronous=FULL), so a checkpoint
// loses nothing on a crash: the WAL keeps every frame until the database file has it.

#include <functional>
#include <thread>

#include "common/mutex.h"

struct sqlite3;

namespace btrq::sink {

class WalCheckpointer {
 public:
  // Takes ownership of `db` (a connection to the store's file, closed by the destructor)
  // and starts the thread.
  explicit WalCheckpointer(sqlite3* db);
  // Stops the thread (after a checkpoint in progress), then closes the connection.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Runs `f` while no background checkpoint runs. Thread-safe.
  void Exclusive(const std::function<void()>& f) BTRQ_EXCLUDES(run_mu_);

  // Asks for a checkpoint (coalesced with one that is pending). Thread-safe.
  void Wake() BTRQ_EXCLUDES(mu_);

 private:
  void Loop();

  sqlite3* const db_;  // used by thread_ only
  // Held while a background checkpoint runs: SQLite lets one checkpoint run at a time
  // and fails another at once (SQLITE_BUSY, no busy handler), so the writer's inline
  // checkpoint takes this first (Exclusive).
  Mutex run_mu_;
  Mutex mu_;
  CondVar cv_;
  bool wake_ BTRQ_GUARDED_BY(mu_) = false;
  bool stop_ BTRQ_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace btrq::sink
