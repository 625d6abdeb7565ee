#include "sink/result_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

namespace btrq::sink {

namespace {

// Schema migrations, applied in order; migration i brings the schema to version i + 1.
// Never edit a released migration: append a new one and bump kSchemaVersion.
constexpr const char* kMigrations[] = {
    // 1: results keyed by task key; per-job counts; durable counters.
    R"sql(
CREATE TABLE results(
  job INTEGER NOT NULL,
  stream BLOB NOT NULL,
  start INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  version INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  worker TEXT NOT NULL,
  duration_ns INTEGER NOT NULL,
  points_read INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  fields BLOB NOT NULL,
  PRIMARY KEY(job, stream, start)
) WITHOUT ROWID;
CREATE TABLE jobs(job INTEGER PRIMARY KEY, results INTEGER NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counters(name, value) VALUES('duplicates', 0);
)sql",
    // 2: results become a rowid table with the task key as a unique index. Rows are
    // appended in arrival order, so a commit writes a few consecutive table pages plus
    // the small index entries, instead of rewriting a ~400-byte row into a leaf page per
    // stream of the batch (WITHOUT ROWID suits rows far smaller than a page).
    R"sql(
CREATE TABLE results_v2(
  job INTEGER NOT NULL,
  stream BLOB NOT NULL,
  start INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  version INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  worker TEXT NOT NULL,
  duration_ns INTEGER NOT NULL,
  points_read INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  fields BLOB NOT NULL
);
INSERT INTO results_v2(job, stream, start, end_ns, version, attempt, worker, duration_ns,
                       points_read, stored_at, fields)
  SELECT job, stream, start, end_ns, version, attempt, worker, duration_ns, points_read,
         stored_at, fields
  FROM results ORDER BY job, stream, start;
DROP TABLE results;
ALTER TABLE results_v2 RENAME TO results;
CREATE UNIQUE INDEX results_key ON results(job, stream, start);
)sql",
};
static_assert(std::size(kMigrations) == ResultStore::kSchemaVersion);

constexpr char kResultColumns[] =
    "job, stream, start, end_ns, version, attempt, worker, duration_ns, points_read, "
    "stored_at, fields";
constexpr size_t kResultColumnCount = 11;

Status StatusFromSqlite(int rc, std::string_view what, const char* message) {
  std::string text = std::string(what) + ": " + (message ? message : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Status::ResourceExhausted(std::move(text));
    case SQLITE_IOERR:
      return Status::IoError(std::move(text));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(text));
    case SQLITE_CANTOPEN:
      return Status::NotFound(std::move(text));
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::PermissionDenied(std::move(text));
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      return Status::InvalidArgument(std::move(text));
    default:
      return {StatusCode::kInternal, std::move(text), rc};
  }
}

// ---- the Fields blob ----

constexpr uint8_t kFieldsFormat = 1;
enum FieldTag : uint8_t { kTagInt = 0, kTagDouble = 1, kTagString = 2 };

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetBytes(std::string_view* in, std::string* out) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

namespace {

// EncodeFields into `*out`, replacing its content (PutBatch reuses one buffer).
void EncodeFieldsTo(const Fields& fields, std::string* out_buffer) {
  std::string& out = *out_buffer;
  out.clear();
  out.push_back(static_cast<char>(kFieldsFormat));
  PutVarint(fields.size(), &out);
  for (const auto& [name, value] : fields) {
    PutVarint(name.size(), &out);
    out.append(name);
    if (const auto* i = std::get_if<int64_t>(&value)) {
      out.push_back(static_cast<char>(kTagInt));
      const auto u = static_cast<uint64_t>(*i);
      PutVarint((u << 1) ^ static_cast<uint64_t>(*i >> 63), &out);  // zigzag
    } else if (const auto* d = std::get_if<double>(&value)) {
      out.push_back(static_cast<char>(kTagDouble));
      const auto bits = std::bit_cast<uint64_t>(*d);
      for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(bits >> (8 * b)));
    } else {
      const auto& s = std::get<std::string>(value);
      out.push_back(static_cast<char>(kTagString));
      PutVarint(s.size(), &out);
      out.append(s);
    }
  }
}

}  // namespace

