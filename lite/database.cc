#include "lite/database.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include "lite/crc32c.h"
#include "lite/encoding.h"
#include "btrdb/status_mapping.h"

namespace btrq::lite {
namespace fs = std::filesystem;

namespace {

// Log record types. Written to disk: do not renumber.
enum RecordType : uint8_t { kCreate = 1, kInsert = 2, kDelete = 3, kMeta = 4, kObliterate = 5 };

constexpr char kSnapshotMagic[] = "BTRQLSN1";
constexpr size_t kMagicBytes = 8;

std::string LogName(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "wal-%020" PRIu64 ".log", n);
  return buf;
}
std::string SnapshotName(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "snapshot-%020" PRIu64, n);
  return buf;
}
// Parses "<prefix><digits><suffix>".
bool ParseNumbered(const std::string& name, std::string_view prefix, std::string_view suffix, uint64_t* n) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
  *n = std::stoull(digits);
  return true;
}

void PutUuid(std::string* out, const Uuid& id) { out->append(id.AsBytes()); }
bool GetUuid(Decoder* d, Uuid* id) { return d->GetArray(id->bytes.data(), 16); }

void PutKeyValues(std::string* out, const KeyValues& kv) {
  PutVarint(out, kv.size());
  for (const auto& [k, v] : kv) {
    PutBytes(out, k);
    PutBytes(out, v);
  }
}
bool GetKeyValues(Decoder* d, KeyValues* kv) {
  uint64_t n;
  if (!d->GetVarint(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!d->GetString(&k) || !d->GetString(&v)) return false;
    (*kv)[k] = v;
  }
  return true;
}
void PutChanges(std::string* out, const std::vector<KeyChange>& changes, const std::vector<std::string>& removals) {
  PutVarint(out, changes.size());
  for (const KeyChange& c : changes) {
    PutBytes(out, c.key);
    out->push_back(c.value ? 1 : 0);
    if (c.value) PutBytes(out, *c.value);
  }
  PutVarint(out, removals.size());
  for (const std::string& r : removals) PutBytes(out, r);
}
bool GetChanges(Decoder* d, std::vector<KeyChange>* changes, std::vector<std::string>* removals) {
  uint64_t n;
  if (!d->GetVarint(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    KeyChange c;
    uint8_t has;
    if (!d->GetString(&c.key) || !d->GetU8(&has)) return false;
    if (has) {
      std::string v;
      if (!d->GetString(&v)) return false;
      c.value = std::move(v);
    }
    changes->push_back(std::move(c));
  }
  if (!d->GetVarint(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string r;
    if (!d->GetString(&r)) return false;
    removals->push_back(std::move(r));
  }
  return true;
}

void PutMeta(std::string* out, const StreamMeta& m) {
  PutBytes(out, m.collection);
  PutKeyValues(out, m.tags);
  PutKeyValues(out, m.annotations);
  PutFixed64(out, m.property_version);
}
bool GetMeta(Decoder* d, StreamMeta* m) {
  return d->GetString(&m->collection) && GetKeyValues(d, &m->tags) && GetKeyValues(d, &m->annotations) &&
         d->GetFixed64(&m->property_version);
}

Status ValidateCollection(std::string_view c) {
  if (c.empty() || c.size() > 255 || c.find('\0') != std::string_view::npos) {
    return BtrdbError(kInvalidCollection, "invalid collection name");
  }
  return Status::OK();
}

Status ValidateKeyValue(std::string_view key, std::string_view value, size_t max_value) {
  if (!IsValidKey(key)) return BtrdbError(kInvalidTagKey, "invalid key '" + std::string(key) + "'");
  if (value.size() > max_value || value.find('\0') != std::string_view::npos) {
    return BtrdbError(kInvalidTagValue, "invalid value for key '" + std::string(key) + "'");
  }
  return Status::OK();
}

constexpr size_t kMaxTagValue = 255;
constexpr size_t kMaxAnnotationValue = 64 * 1024;

bool Matches(const KeyValues& kv, const std::vector<KeyFilter>& filters) {
  for (const KeyFilter& f : filters) {
    auto it = kv.find(f.key);
    if (it == kv.end()) return false;
    if (f.value && it->second != *f.value) return false;
  }
  return true;
}

void ApplyChanges(KeyValues* kv, const std::vector<KeyChange>& changes, const std::vector<std::string>& removals) {
  for (const KeyChange& c : changes) {
    if (c.value) {
      (*kv)[c.key] = *c.value;
    } else {
      kv->erase(c.key);
    }
  }
  for (const std::string& r : removals) kv->erase(r);
}

}  // namespace

Status BtrdbError(uint32_t code, std::string msg) {
  // The client's table, so a code means the same on both sides of the wire.
  return Status(btrdb::BtrdbCodeToStatusCode(code), std::move(msg), static_cast<int32_t>(code));
}

uint32_t BtrdbCodeOf(const Status& s) {
  if (s.ok()) return 0;
  return s.subcode() > 0 ? static_cast<uint32_t>(s.subcode()) : kInvariantFailure;
}

bool IsValidKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(key[0])) return false;
  for (char c : key) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '/' && c != ':') return false;
  }
  return true;
}

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

