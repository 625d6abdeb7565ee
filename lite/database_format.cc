#include "lite/database_internal.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>

namespace btrq::lite {

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
  PutVarint64(out, kv.size());
  for (const auto& [k, v] : kv) {
    PutLengthPrefixed(out, k);
    PutLengthPrefixed(out, v);
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
  PutVarint64(out, changes.size());
  for (const KeyChange& c : changes) {
    PutLengthPrefixed(out, c.key);
    out->push_back(c.value ? 1 : 0);
    if (c.value) PutLengthPrefixed(out, *c.value);
  }
  PutVarint64(out, removals.size());
  for (const std::string& r : removals) PutLengthPrefixed(out, r);
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
  PutLengthPrefixed(out, m.collection);
  PutKeyValues(out, m.tags);
  PutKeyValues(out, m.annotations);
  PutFixed64(out, m.property_version);
}
bool GetMeta(Decoder* d, StreamMeta* m) {
  return d->GetString(&m->collection) && GetKeyValues(d, &m->tags) && GetKeyValues(d, &m->annotations) &&
         d->GetFixed64(&m->property_version);
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

}  // namespace btrq::lite