std::string EncodeFields(const Fields& fields) {
  std::string out;
  EncodeFieldsTo(fields, &out);
  return out;
}

Result<Fields> DecodeFields(std::string_view in) {
  const auto corrupt = [](const char* what) {
    return Status::Internal(std::string("corrupt fields blob: ") + what);
  };
  if (in.empty() || static_cast<uint8_t>(in.front()) != kFieldsFormat) {
    return corrupt("unknown format");
  }
  in.remove_prefix(1);
  uint64_t count = 0;
  // Every field takes at least 3 bytes, which bounds the reservation.
  if (!GetVarint(&in, &count) || count > in.size() / 3) return corrupt("bad count");
  Fields fields;
  fields.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string name;
    if (!GetBytes(&in, &name) || in.empty()) return corrupt("truncated name");
    const auto tag = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    switch (tag) {
      case kTagInt: {
        uint64_t z = 0;
        if (!GetVarint(&in, &z)) return corrupt("truncated int");
        const auto v = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
        fields.emplace_back(std::move(name), v);
        break;
      }
      case kTagDouble: {
        if (in.size() < 8) return corrupt("truncated double");
        uint64_t bits = 0;
        for (int b = 0; b < 8; ++b) bits |= uint64_t{static_cast<uint8_t>(in[b])} << (8 * b);
        in.remove_prefix(8);
        fields.emplace_back(std::move(name), std::bit_cast<double>(bits));
        break;
      }
      case kTagString: {
        std::string s;
        if (!GetBytes(&in, &s)) return corrupt("truncated string");
        fields.emplace_back(std::move(name), std::move(s));
        break;
      }
      default:
        return corrupt("unknown tag");
    }
  }
  if (!in.empty()) return corrupt("trailing bytes");
  return fields;
}

// A prepared statement, reused: Use() hands it out, and the Use's destructor resets it
// and clears its bindings.
class ResultStore::Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~Use() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    sqlite3_stmt* get() const { return stmt_; }

   private:
    sqlite3_stmt* const stmt_;
  };

  Use Begin() { return Use(stmt_); }

 private:
  sqlite3_stmt* const stmt_;
};

// Copies the WAL into the database file on its own thread and connection, so the
// writer's commits do not wait for it. PASSIVE checkpoints never block the writer or
// readers; the connection syncs like the writer (synchronous=FULL), so a checkpoint loses
// nothing on a crash: the WAL keeps every frame until the database file has it.
class ResultStore::Checkpointer {
 public:
  explicit Checkpointer(sqlite3* db) : db_(db), thread_([this] { Loop(); }) {}
  ~Checkpointer() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.Signal();
    thread_.join();
    sqlite3_close(db_);
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Runs `f` while no background checkpoint runs. Thread-safe.
  template <typename F>
  void Exclusive(F f) {
    MutexLock running(&run_mu_);
    f();
  }

  // Asks for a checkpoint (coalesced with one that is pending). Thread-safe.
  void Wake() {
    {
      MutexLock lock(&mu_);
      wake_ = true;
    }
    cv_.Signal();
  }

