#include "sink/sqlite_util.h"

#include <sqlite3.h>

#include <mutex>
#include <string>

namespace btrq::sink {

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

Status Exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::OK();
  Status status = StatusFromSqlite(rc, sql, message);
  sqlite3_free(message);
  return status;
}

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

// Process-wide SQLite settings, applied once before SQLite initializes. Connections are
// opened NOMUTEX and each is used under its owner's lock; the memory statistics would
// otherwise take a global mutex on every allocation SQLite makes (two per stored row).
// If SQLite was initialized earlier in the process, sqlite3_config refuses
// (SQLITE_MISUSE) and the defaults stay: correct, only slower.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

Result<std::unique_ptr<SqliteStatement>> SqliteStatement::Prepare(sqlite3* db,
                                                                  const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return StatusFromSqlite(sqlite3_extended_errcode(db), "preparing " + sql, sqlite3_errmsg(db));
  }
  return std::unique_ptr<SqliteStatement>(new SqliteStatement(stmt));
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement::Use::~Use() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

}  // namespace btrq::sink
