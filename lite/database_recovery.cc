// Database durability: recovery from snapshot plus logs, the write path's log append and
// wait, and checkpoints (a snapshot, then the logs it covers are dropped).
#include "lite/database.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "lite/database_internal.h"

namespace btrq::lite {
namespace fs = std::filesystem;

Status Database::Recover() {
  // Open runs this before any other thread can see the database: the locks are
  // uncontended, and held so that the analysis checks the fields they guard.
  WriterMutexLock cp(&checkpoint_mu_);
  WriterMutexLock l(&map_mu_);
  const std::string& dir = options_.data_dir;
  std::set<uint64_t> logs, snapshots;
  for (const auto& de : fs::directory_iterator(dir)) {
    const std::string name = de.path().filename().string();
    uint64_t n;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      std::error_code ec;
      fs::remove(de.path(), ec);  // a snapshot that never completed
      continue;
    }
    if (ParseNumbered(name, "wal-", ".log", &n)) logs.insert(n);
    if (ParseNumbered(name, "snapshot-", "", &n)) snapshots.insert(n);
  }
  uint64_t base = 0;
  if (!snapshots.empty()) {
    base = *snapshots.rbegin();
    BTRQ_RETURN_IF_ERROR(LoadSnapshot(dir + "/" + SnapshotName(base)));
  }
  uint64_t last = base;
  for (uint64_t n : logs) {
    last = std::max(last, n);
    if (n < base) continue;
    const std::string path = dir + "/" + LogName(n);
    BTRQ_ASSIGN_OR_RETURN(LogReadResult r, ReadLog(path, [this](std::string_view p) BTRQ_REQUIRES(map_mu_) { return ReplayRecord(p); }));
    recovery_.log_records += r.records;
    if (r.end.kind == record_log::EndKind::kCorrupt) {
      // Intact records after the damage were acknowledged: cutting there would lose them.
      return Status::IoError("corrupt record in " + path + " at offset " +
                             std::to_string(r.end.offset) + " (" + std::to_string(r.records_after) +
                             " valid records follow); refusing to start and leaving the file as it is");
    }
    if (r.valid_bytes < r.file_bytes) {
      if (n != *logs.rbegin()) {
        return Status::IoError("corrupt record in " + path + " at offset " + std::to_string(r.valid_bytes) +
                               " (not the last log)");
      }
      // A torn tail of the last log: those writes were never acknowledged. Cut it off so
      // that the log stays well-formed once later logs follow it.
      recovery_.discarded_bytes = r.file_bytes - r.valid_bytes;
      if (::truncate(path.c_str(), static_cast<off_t>(r.valid_bytes)) != 0) {
        return Status::IoError("cannot truncate " + path);
      }
    }
  }
  log_number_ = last + 1;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<LogWriter> w, LogWriter::Open(dir + "/" + LogName(log_number_)));
  log_ = std::move(w);
  return SyncDir(dir);
}

Status Database::LoadSnapshot(const std::string& path) {
  BTRQ_ASSIGN_OR_RETURN(const std::string data, ReadFileToString(path));
  if (data.size() < kMagicBytes + 4 || data.compare(0, kMagicBytes, kSnapshotMagic) != 0) {
    return Status::IoError("not a snapshot: " + path);
  }
  const uint32_t crc = DecodeFixed32(data.data() + data.size() - 4);
  if (Crc32c(std::string_view(data).substr(0, data.size() - 4)) != crc) return Status::IoError("snapshot checksum mismatch: " + path);
  Decoder d(std::string_view(data).substr(kMagicBytes, data.size() - kMagicBytes - 4));
  uint64_t number, count;
  if (!d.GetFixed64(&number) || !d.GetVarint(&count)) return Status::IoError("corrupt snapshot " + path);
  for (uint64_t i = 0; i < count; ++i) {
    Uuid id;
    auto meta = std::make_shared<StreamMeta>();
    std::string_view blob;
    if (!GetUuid(&d, &id) || !GetMeta(&d, meta.get()) || !d.GetBytes(&blob)) {
      return Status::IoError("corrupt snapshot " + path);
    }
    BTRQ_ASSIGN_OR_RETURN(std::shared_ptr<const StreamData> sd, StreamData::DecodeFrom(blob));
    auto e = std::make_shared<Entry>();
    {
      MutexLock l(&e->mu);
      e->data = std::move(sd);
      e->meta = std::move(meta);
    }
    streams_[id] = std::move(e);
  }
  recovery_.snapshot_streams = count;
  return Status::OK();
}