 private:
  void Loop() {
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

namespace {

// Runs SQL without results (pragmas, DDL, transaction control).
Status Exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::OK();
  Status status = StatusFromSqlite(rc, sql, message);
  sqlite3_free(message);
  return status;
}

// Reads the integer in the first column of the first row of `sql`.
Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return StatusFromSqlite(rc, sql, sqlite3_errmsg(db));
  rc = sqlite3_step(stmt);
  Result<int64_t> out = rc == SQLITE_ROW ? Result<int64_t>(sqlite3_column_int64(stmt, 0))
                        : rc == SQLITE_DONE
                            ? Result<int64_t>(Status::NotFound(std::string("no row: ") + sql))
                            : Result<int64_t>(StatusFromSqlite(rc, sql, sqlite3_errmsg(db)));
  sqlite3_finalize(stmt);
  return out;
}

// Brings the schema to ResultStore::kSchemaVersion (or checks it, read-only).
Status Migrate(sqlite3* db, bool read_only) {
  int64_t version = 0;
  if (!read_only) {
    BTRQ_RETURN_IF_ERROR(
        Exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
  }
  auto current = QueryInt(db, "SELECT max(version) FROM schema_version");
  if (current.ok()) {
    version = *current;
  } else if (!read_only || current.status().code() != StatusCode::kNotFound) {
    return current.status().WithContext("reading the schema version");
  }
  if (version > ResultStore::kSchemaVersion) {
    return Status::FailedPrecondition("result store schema version " + std::to_string(version) +
                                      " is newer than this build's (" +
                                      std::to_string(ResultStore::kSchemaVersion) + ")");
  }
  if (version == ResultStore::kSchemaVersion) return Status::OK();
  if (read_only) {
    return Status::FailedPrecondition("result store schema version " + std::to_string(version) +
                                      " needs a migration; open it read-write first");
  }
  BTRQ_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  Status status;
  for (int64_t v = version; v < ResultStore::kSchemaVersion && status.ok(); ++v) {
    status = Exec(db, kMigrations[v]);
    if (status.ok()) {
      const std::string record =
          "INSERT INTO schema_version(version) VALUES(" + std::to_string(v + 1) + ")";
      status = Exec(db, record.c_str());
    }
  }
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) {
    Exec(db, "ROLLBACK").IgnoreError();  // the migration's own error is the one to report
    return status.WithContext("migrating the result store");
  }
  return Status::OK();
}

void ReadRow(sqlite3_stmt* stmt, StoredResult* out, Status* status) {
  TaskResult& r = out->result;
  r.task.key.job = static_cast<JobId>(sqlite3_column_int64(stmt, 0));
  const void* stream = sqlite3_column_blob(stmt, 1);
  const int stream_len = sqlite3_column_bytes(stmt, 1);
  auto uuid = Uuid::FromBytes(
      std::string_view(static_cast<const char*>(stream), static_cast<size_t>(stream_len)));
  if (!uuid.ok()) {
    *status = Status::Internal("corrupt stream id in result store");
    return;
  }
  r.task.key.stream = *uuid;
  r.task.key.start = sqlite3_column_int64(stmt, 2);
  r.end = sqlite3_column_int64(stmt, 3);
  r.version = static_cast<uint64_t>(sqlite3_column_int64(stmt, 4));
  r.task.attempt = static_cast<uint32_t>(sqlite3_column_int64(stmt, 5));
  const unsigned char* worker = sqlite3_column_text(stmt, 6);
  r.worker_id.assign(worker ? reinterpret_cast<const char*>(worker) : "",
                     static_cast<size_t>(sqlite3_column_bytes(stmt, 6)));
  r.duration_ns = sqlite3_column_int64(stmt, 7);
  r.points_read = sqlite3_column_int64(stmt, 8);
  out->stored_at = sqlite3_column_int64(stmt, 9);
  const void* blob = sqlite3_column_blob(stmt, 10);
  auto fields = DecodeFields(std::string_view(static_cast<const char*>(blob),
                                              static_cast<size_t>(sqlite3_column_bytes(stmt, 10))));
  if (!fields.ok()) {
    *status = fields.status();
    return;
  }
  r.fields = std::move(*fields);
}

// Process-wide SQLite settings, applied once before SQLite initializes. Connections are
// opened NOMUTEX and each is used under its owner's lock; the memory statistics would
// otherwise take a global mutex on every allocation SQLite makes (two per stored row).
// If SQLite was initialized earlier in the process, sqlite3_config refuses
// (SQLITE_MISUSE) and the defaults stay: correct, only slower.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

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
    store->checkpointer_ = std::make_unique<Checkpointer>(ckpt);
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
  stats_.reset();
  sqlite3_close(db_);
}

Status ResultStore::SqlError(std::string_view what) {
  return StatusFromSqlite(sqlite3_extended_errcode(db_), what, sqlite3_errmsg(db_));
}

Status ResultStore::PrepareOne(const std::string& sql, std::unique_ptr<Statement>* out) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    return SqlError("preparing " + sql);
  }
  *out = std::make_unique<Statement>(stmt);
  return Status::OK();
}

