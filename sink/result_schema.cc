#include "sink/result_schema.h"

#include <sqlite3.h>

#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "sink/fields_blob.h"
#include "sink/sqlite_util.h"

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
    // 3: the job's nonce joins the task key (issue #14: a job id handed out again after a
    // journal was salvaged or lost names another job). Rows stored before read as nonce 0.
    // Per-job counts become per incarnation; seq orders incarnations by the arrival of
    // their first result (the highest is the job id's current one); old jobs keep their
    // id as seq, below any new incarnation's.
    R"sql(
ALTER TABLE results ADD COLUMN job_nonce INTEGER NOT NULL DEFAULT 0;
DROP INDEX results_key;
CREATE UNIQUE INDEX results_key ON results(job, job_nonce, stream, start);
CREATE TABLE job_incarnations(
  job INTEGER NOT NULL,
  nonce INTEGER NOT NULL,
  results INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(job, nonce)
) WITHOUT ROWID;
INSERT INTO job_incarnations(job, nonce, results, seq) SELECT job, 0, results, job FROM jobs;
CREATE INDEX job_incarnations_seq ON job_incarnations(seq);
DROP TABLE jobs;
)sql",
};
static_assert(std::size(kMigrations) == kResultSchemaVersion);

}  // namespace

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
  if (version > kResultSchemaVersion) {
    return Status::FailedPrecondition("result store schema version " + std::to_string(version) +
                                      " is newer than this build's (" +
                                      std::to_string(kResultSchemaVersion) + ")");
  }
  if (version == kResultSchemaVersion) return Status::OK();
  if (read_only) {
    return Status::FailedPrecondition("result store schema version " + std::to_string(version) +
                                      " needs a migration; open it read-write first");
  }
  BTRQ_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  Status status;
  for (int64_t v = version; v < kResultSchemaVersion && status.ok(); ++v) {
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
  sqlite3_bind_int64(s, first + 11, static_cast<int64_t>(r.task.key.nonce));
}

Status ReadRow(sqlite3_stmt* stmt, results::StoredResult* out) {
  TaskResult& r = out->result;
  r.task.key.job = static_cast<JobId>(sqlite3_column_int64(stmt, 0));
  const void* stream = sqlite3_column_blob(stmt, 1);
  const int stream_len = sqlite3_column_bytes(stmt, 1);
  auto uuid = Uuid::FromBytes(
      std::string_view(static_cast<const char*>(stream), static_cast<size_t>(stream_len)));
  if (!uuid.ok()) return Status::Internal("corrupt stream id in result store");
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
  if (!fields.ok()) return fields.status();
  r.fields = std::move(*fields);
  r.task.key.nonce = static_cast<JobNonce>(sqlite3_column_int64(stmt, 11));
  return Status::OK();
}

}  // namespace btrq::sink
