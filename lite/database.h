#pragma once

// Database: every stream of a btrdb-lite server, its metadata and its versioned data,
// optionally durable in a directory (write-ahead log with group commit plus periodic
// snapshots).
//
// Thread-safety: all methods are thread-safe. Reads copy an immutable snapshot
// (std::shared_ptr<const StreamData>) under a short lock and never wait for writers;
// writes to one stream are serialised, writes to different streams run in parallel.
// A write returns only once its log record is durable (in durable mode).
//
// Errors carry the BTrDB status code as Status::subcode() (see BtrdbCode).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lite/stream_data.h"
#include "lite/wal.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/status.h"

namespace btrq::lite {

// BTrDB v5 status codes used here (docs/btrdb-api.md, Status codes).
enum BtrdbCode : uint32_t {
  kNoSuchPoint = 401,
  kContextError = 402,
  kNoSuchStream = 404,
  kInvalidCollection = 407,
  kInvalidTagKey = 408,
  kInvalidTagValue = 409,
  kInvalidTimeRange = 413,
  kInvalidPointWidth = 415,
  kSameStream = 417,
  kWrongArgs = 421,
  kAnnotationVersionMismatch = 423,
  kFaultInjectionDisabled = 424,
  kBadValue = 425,
  kInvalidVersions = 427,
  kObliterateDisabled = 431,
  kInvalidParameter = 438,
  kBadSqlValue = 441,
  kVersionNotAvailable = 450,
  kInvariantFailure = 500,
  kNotImplemented = 501,
};

// A Status with `code` as subcode and the StatusCode of btrdb/status_mapping.h's table.
Status BtrdbError(uint32_t code, std::string msg);
// The BTrDB code of a non-OK status: its subcode, or 500 when it has none.
uint32_t BtrdbCodeOf(const Status& s);

using KeyValues = std::map<std::string, std::string>;

struct StreamMeta {
  std::string collection;
  KeyValues tags;
  KeyValues annotations;
  uint64_t property_version = 1;  // 1 at creation, +1 per tag or annotation change
};

// A LookupStreams filter: `value` unset means "key present with any value".
struct KeyFilter {
  std::string key;
  std::optional<std::string> value;
};

// A tag or annotation update: `value` unset removes the key.
struct KeyChange {
  std::string key;
  std::optional<std::string> value;
};

struct DatabaseOptions {
  // Empty: memory only. Otherwise created if missing; holds wal-*.log and snapshot-*.
  std::string data_dir;
  // A snapshot is written in the background once the live log outgrows this.
  uint64_t checkpoint_log_bytes = uint64_t{256} << 20;
  // After a failed background checkpoint, the first pause before the next try (doubling
  // up to 60 s).
  std::chrono::milliseconds checkpoint_retry_min{1000};
};

struct RecoveryInfo {
  uint64_t snapshot_streams = 0;  // streams loaded from the snapshot
  uint64_t log_records = 0;       // log records replayed
  uint64_t discarded_bytes = 0;   // torn or corrupt tail dropped from the last log
};

// Key and value rules (v4's, relaxed): keys start with a letter or '_' and continue with
// letters, digits and "_.-/:", at most 255 bytes.
bool IsValidKey(std::string_view key);

class Database {
 public:
  // Opens (recovering from data_dir when set).
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // 417 when the uuid exists; 407/408/409 for invalid collection, keys or values.
  Status Create(const Uuid& id, const std::string& collection, const KeyValues& tags,
                const KeyValues& annotations);
  // Returns the new version (the current one for an empty batch). 425 for NaN/±Inf,
  // 413 for times outside [kMinTime, kMaxTime - 1).
  Result<uint64_t> Insert(const Uuid& id, std::vector<Point> points, MergePolicy policy);
  // Returns the new version. 413 unless kMinTime <= start < end < kMaxTime.
  Result<uint64_t> Delete(const Uuid& id, int64_t start, int64_t end);
  Status Obliterate(const Uuid& id);
  // Compare-and-set on the property version (423 on mismatch); `collection` moves the
  // stream when set and non-empty.
  Status SetTags(const Uuid& id, uint64_t expected_property_version,
                 const std::optional<std::string>& collection, const std::vector<KeyChange>& changes,
                 const std::vector<std::string>& removals);
  Status SetAnnotations(const Uuid& id, uint64_t expected_property_version,
                        const std::vector<KeyChange>& changes, const std::vector<std::string>& removals);

