#pragma once

// An in-memory StreamCatalog for broker tests: streams with fixed pins, and errors to
// inject into listing or pinning. Header-only so btrq_testing need not link the broker.

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "broker/stream_catalog.h"

namespace btrq::testing {

class FakeStreamCatalog final : public broker::StreamCatalog {
 public:
  // Adds a stream (listed in insertion order) with its extent at version `version`.
  void AddStream(const Uuid& uuid, int64_t earliest, int64_t latest, uint64_t version = 7) {
    order_.push_back(uuid);
    pins_[uuid] = broker::StreamPin{version, earliest, latest, true};
  }
  void AddEmptyStream(const Uuid& uuid, uint64_t version = 1) {
    order_.push_back(uuid);
    pins_[uuid] = broker::StreamPin{version, 0, 0, false};
  }
  // The stream's params (as its annotations would give them), pinned with it.
  void SetParams(const Uuid& uuid, Fields params) { pins_[uuid].params = std::move(params); }
  // The next ListStreams calls fail with these statuses, one each.
  void FailListing(Status s) { list_errors_.push_back(std::move(s)); }
  // The next PinStream calls (any stream) fail with these statuses, one each.
  void FailPin(Status s) { pin_errors_.push_back(std::move(s)); }

  Result<std::vector<broker::StreamRef>> ListStreams(const broker::JobSpec&) override {
    ++list_calls_;
    if (!list_errors_.empty()) {
      Status s = list_errors_.front();
      list_errors_.pop_front();
      return s;
    }
    std::vector<broker::StreamRef> out;
    for (const Uuid& u : order_) out.push_back(broker::StreamRef{u});
    return out;
  }

  Result<broker::StreamPin> PinStream(const Uuid& uuid, uint64_t requested_version) override {
    ++pin_calls_;
    if (!pin_errors_.empty()) {
      Status s = pin_errors_.front();
      pin_errors_.pop_front();
      return s;
    }
    auto it = pins_.find(uuid);
    if (it == pins_.end()) return Status::NotFound("no stream " + uuid.ToString());
    broker::StreamPin pin = it->second;
    if (requested_version != 0) pin.version = requested_version;
    return pin;
  }

  int list_calls() const { return list_calls_; }
  int pin_calls() const { return pin_calls_; }

 private:
  std::vector<Uuid> order_;
  std::map<Uuid, broker::StreamPin> pins_;
  std::deque<Status> list_errors_;
  std::deque<Status> pin_errors_;
  int list_calls_ = 0;
  int pin_calls_ = 0;
};

// Forwards every call to a borrowed catalog, which must outlive it: what a
// CatalogRunner's factory hands each thread in tests.
class BorrowedCatalog final : public broker::StreamCatalog {
 public:
  explicit BorrowedCatalog(broker::StreamCatalog* catalog) : catalog_(catalog) {}
  Result<std::vector<broker::StreamRef>> ListStreams(const broker::JobSpec& spec) override {
    return catalog_->ListStreams(spec);
  }
  Result<broker::StreamPin> PinStream(const Uuid& uuid, uint64_t version) override {
    return catalog_->PinStream(uuid, version);
  }

 private:
  broker::StreamCatalog* const catalog_;
};

// A deterministic UUID for tests: n in the last bytes.
inline Uuid TestUuid(uint32_t n) {
  Uuid u;
  u.bytes[0] = 0x42;
  u.bytes[12] = static_cast<uint8_t>(n >> 24);
  u.bytes[13] = static_cast<uint8_t>(n >> 16);
  u.bytes[14] = static_cast<uint8_t>(n >> 8);
  u.bytes[15] = static_cast<uint8_t>(n);
  return u;
}

}  // namespace btrq::testing
