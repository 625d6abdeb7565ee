#include "sink/result_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <utility>

#include <spdlog/spdlog.h>

#include "sink/fields_blob.h"
#include "sink/result_schema.h"
#include "sink/sqlite_util.h"
#include "sink/wal_checkpointer.h"

namespace btrq::sink {

Result<std::unique_ptr<ResultStore>> ResultStore::Open(const ResultStoreOptions& options,
                                                       Clock* clock) {
  if (options.path.empty()) return Status::InvalidArgument("result store: empty path");
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  const int flags = (options.read_only ? SQLITE_OPEN_READONLY
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = StatusFromSqlite(rc, "opening " + options.path, db ? sqlite3_errmsg(db) : nullptr);
    sqlite3_close(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<ResultStore> store(new ResultStore(db, clock, options.read_only));
  // A damaged file (zeroed by a bad restore or a disk fault) is refused, never served as
  // a new, empty store; SQLite itself only takes a zero-length file as new.
  if (Result<int64_t> v = QueryInt(db, "PRAGMA schema_version"); !v.ok()) {
    if ((v.status().subcode() & 0xff) == SQLITE_NOTADB) {
      return Status::FailedPrecondition(
          "result store " + options.path +
          " is not a SQLite database (zero-filled or overwritten?): refusing to start rather "
          "than lose its results; restore it from a backup, or move it aside to start empty");
    }
    return v.status().WithContext("result store " + options.path);
  }
  MutexLock lock(&store->mu_);
  const std::string cache = "PRAGMA cache_size=-" + std::to_string(std::max(options.cache_kib, 1));
  BTRQ_RETURN_IF_ERROR(Exec(db, cache.c_str()));
  if (!options.read_only) {
    // WAL + synchronous=FULL: each COMMIT fsyncs the WAL (see the header).
    auto mode = QueryInt(db, "PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.status().WithContext("enabling WAL on " + options.path);
    BTRQ_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous=FULL"));
  }
  BTRQ_RETURN_IF_ERROR(Migrate(db, options.read_only).WithContext(options.path));
  BTRQ_RETURN_IF_ERROR(store->Prepare());
  if (!options.read_only && options.checkpoint_pages > 0) {
    sqlite3* ckpt = nullptr;
    const int ckpt_rc = sqlite3_open_v2(options.path.c_str(), &ckpt,
                                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    Status status = ckpt_rc == SQLITE_OK
                        ? Exec(ckpt, "PRAGMA synchronous=FULL")
                        : StatusFromSqlite(ckpt_rc, "opening the checkpoint connection",
                                           ckpt ? sqlite3_errmsg(ckpt) : nullptr);
    if (!status.ok()) {
      sqlite3_close(ckpt);
      return status.WithContext(options.path);
    }
    sqlite3_busy_timeout(ckpt, options.busy_timeout_ms);
    BTRQ_RETURN_IF_ERROR(Exec(db, "PRAGMA wal_autocheckpoint=0"));
    store->checkpoint_pages_ = options.checkpoint_pages;
    store->next_checkpoint_at_ = options.checkpoint_pages;
    store->checkpointer_ = std::make_unique<WalCheckpointer>(ckpt);
    sqlite3_wal_hook(db, &ResultStore::OnWalCommit, store.get());
  }
  return store;
}

int ResultStore::OnWalCommit(void* self, sqlite3* db, const char* name, int pages) {
  // Runs inside PutBatch's COMMIT, so under mu_.
  auto* store = static_cast<ResultStore*>(self);
  if (pages < store->wal_pages_) store->next_checkpoint_at_ = store->checkpoint_pages_;
  store->wal_pages_ = pages;
  if (pages / 8 >= store->checkpoint_pages_) {
    // The background checkpoints fell behind (a writer that never pauses keeps them from
    // finishing): checkpoint inline and restart the WAL, so it stays bounded.
    // RESTART waits (busy handler) for readers; a failure leaves the WAL to the next try.
    store->checkpointer_->Exclusive([db, name] {
      if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr) !=
          SQLITE_OK) {
        spdlog::warn("btrq-sink: inline checkpoint failed: {}", sqlite3_errmsg(db));
      }
    });
    return SQLITE_OK;
  }
  if (pages >= store->next_checkpoint_at_) {
    // One background checkpoint per checkpoint_pages of WAL growth: each copies the
    // pages written since the last one once, however often they were rewritten.
    store->next_checkpoint_at_ = pages + store->checkpoint_pages_;
    store->checkpointer_->Wake();
  }
  return SQLITE_OK;
}

ResultStore::ResultStore(sqlite3* db, Clock* clock, bool read_only)
    : clock_(clock), read_only_(read_only), db_(db) {}

ResultStore::~ResultStore() {
  // Stopped first, so the writer's close is the last and checkpoints what is left.
  checkpointer_.reset();
  MutexLock lock(&mu_);
  // Statements first: sqlite3_close refuses a connection with live statements.
  insert_.reset();
  insert_many_.reset();
  max_rowid_.reset();
  rowid_of_.reset();
  bump_job_.reset();
  bump_duplicates_.reset();
  page_first_.reset();
  page_after_.reset();
  get_.reset();
  count_job_.reset();
  current_nonce_.reset();
  stats_.reset();
  sqlite3_close(db_);
}

Status ResultStore::SqlError(std::string_view what) {
  return StatusFromSqlite(sqlite3_extended_errcode(db_), what, sqlite3_errmsg(db_));
}

Status ResultStore::PrepareOne(const std::string& sql, std::unique_ptr<SqliteStatement>* out) {
  BTRQ_ASSIGN_OR_RETURN(*out, SqliteStatement::Prepare(db_, sql));
  return Status::OK();
}

Status ResultStore::Prepare() {
  const auto prepare = [this](const std::string& sql, std::unique_ptr<SqliteStatement>* out)
                           BTRQ_REQUIRES(mu_) { return PrepareOne(sql, out); };
  if (!read_only_) {
    const std::string insert =
        std::string("INSERT OR IGNORE INTO results(") + kResultColumns + ") VALUES";
    const std::string row = "(?,?,?,?,?,?,?,?,?,?,?,?)";
    static_assert(kResultColumnCount == 12);
    std::string rows = row;
    for (size_t i = 1; i < kRowsPerInsert; ++i) rows += "," + row;
    BTRQ_RETURN_IF_ERROR(prepare(insert + row, &insert_));
    BTRQ_RETURN_IF_ERROR(prepare(insert + rows, &insert_many_));
    BTRQ_RETURN_IF_ERROR(prepare("SELECT max(rowid) FROM results", &max_rowid_));
    BTRQ_RETURN_IF_ERROR(
        prepare("SELECT rowid FROM results "
                "WHERE job = ? AND job_nonce = ? AND stream = ? AND start = ?",
                &rowid_of_));
    BTRQ_RETURN_IF_ERROR(prepare(
        "INSERT INTO job_incarnations(job, nonce, results, seq) VALUES(?1, ?2, ?3, "
        "(SELECT coalesce(max(seq), 0) + 1 FROM job_incarnations)) "
        "ON CONFLICT(job, nonce) DO UPDATE SET results = results + ?3",
        &bump_job_));
    BTRQ_RETURN_IF_ERROR(
        prepare("UPDATE counters SET value = value + ? WHERE name = 'duplicates'",
                &bump_duplicates_));
  }
  const std::string select = std::string("SELECT ") + kResultColumns + " FROM results ";
  BTRQ_RETURN_IF_ERROR(prepare(
      select + "WHERE job = ? AND job_nonce = ? ORDER BY stream, start LIMIT ?", &page_first_));
  BTRQ_RETURN_IF_ERROR(prepare(select +
                                   "WHERE job = ? AND job_nonce = ? AND (stream, start) > (?, ?) "
                                   "ORDER BY stream, start LIMIT ?",
                               &page_after_));
  BTRQ_RETURN_IF_ERROR(prepare(
      select + "WHERE job = ? AND job_nonce = ? AND stream = ? AND start = ?", &get_));
  BTRQ_RETURN_IF_ERROR(prepare(
      "SELECT results FROM job_incarnations WHERE job = ? AND nonce = ?", &count_job_));
  BTRQ_RETURN_IF_ERROR(prepare(
      "SELECT nonce FROM job_incarnations WHERE job = ? ORDER BY seq DESC LIMIT 1",
      &current_nonce_));
  BTRQ_RETURN_IF_ERROR(prepare(
      "SELECT (SELECT coalesce(sum(results), 0) FROM job_incarnations), "
      "(SELECT value FROM counters WHERE name = 'duplicates'), "
      "(SELECT count(DISTINCT job) FROM job_incarnations)",
      &stats_));
  return Status::OK();
}

Result<std::vector<PutOutcome>> ResultStore::PutBatch(const std::vector<TaskResult>& results) {
  if (read_only_) return Status::FailedPrecondition("result store opened read-only");
  for (const TaskResult& r : results) {
    if (r.task.key.job == 0) {
      return Status::InvalidArgument("result for job 0: " + r.task.key.ToString());
    }
  }
  std::vector<PutOutcome> out;
  MutexLock lock(&mu_);
  if (Status status = PutBatchLocked(results, &out); !status.ok()) {
    // The batch's own error is the one to report; a failed ROLLBACK leaves SQLite's
    // transaction for the next BEGIN to fail on.
    if (!sqlite3_get_autocommit(db_)) Exec(db_, "ROLLBACK").IgnoreError();
    return status;
  }
  return out;
}

int64_t ResultStore::OrderBatch(const std::vector<TaskResult>& results) {
  // Inserting in key order walks the B-tree's leaves in order: a job's results arrive
  // as runs of consecutive chunks of a few streams, which then share leaf pages. A stable
  // sort keeps the first of two equal keys first, so it is the one stored.
  order_.resize(results.size());
  std::iota(order_.begin(), order_.end(), uint32_t{0});
  const auto key_of = [&results](uint32_t i) -> const TaskKey& { return results[i].task.key; };
  std::stable_sort(order_.begin(), order_.end(), [&key_of](uint32_t a, uint32_t b) {
    const TaskKey& x = key_of(a);
    const TaskKey& y = key_of(b);
    if (x.job != y.job) return x.job < y.job;
    if (x.nonce != y.nonce) return x.nonce < y.nonce;
    if (x.stream != y.stream) return x.stream < y.stream;
    return x.start < y.start;
  });
  // A key repeated within the batch is stored once, from its first result.
  rows_.clear();
  int64_t duplicates = 0;
  for (size_t k = 0; k < order_.size(); ++k) {
    if (k > 0 && key_of(order_[k - 1]) == key_of(order_[k])) {
      ++duplicates;
    } else {
      rows_.push_back(order_[k]);
    }
  }
  return duplicates;
}

Status ResultStore::PutBatchLocked(const std::vector<TaskResult>& results,
                                   std::vector<PutOutcome>* out) {
  if (results.empty()) return Status::OK();
  int64_t duplicates = OrderBatch(results);
  out->assign(results.size(), PutOutcome::kDuplicate);
  BTRQ_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  const int64_t stored_at = clock_->WallNanos();
  // Rows get rowids above every existing one (results are never deleted, and a rowid
  // table assigns max + 1), which tells a row stored now from one stored before.
  int64_t max_rowid = 0;
  {
    auto use = max_rowid_->Begin();
    if (sqlite3_step(use.get()) != SQLITE_ROW) return SqlError("reading the last rowid");
    max_rowid = sqlite3_column_int64(use.get(), 0);
  }
  StoredPerIncarnation stored_per_job;
  for (size_t begin = 0; begin < rows_.size();) {
    // kRowsPerInsert rows per statement (a fifth less CPU per row than one); the tail
    // one by one.
    const size_t count = rows_.size() - begin >= kRowsPerInsert ? kRowsPerInsert : 1;
    BTRQ_RETURN_IF_ERROR(InsertRows(results, begin, count, stored_at, &max_rowid, out,
                                    &stored_per_job, &duplicates));
    begin += count;
  }
  BTRQ_RETURN_IF_ERROR(CountIncarnations(stored_per_job));
  if (duplicates > 0) {
    auto use = bump_duplicates_->Begin();
    sqlite3_bind_int64(use.get(), 1, duplicates);
    if (sqlite3_step(use.get()) != SQLITE_DONE) return SqlError("counting duplicates");
  }
  return Exec(db_, "COMMIT");
}

Status ResultStore::InsertRows(const std::vector<TaskResult>& results, size_t begin,
                               size_t count, int64_t stored_at, int64_t* max_rowid,
                               std::vector<PutOutcome>* out,
                               StoredPerIncarnation* stored_per_job, int64_t* duplicates) {
  SqliteStatement* insert = count == kRowsPerInsert ? insert_many_.get() : insert_.get();
  auto use = insert->Begin();
  for (size_t j = 0; j < count; ++j) {
    const TaskResult& r = results[rows_[begin + j]];
    EncodeFieldsTo(r.fields, &fields_buffers_[j]);
    BindRow(use.get(), static_cast<int>(j * kResultColumnCount) + 1, r, stored_at,
            fields_buffers_[j]);
  }
  if (sqlite3_step(use.get()) != SQLITE_DONE) {
    return SqlError("storing " + results[rows_[begin]].task.key.ToString() +
                    (count > 1 ? " and the next " + std::to_string(count - 1) : ""));
  }
  const int64_t changes = sqlite3_changes64(db_);
  for (size_t j = 0; j < count; ++j) {
    const uint32_t i = rows_[begin + j];
    const TaskKey& key = results[i].task.key;
    bool stored = changes == static_cast<int64_t>(count);
    if (!stored && changes > 0) {
      // Some keys of this statement were stored before (a resent result): look up
      // which rows are new.
      BTRQ_ASSIGN_OR_RETURN(int64_t rowid, RowidOf(key));
      stored = rowid > *max_rowid;
    }
    if (stored) {
      (*out)[i] = PutOutcome::kStored;
      Stored& s = (*stored_per_job)[{key.job, key.nonce}];
      ++s.results;
      s.first = std::min<size_t>(s.first, i);
    } else {
      ++*duplicates;
    }
  }
  if (changes > 0) *max_rowid = sqlite3_last_insert_rowid(db_);
  return Status::OK();
}

Status ResultStore::CountIncarnations(const StoredPerIncarnation& stored) {
  std::vector<std::pair<size_t, StoredPerIncarnation::const_iterator>> by_arrival;
  by_arrival.reserve(stored.size());
  for (auto it = stored.begin(); it != stored.end(); ++it) {
    by_arrival.emplace_back(it->second.first, it);
  }
  std::sort(by_arrival.begin(), by_arrival.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [first, it] : by_arrival) {
    auto use = bump_job_->Begin();
    sqlite3_bind_int64(use.get(), 1, static_cast<int64_t>(it->first.first));
    sqlite3_bind_int64(use.get(), 2, static_cast<int64_t>(it->first.second));
    sqlite3_bind_int64(use.get(), 3, it->second.results);
    if (sqlite3_step(use.get()) != SQLITE_DONE) return SqlError("counting results of a job");
  }
  return Status::OK();
}

namespace {
// Binds (job, job_nonce, stream, start) of `key` to parameters 1..4 of `s`.
void BindKey(sqlite3_stmt* s, const TaskKey& key) {
  const std::string_view stream = key.stream.AsBytes();
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(key.job));
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(key.nonce));
  sqlite3_bind_blob(s, 3, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, key.start);
}
}  // namespace

Result<int64_t> ResultStore::RowidOf(const TaskKey& key) {
  auto use = rowid_of_->Begin();
  sqlite3_stmt* s = use.get();
  BindKey(s, key);
  switch (sqlite3_step(s)) {
    case SQLITE_ROW: return sqlite3_column_int64(s, 0);
    case SQLITE_DONE: return int64_t{0};
    default: return SqlError("looking up " + key.ToString());
  }
}

Result<std::vector<StoredResult>> ResultStore::ReadPage(JobId job, JobNonce nonce,
                                                        const std::optional<TaskKey>& after,
                                                        size_t limit) {
  std::vector<StoredResult> page;
  if (limit == 0) return page;
  MutexLock lock(&mu_);
  auto use = after ? page_after_->Begin() : page_first_->Begin();
  sqlite3_stmt* s = use.get();
  int i = 1;
  sqlite3_bind_int64(s, i++, static_cast<int64_t>(job));
  sqlite3_bind_int64(s, i++, static_cast<int64_t>(nonce));
  if (after) {
    const std::string_view stream = after->stream.AsBytes();
    sqlite3_bind_blob(s, i++, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s, i++, after->start);
  }
  sqlite3_bind_int64(s, i++, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    BTRQ_RETURN_IF_ERROR(ReadRow(s, &page.emplace_back()));
  }
  if (rc != SQLITE_DONE) return SqlError("reading results of job " + std::to_string(job));
  return page;
}

Result<StoredResult> ResultStore::Get(const TaskKey& key) {
  MutexLock lock(&mu_);
  auto use = get_->Begin();
  sqlite3_stmt* s = use.get();
  BindKey(s, key);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return Status::NotFound("no result for " + key.ToString());
  if (rc != SQLITE_ROW) return SqlError("reading " + key.ToString());
  StoredResult out;
  BTRQ_RETURN_IF_ERROR(ReadRow(s, &out));
  return out;
}

Result<uint64_t> ResultStore::CountJob(JobId job, JobNonce nonce) {
  MutexLock lock(&mu_);
  auto use = count_job_->Begin();
  sqlite3_bind_int64(use.get(), 1, static_cast<int64_t>(job));
  sqlite3_bind_int64(use.get(), 2, static_cast<int64_t>(nonce));
  const int rc = sqlite3_step(use.get());
  if (rc == SQLITE_DONE) return uint64_t{0};
  if (rc != SQLITE_ROW) return SqlError("counting results of job " + std::to_string(job));
  return static_cast<uint64_t>(sqlite3_column_int64(use.get(), 0));
}

Result<JobNonce> ResultStore::CurrentNonce(JobId job) {
  MutexLock lock(&mu_);
  auto use = current_nonce_->Begin();
  sqlite3_bind_int64(use.get(), 1, static_cast<int64_t>(job));
  const int rc = sqlite3_step(use.get());
  if (rc == SQLITE_DONE) return JobNonce{0};
  if (rc != SQLITE_ROW) return SqlError("reading the incarnation of job " + std::to_string(job));
  return static_cast<JobNonce>(sqlite3_column_int64(use.get(), 0));
}

Result<StoreStats> ResultStore::Stats() {
  MutexLock lock(&mu_);
  auto use = stats_->Begin();
  if (sqlite3_step(use.get()) != SQLITE_ROW) return SqlError("reading store stats");
  StoreStats stats;
  stats.results = static_cast<uint64_t>(sqlite3_column_int64(use.get(), 0));
  stats.duplicates = static_cast<uint64_t>(sqlite3_column_int64(use.get(), 1));
  stats.jobs = static_cast<uint64_t>(sqlite3_column_int64(use.get(), 2));
  return stats;
}

}  // namespace btrq::sink
