#pragma once

// The result store's schema: its migrations, and how a result maps to a row of the
// `results` table (columns in kResultColumns' order).

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/messages.h"
#include "common/status.h"
#include "results/stored_result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace btrq::sink {

// The schema version this build writes (stored in table schema_version).
inline constexpr int kResultSchemaVersion = 3;

// The columns of a result row, in the order BindRow binds and ReadRow reads them.
// job_nonce is the job's incarnation (TaskKey::nonce), stored as the int64 of its bits.
inline constexpr char kResultColumns[] =
    "job, stream, start, end_ns, version, attempt, worker, duration_ns, points_read, "
    "stored_at, fields, job_nonce";
inline constexpr size_t kResultColumnCount = 12;

// Brings the schema to kResultSchemaVersion in one transaction; read-only, only checks
// that it is there (FailedPrecondition when it is not, or when it is newer).
Status Migrate(sqlite3* db, bool read_only);

// Binds r's columns to parameters first.. of s; `fields` holds r's encoded fields and,
// like r, must outlive the statement's step (bound without copying).
void BindRow(sqlite3_stmt* s, int first, const TaskResult& r, int64_t stored_at,
             const std::string& fields);
// Reads the row `stmt` is on (selected as kResultColumns) into *out.
Status ReadRow(sqlite3_stmt* stmt, results::StoredResult* out);

}  // namespace btrq::sink