  Result<std::shared_ptr<const StreamData>> Data(const Uuid& id) const;
  Result<std::shared_ptr<const StreamMeta>> Meta(const Uuid& id) const;
  // Streams whose collection equals (or starts with, when `prefix`) `collection` and that
  // match every filter, ordered by collection then uuid.
  std::vector<std::pair<Uuid, std::shared_ptr<const StreamMeta>>> Lookup(
      std::string_view collection, bool prefix, const std::vector<KeyFilter>& tags,
      const std::vector<KeyFilter>& annotations) const;
  // Distinct collections starting with `prefix`, sorted.
  std::vector<std::string> ListCollections(std::string_view prefix) const;

  // Writes a snapshot now and drops the logs it covers. No-op in memory mode.
  Status Checkpoint();
  const RecoveryInfo& recovery() const { return recovery_; }
  // Background checkpoints that failed since Open.
  uint64_t checkpoint_failures() const { return checkpoint_failures_.load(); }
  bool durable() const { return !options_.data_dir.empty(); }

 private:
  struct Entry;
  using EntryMap = std::map<Uuid, std::shared_ptr<Entry>>;

  explicit Database(DatabaseOptions options);
  Status Recover() BTRQ_EXCLUDES(checkpoint_mu_, map_mu_);
  Status ReplayRecord(std::string_view payload) BTRQ_REQUIRES(map_mu_);
  Status LoadSnapshot(const std::string& path) BTRQ_REQUIRES(map_mu_);
  std::shared_ptr<Entry> Find(const Uuid& id) const;
  // Appends a record to the live log (when durable); returns the writer and sequence to
  // Sync() once locks are released.
  std::pair<std::shared_ptr<LogWriter>, uint64_t> LogAppend(const std::string& payload)
      BTRQ_REQUIRES_SHARED(checkpoint_mu_);
  Status WaitDurable(const std::pair<std::shared_ptr<LogWriter>, uint64_t>& ticket);
  // Compare-and-set of one stream's metadata. REQUIRES: e.write_mu held.
  static Status ApplyMetaChange(Entry& e, uint64_t expected, const std::optional<std::string>& collection,
                                const std::vector<KeyChange>& tag_changes,
                                const std::vector<std::string>& tag_removals,
                                const std::vector<KeyChange>& ann_changes,
                                const std::vector<std::string>& ann_removals);
  void CheckpointLoop();

  const DatabaseOptions options_;
  RecoveryInfo recovery_;

  // Writers hold it shared; Checkpoint() holds it exclusive to cut the log.
  mutable SharedMutex checkpoint_mu_;
  std::shared_ptr<LogWriter> log_ BTRQ_GUARDED_BY(checkpoint_mu_);
  uint64_t log_number_ BTRQ_GUARDED_BY(checkpoint_mu_) = 0;

  mutable SharedMutex map_mu_;
  EntryMap streams_ BTRQ_GUARDED_BY(map_mu_);

  Mutex checkpoint_run_mu_;  // one checkpoint at a time
  Mutex bg_mu_;
  CondVar bg_cv_;
  bool bg_stop_ BTRQ_GUARDED_BY(bg_mu_) = false;
  bool bg_wanted_ BTRQ_GUARDED_BY(bg_mu_) = false;
  std::thread bg_;
  std::atomic<uint64_t> checkpoint_failures_{0};
};

}  // namespace btrq::lite
