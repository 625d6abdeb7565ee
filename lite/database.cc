#include "lite/database.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>

#include "common/coding.h"
#include "lite/database_internal.h"
#include <fcntl.h>
#include <unistd.h>
#include "lite/encoding.h"
#include "btrdb/status_mapping.h"

namespace btrq::lite {
namespace fs = std::filesystem;

namespace {

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
  WriterMutexLock cp(&checkpoint_mu_);
  // A destructor has no caller to tell: what was acknowledged was already synced, so a
  // failure here loses only writes that no client was told are durable.
  if (log_) log_->SyncAll().IgnoreError();
}

std::shared_ptr<Database::Entry> Database::Find(const Uuid& id) const {
  ReaderMutexLock l(&map_mu_);
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

Status Database::Create(const Uuid& id, const std::string& collection, const KeyValues& tags,
                        const KeyValues& annotations) {
  BTRQ_RETURN_IF_ERROR(ValidateCollection(collection));
  for (const auto& [k, v] : tags) BTRQ_RETURN_IF_ERROR(ValidateKeyValue(k, v, kMaxTagValue));
  for (const auto& [k, v] : annotations) BTRQ_RETURN_IF_ERROR(ValidateKeyValue(k, v, kMaxAnnotationValue));
  std::pair<std::shared_ptr<LogWriter>, uint64_t> ticket;
  {
    ReaderMutexLock cp(&checkpoint_mu_);
    WriterMutexLock l(&map_mu_);
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
      PutLengthPrefixed(&rec, collection);
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
    ReaderMutexLock cp(&checkpoint_mu_);
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
      PutVarint64(&rec, points.size());
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
    ReaderMutexLock cp(&checkpoint_mu_);
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
    ReaderMutexLock cp(&checkpoint_mu_);
    WriterMutexLock l(&map_mu_);
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
    ReaderMutexLock cp(&checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    BTRQ_RETURN_IF_ERROR(ApplyMetaChange(*e, expected, coll, changes, removals, {}, {}));
    if (log_) {
      std::string rec(1, static_cast<char>(kMeta));
      PutUuid(&rec, id);
      rec.push_back(coll ? 1 : 0);
      PutLengthPrefixed(&rec, coll.value_or(""));
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
    ReaderMutexLock cp(&checkpoint_mu_);
    std::shared_ptr<Entry> e = Find(id);
    if (!e) return BtrdbError(kNoSuchStream, "stream does not exist");
    MutexLock w(&e->write_mu);
    if (e->dead) return BtrdbError(kNoSuchStream, "stream does not exist");
    BTRQ_RETURN_IF_ERROR(ApplyMetaChange(*e, expected, std::nullopt, {}, {}, changes, removals));
    if (log_) {
      std::string rec(1, static_cast<char>(kMeta));
      PutUuid(&rec, id);
      rec.push_back(0);
      PutLengthPrefixed(&rec, "");
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
    ReaderMutexLock l(&map_mu_);
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
    ReaderMutexLock l(&map_mu_);
    for (const auto& [id, e] : streams_) {
      std::shared_ptr<const StreamMeta> m = e->GetMeta();
      if (std::string_view(m->collection).substr(0, prefix.size()) == prefix) names.insert(m->collection);
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace btrq::lite