Database::Database(DatabaseOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database(options));
  if (options.data_dir.empty()) return db;
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) return Status::IoError("cannot create " + options.data_dir + ": " + ec.message());
  BTRQ_RETURN_IF_ERROR(db->Recover());
  db->bg_ = std::thread([d = db.get()] { d->CheckpointLoop(); });
  return db;
}

Database::~Database() {
  {
    MutexLock l(&bg_mu_);
    bg_stop_ = true;
    bg_cv_.SignalAll();
  }
  if (bg_.joinable()) bg_.join();
  std::unique_lock cp(checkpoint_mu_);
  // A destructor has no caller to tell: what was acknowledged was already synced, so a
  // failure here loses only writes that no client was told are durable.
  if (log_) log_->SyncAll().IgnoreError();
}

Status Database::Recover() {
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
    BTRQ_ASSIGN_OR_RETURN(LogReadResult r, ReadLog(path, [this](std::string_view p) { return ReplayRecord(p); }));
    recovery_.log_records += r.records;
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
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < kMagicBytes + 4 || data.compare(0, kMagicBytes, kSnapshotMagic) != 0) {
    return Status::IoError("not a snapshot: " + path);
  }
  uint32_t crc;
  std::memcpy(&crc, data.data() + data.size() - 4, 4);
  if (Crc32c(data.data(), data.size() - 4) != crc) return Status::IoError("snapshot checksum mismatch: " + path);
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

std::shared_ptr<Database::Entry> Database::Find(const Uuid& id) const {
  std::shared_lock l(map_mu_);
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
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

Status Database::Create(const Uuid& id, const std::string& collection, const KeyValues& tags,
                        const KeyValues& annotations) {
  BTRQ_RETURN_IF_ERROR(ValidateCollection(collection));
  for (const auto& [k, v] : tags) BTRQ_RETURN_IF_ERROR(ValidateKeyValue(k, v, kMaxTagValue));
  for (const auto& [k, v] : annotations) BTRQ_RETURN_IF_ERROR(ValidateKeyValue(k, v, kMaxAnnotationValue));
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::unique_lock l(map_mu_);
    if (streams_.count(id) != 0) return BtrdbError(kSameStream, "a stream with this uuid already exists");
    auto meta = std::make_shared<StreamMeta>();
    meta->collection = collection;
    meta->tags = tags;
    meta->annotations = annotations;
    auto e = std::make_shared<Entry>();
    {
      MutexLock el(&e->mu);
      e->data = StreamData::Empty();
      e->meta = meta;
    }
    streams_[id] = std::move(e);
    if (log_) {
      std::string rec(1, static_cast<char>(kCreate));
      PutUuid(&rec, id);
      PutBytes(&rec, collection);
      PutKeyValues(&rec, tags);
      PutKeyValues(&rec, annotations);
      ticket = LogAppend(rec);
    }
  }
  return WaitDurable(ticket);
}

Result<uint64_t> Database::Insert(const Uuid& id, std::vector<Point> points, MergePolicy policy) {
  for (const Point& p : points) {
    if (!std::isfinite(p.value)) return BtrdbError(kBadValue, "NaN or infinite values are not allowed");
    if (p.time < kMinTime || p.time >= kMaxTime - 1) {
      return BtrdbError(kInvalidTimeRange, "time " + std::to_string(p.time) + " out of range");
    }
  }
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  uint64_t version;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    std::shared_ptr<const StreamData> cur = e->GetData();
    if (points.empty()) return cur->version();
    if (log_) {
      std::string rec;
      rec.reserve(32 + points.size() * 16);
      rec.push_back(static_cast<char>(kInsert));
      PutUuid(&rec, id);
      rec.push_back(static_cast<char>(policy));
      PutVarint(&rec, points.size());
      for (const Point& p : points) PutFixed64(&rec, static_cast<uint64_t>(p.time));
      for (const Point& p : points) PutDouble(&rec, p.value);
      ticket = LogAppend(rec);
    }
    std::shared_ptr<const StreamData> next = cur->Insert(std::move(points), policy);
    version = next->version();
    MutexLock l(&e->mu);
    e->data = std::move(next);
  }
  BTRQ_RETURN_IF_ERROR(WaitDurable(ticket));
  return version;
}

