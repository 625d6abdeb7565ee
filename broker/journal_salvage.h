#pragma once

// `btrq-broker --salvage-journal`: the repair for a journal that Open refuses (corruption
// with valid records after it). Keeps every valid record (its frame and CRC check and
// the validator accepts it), drops the rest, and says what it dropped. The original is
// kept byte for byte beside the salvaged journal; both are owner-only (0600).

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal_file.h"
#include "common/status.h"

namespace btrq::broker {

// OK when a payload is a record the broker can replay.
using RecordValidator = std::function<Status(std::string_view payload)>;

// The validator of the scheduler's records (journal_records.h DecodeRecord).
RecordValidator DecodeRecordValidator();

// A stretch of the original journal that the salvaged one does not keep.
struct SalvageDrop {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;  // whole records dropped; 0 where the framing itself is lost
  std::string reason;
};

struct SalvageReport {
  std::string path;         // the journal
  std::string backup_path;  // the original, as it was; empty when nothing was changed
  uint64_t kept_records = 0;  // besides the format header
  uint64_t kept_bytes = 0;
  std::vector<SalvageDrop> drops;  // in file order
};

// Salvages <dir>/journal.log: when anything must be dropped, writes the original to
// "<journal>.bak-<wall_ns>" and then, atomically, the journal of the kept records (with
// a fresh header if the old one was lost). Changes nothing when the journal is intact;
// NotFound when there is none, InvalidArgument for a file that is not a btrq journal,
// AlreadyExists when that backup name is taken. Stop the broker first.
Result<SalvageReport> SalvageJournal(const std::string& dir, const RecordValidator& validate,
                                     int64_t wall_ns, JournalEnv* env = JournalEnv::Posix());

// What an operator reads: every drop (offset, bytes, records, why), then the totals.
std::string FormatSalvageReport(const SalvageReport& report);

}  // namespace btrq::broker