Status ResultStore::Prepare() {
  const auto prepare = [this](const std::string& sql, std::unique_ptr<Statement>* out)
                           BTRQ_REQUIRES(mu_) { return PrepareOne(sql, out); };
  if (!read_only_) {
    const std::string insert =
        std::string("INSERT OR IGNORE INTO results(") + kResultColumns + ") VALUES";
    const std::string row = "(?,?,?,?,?,?,?,?,?,?,?)";
    std::string rows = row;
    for (size_t i = 1; i < kRowsPerInsert; ++i) rows += "," + row;
    BTRQ_RETURN_IF_ERROR(prepare(insert + row, &insert_));
    BTRQ_RETURN_IF_ERROR(prepare(insert + rows, &insert_many_));
    BTRQ_RETURN_IF_ERROR(prepare("SELECT max(rowid) FROM results", &max_rowid_));
    BTRQ_RETURN_IF_ERROR(
        prepare("SELECT rowid FROM results WHERE job = ? AND stream = ? AND start = ?",
                &rowid_of_));
    BTRQ_RETURN_IF_ERROR(prepare(
        "INSERT INTO jobs(job, results) VALUES(?1, ?2) "
        "ON CONFLICT(job) DO UPDATE SET results = results + ?2",
        &bump_job_));
    BTRQ_RETURN_IF_ERROR(
        prepare("UPDATE counters SET value = value + ? WHERE name = 'duplicates'",
                &bump_duplicates_));
  }
  const std::string select = std::string("SELECT ") + kResultColumns + " FROM results ";
  BTRQ_RETURN_IF_ERROR(
      prepare(select + "WHERE job = ? ORDER BY stream, start LIMIT ?", &page_first_));
  BTRQ_RETURN_IF_ERROR(prepare(
      select + "WHERE job = ? AND (stream, start) > (?, ?) ORDER BY stream, start LIMIT ?",
      &page_after_));
  BTRQ_RETURN_IF_ERROR(
      prepare(select + "WHERE job = ? AND stream = ? AND start = ?", &get_));
  BTRQ_RETURN_IF_ERROR(prepare("SELECT results FROM jobs WHERE job = ?", &count_job_));
  BTRQ_RETURN_IF_ERROR(prepare(
      "SELECT (SELECT coalesce(sum(results), 0) FROM jobs), "
      "(SELECT value FROM counters WHERE name = 'duplicates'), "
      "(SELECT count(*) FROM jobs)",
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

namespace {

// Binds r's columns (kResultColumns) to parameters first.. of s; `fields` holds r's
// encoded fields.
void BindRow(sqlite3_stmt* s, int first, const TaskResult& r, int64_t stored_at,
             const std::string& fields) {
  const std::string_view stream = r.task.key.stream.AsBytes();
  sqlite3_bind_int64(s, first + 0, static_cast<int64_t>(r.task.key.job));
  sqlite3_bind_blob(s, first + 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, first + 2, r.task.key.start);
  sqlite3_bind_int64(s, first + 3, r.end);
  sqlite3_bind_int64(s, first + 4, static_cast<int64_t>(r.version));
  sqlite3_bind_int64(s, first + 5, r.task.attempt);
  sqlite3_bind_text(s, first + 6, r.worker_id.data(), static_cast<int>(r.worker_id.size()),
                    SQLITE_STATIC);
  sqlite3_bind_int64(s, first + 7, r.duration_ns);
  sqlite3_bind_int64(s, first + 8, r.points_read);
  sqlite3_bind_int64(s, first + 9, stored_at);
  sqlite3_bind_blob(s, first + 10, fields.data(), static_cast<int>(fields.size()), SQLITE_STATIC);
}

}  // namespace

Status ResultStore::PutBatchLocked(const std::vector<TaskResult>& results,
                                   std::vector<PutOutcome>* out) {
  if (results.empty()) return Status::OK();
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
  std::map<JobId, int64_t> stored_per_job;
  for (size_t begin = 0; begin < rows_.size();) {
    // kRowsPerInsert rows per statement (a fifth less CPU per row than one); the tail
    // one by one.
    const size_t count = rows_.size() - begin >= kRowsPerInsert ? kRowsPerInsert : 1;
    Statement* insert = count == kRowsPerInsert ? insert_many_.get() : insert_.get();
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
      bool stored = changes == static_cast<int64_t>(count);
      if (!stored && changes > 0) {
        // Some keys of this statement were stored before (a resent result): look up
        // which rows are new.
        BTRQ_ASSIGN_OR_RETURN(int64_t rowid, RowidOf(key_of(i)));
        stored = rowid > max_rowid;
      }
      if (stored) {
        (*out)[i] = PutOutcome::kStored;
        ++stored_per_job[key_of(i).job];
      } else {
        ++duplicates;
      }
    }
    if (changes > 0) max_rowid = sqlite3_last_insert_rowid(db_);
    begin += count;
  }
  for (const auto& [job, n] : stored_per_job) {
    auto use = bump_job_->Begin();
    sqlite3_bind_int64(use.get(), 1, static_cast<int64_t>(job));
    sqlite3_bind_int64(use.get(), 2, n);
    if (sqlite3_step(use.get()) != SQLITE_DONE) return SqlError("counting results of a job");
  }
  if (duplicates > 0) {
    auto use = bump_duplicates_->Begin();
    sqlite3_bind_int64(use.get(), 1, duplicates);
    if (sqlite3_step(use.get()) != SQLITE_DONE) return SqlError("counting duplicates");
  }
  return Exec(db_, "COMMIT");
}

Result<int64_t> ResultStore::RowidOf(const TaskKey& key) {
  auto use = rowid_of_->Begin();
  sqlite3_stmt* s = use.get();
  const std::string_view stream = key.stream.AsBytes();
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(key.job));
  sqlite3_bind_blob(s, 2, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, key.start);
  switch (sqlite3_step(s)) {
    case SQLITE_ROW: return sqlite3_column_int64(s, 0);
    case SQLITE_DONE: return int64_t{0};
    default: return SqlError("looking up " + key.ToString());
  }
}

Result<std::vector<StoredResult>> ResultStore::ReadPage(JobId job,
                                                        const std::optional<TaskKey>& after,
                                                        size_t limit) {
  std::vector<StoredResult> page;
  if (limit == 0) return page;
  MutexLock lock(&mu_);
  auto use = after ? page_after_->Begin() : page_first_->Begin();
  sqlite3_stmt* s = use.get();
  int i = 1;
  sqlite3_bind_int64(s, i++, static_cast<int64_t>(job));
  if (after) {
    const std::string_view stream = after->stream.AsBytes();
    sqlite3_bind_blob(s, i++, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s, i++, after->start);
  }
  sqlite3_bind_int64(s, i++, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  Status status;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ReadRow(s, &page.emplace_back(), &status);
    if (!status.ok()) return status;
  }
  if (rc != SQLITE_DONE) return SqlError("reading results of job " + std::to_string(job));
  return page;
}

Result<StoredResult> ResultStore::Get(const TaskKey& key) {
  MutexLock lock(&mu_);
  auto use = get_->Begin();
  sqlite3_stmt* s = use.get();
  const std::string_view stream = key.stream.AsBytes();
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(key.job));
  sqlite3_bind_blob(s, 2, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, key.start);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return Status::NotFound("no result for " + key.ToString());
  if (rc != SQLITE_ROW) return SqlError("reading " + key.ToString());
  StoredResult out;
  Status status;
  ReadRow(s, &out, &status);
  if (!status.ok()) return status;
  return out;
}

Result<uint64_t> ResultStore::CountJob(JobId job) {
  MutexLock lock(&mu_);
  auto use = count_job_->Begin();
  sqlite3_bind_int64(use.get(), 1, static_cast<int64_t>(job));
  const int rc = sqlite3_step(use.get());
  if (rc == SQLITE_DONE) return uint64_t{0};
  if (rc != SQLITE_ROW) return SqlError("counting results of job " + std::to_string(job));
  return static_cast<uint64_t>(sqlite3_column_int64(use.get(), 0));
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