Result<uint64_t> Database::Delete(const Uuid& id, int64_t start, int64_t end) {
  if (start < kMinTime || end >= kMaxTime || start >= end) {
    return BtrdbError(kInvalidTimeRange, "invalid time range");
  }
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  uint64_t version;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    if (log_) {
      std::string rec(1, static_cast<char>(kDelete));
      PutUuid(&rec, id);
      PutFixed64(&rec, static_cast<uint64_t>(start));
      PutFixed64(&rec, static_cast<uint64_t>(end));
      ticket = LogAppend(rec);
    }
    std::shared_ptr<const StreamData> next = e->GetData()->Delete(start, end);
    version = next->version();
    MutexLock l(&e->mu);
    e->data = std::move(next);
  }
  BTRQ_RETURN_IF_ERROR(WaitDurable(ticket));
  return version;
}

Status Database::Obliterate(const Uuid& id) {
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::unique_lock l(map_mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return BtrdbError(kNoSuchStream, "stream does not exist");
    std::shared_ptr<Entry> e = it->second;
    MutexLock w(&e->write_mu);
    e->dead = true;
    streams_.erase(it);
    if (log_) {
      std::string rec(1, static_cast<char>(kObliterate));
      PutUuid(&rec, id);
      ticket = LogAppend(rec);
    }
  }
  return WaitDurable(ticket);
}

Status Database::ApplyMetaChange(Entry& e, uint64_t expected, const std::optional<std::string>& collection,
                                 const std::vector<KeyChange>& tag_changes,
                                 const std::vector<std::string>& tag_removals,
                                 const std::vector<KeyChange>& ann_changes,
                                 const std::vector<std::string>& ann_removals) {
  std::shared_ptr<const StreamMeta> cur = e.GetMeta();
  if (cur->property_version != expected) {
    return BtrdbError(kAnnotationVersionMismatch, "property version mismatch: expected " + std::to_string(expected) +
                                                      ", current " + std::to_string(cur->property_version));
  }
  auto meta = std::make_shared<StreamMeta>(*cur);
  if (collection) meta->collection = *collection;
  ApplyChanges(&meta->tags, tag_changes, tag_removals);
  ApplyChanges(&meta->annotations, ann_changes, ann_removals);
  ++meta->property_version;
  MutexLock l(&e.mu);
  e.meta = std::move(meta);
  return Status::OK();
}

Status Database::SetTags(const Uuid& id, uint64_t expected, const std::optional<std::string>& collection,
                         const std::vector<KeyChange>& changes, const std::vector<std::string>& removals) {
  std::optional<std::string> coll;
  if (collection && !collection->empty()) {
    BTRQ_RETURN_IF_ERROR(ValidateCollection(*collection));
    coll = collection;
  }
  for (const KeyChange& c : changes) BTRQ_RETURN_IF_ERROR(ValidateKeyValue(c.key, c.value.value_or(""), kMaxTagValue));
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    BTRQ_RETURN_IF_ERROR(ApplyMetaChange(*e, expected, coll, changes, removals, {}, {}));
    if (log_) {
      std::string rec(1, static_cast<char>(kMeta));
      PutUuid(&rec, id);
      rec.push_back(coll ? 1 : 0);
      PutBytes(&rec, coll.value_or(""));
      PutChanges(&rec, changes, removals);
      PutChanges(&rec, {}, {});
      ticket = LogAppend(rec);
    }
  }
  return WaitDurable(ticket);
}

