#pragma once

// Database internals shared by database.cc (the streams and their operations) and
// database_recovery.cc (log replay, snapshots, checkpoints): a stream's entry, and the
// encoding of log records and snapshots (database_format.cc). Not for other callers.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/mutex.h"
#include "lite/database.h"
#include "lite/encoding.h"
#include "lite/stream_data.h"

namespace btrq::lite {

struct Database::Entry {
  Mutex write_mu;  // serialises writes to this stream
  bool dead BTRQ_GUARDED_BY(write_mu) = false;
  mutable Mutex mu;  // held only to copy or swap the pointers below
  std::shared_ptr<const StreamData> data BTRQ_GUARDED_BY(mu);
  std::shared_ptr<const StreamMeta> meta BTRQ_GUARDED_BY(mu);

  std::shared_ptr<const StreamData> GetData() const {
    MutexLock l(&mu);
    return data;
  }
  std::shared_ptr<const StreamMeta> GetMeta() const {
    MutexLock l(&mu);
    return meta;
  }
};

// Log record types. Written to disk: do not renumber.
enum RecordType : uint8_t { kCreate = 1, kInsert = 2, kDelete = 3, kMeta = 4, kObliterate = 5 };

// A snapshot: the magic, then the log number it covers, the stream count and each stream,
// then a CRC-32C of all that. Written to disk: do not change.
inline constexpr char kSnapshotMagic[] = "BTRQLSN1";
inline constexpr size_t kMagicBytes = 8;

// "wal-<20 digits>.log" and "snapshot-<20 digits>".
std::string LogName(uint64_t n);
std::string SnapshotName(uint64_t n);
// Parses "<prefix><digits><suffix>".
bool ParseNumbered(const std::string& name, std::string_view prefix, std::string_view suffix,
                   uint64_t* n);

void PutUuid(std::string* out, const Uuid& id);
bool GetUuid(Decoder* d, Uuid* id);
void PutKeyValues(std::string* out, const KeyValues& kv);
bool GetKeyValues(Decoder* d, KeyValues* kv);
// A tag or annotation update as stored in a kMeta record.
void PutChanges(std::string* out, const std::vector<KeyChange>& changes,
                const std::vector<std::string>& removals);
bool GetChanges(Decoder* d, std::vector<KeyChange>* changes, std::vector<std::string>* removals);
void PutMeta(std::string* out, const StreamMeta& m);
bool GetMeta(Decoder* d, StreamMeta* m);
// Sets the changed keys and erases the removed ones.
void ApplyChanges(KeyValues* kv, const std::vector<KeyChange>& changes,
                  const std::vector<std::string>& removals);

}  // namespace btrq::lite
