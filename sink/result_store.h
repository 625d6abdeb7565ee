#pragma once

// The sink's durable result store: exactly one result per task key (job, nonce, stream,
// start), in one SQLite database file. A job id may have several incarnations (nonces:
// the broker handed the id out again after its journal was salvaged or lost); each keeps
// its own results, and a result never de-duplicates against another incarnation's. The
// current incarnation of a job id is the one whose first result arrived last.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every committed
// transaction has been fsync'ed to the WAL before PutBatch returns. A result that
// PutBatch reported (stored or duplicate) therefore survives kill -9 of the process and
// a power loss; the sink ACKs only after that. Checkpoints (WAL -> main file, fsync'ed)
// run on a background thread with its own connection once the WAL holds
// checkpoint_pages, so PutBatch does not wait for them; if that thread falls behind
// (the WAL reaches 8 x checkpoint_pages), PutBatch checkpoints inline. The close
// checkpoints what is left.
//
// De-duplication: the first result stored under a key wins; later ones (a retry that
// raced, a worker resending after a lost ACK) are reported as duplicates, counted
// durably, and dropped.
//
// Thread-safety: every method is thread-safe (one connection behind a mutex). The sink
// opens one store for its writer thread and another for the gRPC readers: SQLite's WAL
// lets readers on their own connection run beside the writer.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/messages.h"
#include "common/mutex.h"
#include "common/status.h"
#include "results/stored_result.h"
#include "sink/fields_blob.h"
#include "sink/result_schema.h"

struct sqlite3;

namespace btrq::sink {

class SqliteStatement;
class WalCheckpointer;

using results::StoredResult;

enum class PutOutcome {
  kStored,     // the first result for its key: now durable
  kDuplicate,  // a result for the key was already durable; this one was dropped
};

struct ResultStoreOptions {
  // The database file; its directory must exist. The WAL lives beside it (path + "-wal").
  std::string path;
  // Opens an existing database without writing to it (the gRPC readers).
  bool read_only = false;
  // How long a statement waits for another connection's lock before failing.
  int busy_timeout_ms = 5000;
  // Writer only: WAL size in pages (of page_size) that wakes the background
  // checkpointer. 0 keeps SQLite's inline automatic checkpoint (1000 pages) instead.
  int checkpoint_pages = 1000;
  // Page cache of the connection, in KiB: the writer's holds the B-tree's interior pages
  // and the leaves it appends to, so inserts do not read them back from the file.
  int cache_kib = 65536;
};

struct StoreStats {
  uint64_t results = 0;     // results stored, all jobs
  uint64_t duplicates = 0;  // duplicates dropped since the database was created
  uint64_t jobs = 0;        // job ids with at least one result (any incarnation)
};

class ResultStore {
 public:
  // Opens (creating if needed, unless read_only) the database at options.path, applies
  // pending schema migrations and the durability settings above. `clock` stamps
  // stored_at and must outlive the store.
  static Result<std::unique_ptr<ResultStore>> Open(const ResultStoreOptions& options,
                                                   Clock* clock);

  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  // Stores `results` in one durable transaction (group commit) and returns, item by item,
  // whether each was stored or was a duplicate (also within the batch: the first of two
  // equal keys wins). On error nothing of the batch is stored (the transaction rolls
  // back): kResourceExhausted for a full disk, kIoError for other I/O failures.
  // Results with job 0 are rejected (kInvalidArgument) before anything is written.
  // Results are inserted in key order (B-tree locality); outcomes follow `results`' order.
  Result<std::vector<PutOutcome>> PutBatch(const std::vector<TaskResult>& results);

  // Up to `limit` results of incarnation `nonce` of `job` with keys strictly after
  // `after` (from the first when nullopt), in task-key order (stream bytes, then start).
  // Page through a job by passing the last key of a page as `after` of the next: memory is
  // bounded by the page.
  Result<std::vector<StoredResult>> ReadPage(JobId job, JobNonce nonce,
                                             const std::optional<TaskKey>& after, size_t limit);

  // The result stored under `key` (nonce included), or kNotFound.
  Result<StoredResult> Get(const TaskKey& key);

  // Number of results stored for incarnation `nonce` of `job`.
  Result<uint64_t> CountJob(JobId job, JobNonce nonce);