Status Database::SetAnnotations(const Uuid& id, uint64_t expected, const std::vector<KeyChange>& changes,
                                const std::vector<std::string>& removals) {
  for (const KeyChange& c : changes) {
    BTRQ_RETURN_IF_ERROR(ValidateKeyValue(c.key, c.value.value_or(""), kMaxAnnotationValue));
  }
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  {
    std::shared_lock cp(checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    BTRQ_RETURN_IF_ERROR(ApplyMetaChange(*e, expected, std::nullopt, {}, {}, changes, removals));
    if (log_) {
      std::string rec(1, static_cast<char>(kMeta));
      PutUuid(&rec, id);
      rec.push_back(0);
      PutBytes(&rec, "");
      PutChanges(&rec, {}, {});
      PutChanges(&rec, changes, removals);
      ticket = LogAppend(rec);
    }
  }
  return WaitDurable(ticket);
}

Result<std::shared_ptr<const StreamData>> Database::Data(const Uuid& id) const {
  std::shared_ptr<Entry> e = Find(id);
  if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
  return e->GetData();
}

Result<std::shared_ptr<const StreamMeta>> Database::Meta(const Uuid& id) const {
  std::shared_ptr<Entry> e = Find(id);
  if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
  return e->GetMeta();
}

std::vector<std::pair<Uuid, std::shared_ptr<const StreamMeta>>> Database::Lookup(
    std::string_view collection, bool prefix, const std::vector<KeyFilter>& tags,
    const std::vector<KeyFilter>& annotations) const {
  std::vector<std::pair<Uuid, std::shared_ptr<const StreamMeta>>> out;
  {
    std::shared_lock l(map_mu_);
    for (const auto& [id, e] : streams_) {
      std::shared_ptr<const StreamMeta> m = e->GetMeta();
      const bool coll_ok = prefix ? std::string_view(m->collection).substr(0, collection.size()) == collection
                                  : m->collection == collection;
      if (coll_ok && Matches(m->tags, tags) && Matches(m->annotations, annotations)) out.emplace_back(id, m);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second->collection < b.second->collection; });
  return out;
}

std::vector<std::string> Database::ListCollections(std::string_view prefix) const {
  std::set<std::string> names;
  {
    std::shared_lock l(map_mu_);
    for (const auto& [id, e] : streams_) {
      std::shared_ptr<const StreamMeta> m = e->GetMeta();
      if (std::string_view(m->collection).substr(0, prefix.size()) == prefix) names.insert(m->collection);
    }
  }
  return {names.begin(), names.end()};
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
    std::unique_lock cp(checkpoint_mu_);
    number = log_number_ + 1;
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<LogWriter> w, LogWriter::Open(dir + "/" + LogName(number)));
    old_log = std::move(log_);
    log_ = std::move(w);
    log_number_ = number;
    std::shared_lock l(map_mu_);
    state.reserve(streams_.size());
    for (const auto& [id, e] : streams_) state.emplace_back(id, e->GetMeta(), e->GetData());
  }
  BTRQ_RETURN_IF_ERROR(old_log->SyncAll());
  old_log.reset();

  const std::string tmp = dir + "/" + SnapshotName(number) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot create " + tmp);
  uint32_t crc = 0;
  Status s;
  auto write_chunk = [&](const std::string& chunk) {
    if (!s.ok()) return;
    crc = Crc32cExtend(crc, chunk.data(), chunk.size());
    size_t off = 0;
    while (off < chunk.size()) {
      const ssize_t w = ::write(fd, chunk.data() + off, chunk.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        s = Status::IoError("write " + tmp);
        return;
      }
      off += static_cast<size_t>(w);
    }
  };
  std::string buf(kSnapshotMagic, kMagicBytes);
  PutFixed64(&buf, number);
  PutVarint(&buf, state.size());
  write_chunk(buf);
  for (const auto& [id, meta, data] : state) {
    buf.clear();
    PutUuid(&buf, id);
    PutMeta(&buf, *meta);
    std::string blob;
    data->EncodeTo(&blob);
    PutBytes(&buf, blob);
    write_chunk(buf);
  }
  buf.clear();
  PutFixed32(&buf, crc);
  write_chunk(buf);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IoError("fsync " + tmp);
  ::close(fd);
  BTRQ_RETURN_IF_ERROR(s);
  std::error_code ec;
  fs::rename(tmp, dir + "/" + SnapshotName(number), ec);
  if (ec) return Status::IoError("rename " + tmp + ": " + ec.message());
  BTRQ_RETURN_IF_ERROR(SyncDir(dir));
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
  for (;;) {
    {
      MutexLock l(&bg_mu_);
      while (!bg_stop_ && !bg_wanted_) bg_cv_.Wait(&bg_mu_);
      if (bg_stop_) return;
      bg_wanted_ = false;
    }
    // A failed checkpoint leaves the logs in place; the next trigger retries.
    (void)Checkpoint();
  }
}

}  // namespace btrq::lite
