#include "broker/journal_salvage.h"

#include <string>
#include <utility>

#include "broker/journal.h"
#include "broker/journal_records.h"
#include "common/record_log.h"

namespace btrq::broker {

RecordValidator DecodeRecordValidator() {
  return [](std::string_view payload) { return DecodeRecord(payload).status(); };
}

namespace {

// Sorts the frames of `log` into the kept ones (appended to *kept, framed) and the drops.
// InvalidArgument when the first frame is intact but not a journal header.
Status Sift(std::string_view log, const RecordValidator& validate, SalvageReport* report,
            std::string* kept) {
  record_log::Reader reader(log, Journal::ReaderOptions(JournalOptions()));
  for (;;) {
    const uint64_t at = reader.offset();
    std::string_view payload;
    if (reader.Next(&payload)) {
      if (at == 0) {
        if (payload == Journal::kHeader) continue;
        return Status::InvalidArgument(report->path +
                                       " is not a btrq journal (bad header); not salvaging it");
      }
      if (Status s = validate(payload); !s.ok()) {
        report->drops.push_back({at, reader.offset() - at, 1, "does not decode: " + s.message()});
        continue;
      }
      record_log::AppendRecord(kept, payload);
      ++report->kept_records;
      continue;
    }
    const record_log::LogEnd& end = reader.end();
    switch (end.kind) {
      case record_log::EndKind::kClean:
        return Status::OK();
      case record_log::EndKind::kTornTail:
        report->drops.push_back({end.offset, log.size() - end.offset, 0,
                                 "torn tail (a half-written last record or zeros to the end)"});
        return Status::OK();
      case record_log::EndKind::kCorrupt:
        report->drops.push_back({end.offset, end.next - end.offset, 0,
                                 "damaged frame(s) up to the next intact record (how many "
                                 "records they held cannot be told)"});
        reader.SkipCorrupt();
        break;
    }
  }
}

}  // namespace

Result<SalvageReport> SalvageJournal(const std::string& dir, const RecordValidator& validate,
                                     int64_t wall_ns, JournalEnv* env) {
  SalvageReport report;
  report.path = dir + "/" + std::string(Journal::kFileName);
  BTRQ_ASSIGN_OR_RETURN(const std::unique_ptr<FileLock> lock,
                        env->LockFile(dir + "/" + std::string(Journal::kLockFileName)));
  BTRQ_ASSIGN_OR_RETURN(const std::string log, env->ReadFile(report.path));
  std::string kept;
  record_log::AppendRecord(&kept, Journal::kHeader);  // fresh, in case the old one was lost
  BTRQ_RETURN_IF_ERROR(Sift(log, validate, &report, &kept));
  report.kept_bytes = kept.size();
  if (report.drops.empty()) return report;

  // The original first, whole, so that nothing is lost even if the rest fails.
  const std::string backup = report.path + ".bak-" + std::to_string(wall_ns);
  if (env->ReadFile(backup).ok()) {
    return Status::AlreadyExists(backup + " exists; not overwriting an earlier backup");
  }
  BTRQ_RETURN_IF_ERROR(ReplaceFileContents(env, backup, log).WithContext("backing up the journal"));
  BTRQ_RETURN_IF_ERROR(env->SyncDir(dir));
  report.backup_path = backup;
  BTRQ_RETURN_IF_ERROR(
      ReplaceFileContents(env, report.path, kept).WithContext("writing the salvaged journal"));
  BTRQ_RETURN_IF_ERROR(env->SyncDir(dir));
  return report;
}

std::string FormatSalvageReport(const SalvageReport& report) {
  if (report.drops.empty()) {
    return "journal " + report.path + ": nothing to salvage: " +
           std::to_string(report.kept_records) + " records, all valid; nothing changed\n";
  }
  uint64_t bytes = 0;
  uint64_t records = 0;
  for (const SalvageDrop& d : report.drops) {
    bytes += d.bytes;
    records += d.records;
  }
  std::string out = "journal " + report.path + ": dropped " + std::to_string(bytes) +
                    " bytes in " + std::to_string(report.drops.size()) + " place(s), " +
                    std::to_string(records) + " whole record(s) among them:\n";
  for (const SalvageDrop& d : report.drops) {
    out += "  offset " + std::to_string(d.offset) + ": " + std::to_string(d.bytes) + " bytes";
    if (d.records > 0) out += ", " + std::to_string(d.records) + " record(s)";
    out += ": " + d.reason + "\n";
  }
  out += "kept " + std::to_string(report.kept_records) + " records (" +
         std::to_string(report.kept_bytes) + " bytes with the header); the original is at " +
         report.backup_path + "\n";
  return out;
}

}  // namespace btrq::broker