Status Database::ReplayRecord(std::string_view payload) {
  const Status corrupt = Status::IoError("malformed log record");
  Decoder d(payload);
  uint8_t type;
  Uuid id;
  if (!d.GetU8(&type) || !GetUuid(&d, &id)) return corrupt;
  switch (type) {
    case kCreate: {
      auto meta = std::make_shared<StreamMeta>();
      if (!d.GetString(&meta->collection) || !GetKeyValues(&d, &meta->tags) ||
          !GetKeyValues(&d, &meta->annotations)) {
        return corrupt;
      }
      auto e = std::make_shared<Entry>();
      MutexLock l(&e->mu);
      e->data = StreamData::Empty();
      e->meta = std::move(meta);
      streams_[id] = std::move(e);
      return Status::OK();
    }
    case kObliterate:
      streams_.erase(id);
      return Status::OK();
    default:
      break;
  }
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::IoError("log record for an unknown stream");
  Entry& e = *it->second;
  MutexLock l(&e.mu);
  switch (type) {
    case kInsert: {
      uint8_t policy;
      uint64_t n;
      if (!d.GetU8(&policy) || policy > 3 || !d.GetVarint(&n) || n > payload.size()) return corrupt;
      std::vector<int64_t> times(n);
      std::vector<double> values(n);
      if (!d.GetArray(times.data(), n) || !d.GetArray(values.data(), n)) return corrupt;
      std::vector<Point> pts(n);
      for (uint64_t i = 0; i < n; ++i) pts[i] = {times[i], values[i]};
      e.data = e.data->Insert(std::move(pts), static_cast<MergePolicy>(policy));
      return Status::OK();
    }
    case kDelete: {
      int64_t start, end;
      if (!d.GetInt64(&start) || !d.GetInt64(&end)) return corrupt;
      e.data = e.data->Delete(start, end);
      return Status::OK();
    }
    case kMeta: {
      uint8_t has_collection;
      std::string collection;
      std::vector<KeyChange> tc, ac;
      std::vector<std::string> tr, ar;
      if (!d.GetU8(&has_collection) || !d.GetString(&collection) || !GetChanges(&d, &tc, &tr) ||
          !GetChanges(&d, &ac, &ar)) {
        return corrupt;
      }
      auto meta = std::make_shared<StreamMeta>(*e.meta);
      if (has_collection) meta->collection = collection;
      ApplyChanges(&meta->tags, tc, tr);
      ApplyChanges(&meta->annotations, ac, ar);
      ++meta->property_version;
      e.meta = std::move(meta);
      return Status::OK();
    }
    default:
      return Status::IoError("unknown log record type " + std::to_string(type));
  }
}

std::pair<std::shared_ptr<LogWriter>, uint64_t> Database::LogAppend(const std::string& payload) {
  if (!log_) return {nullptr, 0};
  const uint64_t seq = log_->Append(payload);
  if (log_->size_bytes() > options_.checkpoint_log_bytes) {
    MutexLock l(&bg_mu_);
    bg_wanted_ = true;
    bg_cv_.Signal();
  }
  return {log_, seq};
}

Status Database::WaitDurable(const std::pair<std::shared_ptr<LogWriter>, uint64_t>& ticket) {
  if (!ticket.first) return Status::OK();
  const Status s = ticket.first->Sync(ticket.second);
  return s.ok() ? s : BtrdbError(kInvariantFailure, "log write failed: " + s.message());
}

Status Database::Checkpoint() {
  if (!durable()) return Status::OK();
  MutexLock run(&checkpoint_run_mu_);
  const std::string& dir = options_.data_dir;
  std::shared_ptr<LogWriter> old_log;
  uint64_t number;
  std::vector<std::tuple<Uuid, std::shared_ptr<const StreamMeta>, std::shared_ptr<const StreamData>>> state;
  {
    // Cut: with writers excluded, the captured state is exactly the logs before `number`.
    WriterMutexLock cp(&checkpoint_mu_);
    number = log_number_ + 1;
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<LogWriter> w, LogWriter::Open(dir + "/" + LogName(number)));
    old_log = std::move(log_);
    log_ = std::move(w);
    log_number_ = number;
    ReaderMutexLock l(&map_mu_);
    state.reserve(streams_.size());
    for (const auto& [id, e] : streams_) state.emplace_back(id, e->GetMeta(), e->GetData());
  }
  BTRQ_RETURN_IF_ERROR(old_log->SyncAll());
  old_log.reset();

  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> file,
                        AtomicFileWriter::Create(dir + "/" + SnapshotName(number)));
  uint32_t crc = 0;
  Status s;
  auto write_chunk = [&](const std::string& chunk) {
    if (!s.ok()) return;
    crc = Crc32cExtend(crc, chunk);
    s = file->Append(chunk);
  };
  std::string buf(kSnapshotMagic, kMagicBytes);
  PutFixed64(&buf, number);
  PutVarint64(&buf, state.size());
  write_chunk(buf);
  for (const auto& [id, meta, data] : state) {
    buf.clear();
    PutUuid(&buf, id);
    PutMeta(&buf, *meta);
    std::string blob;
    data->EncodeTo(&blob);
    PutLengthPrefixed(&buf, blob);
    write_chunk(buf);
  }
  buf.clear();
  PutFixed32(&buf, crc);
  write_chunk(buf);
  BTRQ_RETURN_IF_ERROR(s);
  BTRQ_RETURN_IF_ERROR(file->Commit());
  std::error_code ec;
  // The snapshot is durable: older logs and snapshots are no longer needed.
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    uint64_t n;
    if ((ParseNumbered(name, "wal-", ".log", &n) || ParseNumbered(name, "snapshot-", "", &n)) && n < number) {
      fs::remove(de.path(), ec);
    }
  }
  return Status::OK();
}

void Database::CheckpointLoop() {
  std::chrono::milliseconds pause{0};
  for (;;) {
    {
      MutexLock l(&bg_mu_);
      while (!bg_stop_ && !bg_wanted_) bg_cv_.Wait(&bg_mu_);
      if (bg_stop_) return;
      bg_wanted_ = false;
    }
    // A failed checkpoint (a full disk) leaves the logs in place. Every append past the
    // size asks again, so without a pause it would rewrite the snapshot on each write:
    // retry after a doubling pause (1 s to 60 s), which only Close() cuts short.
    if (Checkpoint().ok()) {
      pause = std::chrono::milliseconds(0);
      continue;
    }
    checkpoint_failures_.fetch_add(1);
    pause = std::min(std::max(2 * pause, options_.checkpoint_retry_min),
                     std::chrono::milliseconds(60'000));
    MutexLock l(&bg_mu_);
    const auto until = std::chrono::steady_clock::now() + pause;
    while (!bg_stop_ && std::chrono::steady_clock::now() < until) {
      bg_cv_.WaitFor(&bg_mu_, until - std::chrono::steady_clock::now());
    }
  }
}

}  // namespace btrq::lite