  // The current incarnation of `job`: the nonce whose first result arrived last; 0 when
  // the job has no results.
  Result<JobNonce> CurrentNonce(JobId job);

  Result<StoreStats> Stats();

  // The schema version this build writes (stored in table schema_version).
  static constexpr int kSchemaVersion = kResultSchemaVersion;

 private:
  ResultStore(sqlite3* db, Clock* clock, bool read_only);
  // SQLite's WAL hook on the writer: runs after each commit with the WAL's size in pages,
  // inside PutBatch's COMMIT and so under mu_ (which the analysis cannot see).
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages)
      BTRQ_NO_THREAD_SAFETY_ANALYSIS;

  Status Prepare() BTRQ_REQUIRES(mu_);
  Status PrepareOne(const std::string& sql, std::unique_ptr<SqliteStatement>* out)
      BTRQ_REQUIRES(mu_);
  Status PutBatchLocked(const std::vector<TaskResult>& results, std::vector<PutOutcome>* out)
      BTRQ_REQUIRES(mu_);
  // Results a batch stored per (job, nonce), and the arrival index of the first of them.
  struct Stored {
    int64_t results = 0;
    size_t first = SIZE_MAX;
  };
  using StoredPerIncarnation = std::map<std::pair<JobId, JobNonce>, Stored>;
  // Adds a batch's counts to job_incarnations, new incarnations in the order their first
  // results arrived (so the last to arrive becomes the job's current one).
  Status CountIncarnations(const StoredPerIncarnation& stored) BTRQ_REQUIRES(mu_);
  // Sorts the batch into order_ and keeps the first result of each key in rows_; returns
  // how many it left out (duplicates within the batch).
  int64_t OrderBatch(const std::vector<TaskResult>& results) BTRQ_REQUIRES(mu_);
  // Inserts results[rows_[begin, begin + count)] with one statement (count is 1 or
  // kRowsPerInsert) and records each one's outcome; rows whose key was stored before
  // count as duplicates. Advances *max_rowid past the rows stored.
  Status InsertRows(const std::vector<TaskResult>& results, size_t begin, size_t count,
                    int64_t stored_at, int64_t* max_rowid, std::vector<PutOutcome>* out,
                    StoredPerIncarnation* stored_per_job, int64_t* duplicates)
      BTRQ_REQUIRES(mu_);
  // The rowid stored under `key`, or 0.
  Result<int64_t> RowidOf(const TaskKey& key) BTRQ_REQUIRES(mu_);
  // Maps the connection's last error to a Status, with `what` as context.
  Status SqlError(std::string_view what) BTRQ_REQUIRES(mu_);

  Clock* const clock_;
  const bool read_only_;

  Mutex mu_;
  sqlite3* db_ BTRQ_GUARDED_BY(mu_);
  // Writer only, when options.checkpoint_pages > 0; stopped before db_ closes.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  int checkpoint_pages_ = 0;  // constant after Open
  // The WAL's size after the last commit, and the size that wakes the checkpointer next.
  int wal_pages_ BTRQ_GUARDED_BY(mu_) = 0;
  int next_checkpoint_at_ BTRQ_GUARDED_BY(mu_) = 0;
  // Rows per multi-row INSERT in PutBatch.
  static constexpr size_t kRowsPerInsert = 16;
  // Reused by PutBatch: the key order of the batch, the results to insert (first of
  // each key) and the encoded fields of one statement's rows.
  std::vector<uint32_t> order_ BTRQ_GUARDED_BY(mu_);
  std::vector<uint32_t> rows_ BTRQ_GUARDED_BY(mu_);
  std::string fields_buffers_[kRowsPerInsert] BTRQ_GUARDED_BY(mu_);
  // Prepared once, reused (reset after each use).
  std::unique_ptr<SqliteStatement> insert_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> insert_many_ BTRQ_GUARDED_BY(mu_);  // kRowsPerInsert rows
  std::unique_ptr<SqliteStatement> max_rowid_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> rowid_of_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> bump_job_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> bump_duplicates_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> page_first_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> page_after_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> get_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> count_job_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> current_nonce_ BTRQ_GUARDED_BY(mu_);
  std::unique_ptr<SqliteStatement> stats_ BTRQ_GUARDED_BY(mu_);
};

}  // namespace btrq::sink
