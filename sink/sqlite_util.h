#pragma once

// The result store's SQLite helpers: result codes as Status, statements run once, and a
// prepared statement reused across calls. The only sink header naming SQLite types
// besides result_store.h (which forward-declares them).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace btrq::sink {

// SQLITE_FULL -> ResourceExhausted, IOERR -> IoError, BUSY/LOCKED -> Unavailable,
// CANTOPEN -> NotFound, READONLY/PERM -> PermissionDenied, CONSTRAINT/MISMATCH ->
// InvalidArgument, the rest Internal (with `rc` as subcode). The message is
// "<what>: <message, or SQLite's text for rc>".
Status StatusFromSqlite(int rc, std::string_view what, const char* message);

// Runs SQL without results (pragmas, DDL, transaction control).
Status Exec(sqlite3* db, const char* sql);

// The integer in the first column of the first row of `sql`; NotFound without a row.
Result<int64_t> QueryInt(sqlite3* db, const char* sql);

// Process-wide SQLite settings, applied once before SQLite initializes (see the .cc).
void ConfigureSqliteOnce();

// A prepared statement, reused: Begin() hands it out, and the Use's destructor resets it
// and clears its bindings. Not thread-safe (its connection's owner serialises use).
class SqliteStatement {
 public:
  // Prepares `sql` on `db` for repeated use.
  static Result<std::unique_ptr<SqliteStatement>> Prepare(sqlite3* db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  class Use {
   public:
    explicit Use(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    sqlite3_stmt* get() const { return stmt_; }

   private:
    sqlite3_stmt* const stmt_;
  };

  Use Begin() { return Use(stmt_); }

 private:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* const stmt_;
};

}  // namespace btrq::sink
