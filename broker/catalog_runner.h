#pragma once

// Runs the scheduler's StreamCatalog calls (ListStreams, PinStream: BTrDB calls) off the
// dispatcher's loop, so that a slow or stopped BTrDB delays expansion but never the loop
// (heartbeats, DONEs, control calls). Requests are answered in order by up to `threads`
// threads, each with its own catalog; a call holds its thread for at most the catalog's
// call deadline. With Inline() each request runs at once on the caller's thread (tests,
// benchmarks), so its answer is there when Submit returns.
//
// Thread rule: Submit, TakeAnswers and outstanding from one thread (the scheduler's);
// the wakeup runs on a runner thread after each answer.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "broker/job.h"
#include "broker/stream_catalog.h"
#include "common/ids.h"
#include "common/status.h"

namespace btrq::broker {

struct CatalogRequest {
  enum class Kind : uint8_t { kList, kPin };
  Kind kind = Kind::kPin;
  JobId job = 0;
  JobSpec selection;          // kList: collection, prefix, tags, annotations
  uint32_t stream_index = 0;  // kPin
  Uuid stream;                // kPin
  uint64_t version = 0;       // kPin: the version asked for; 0 for the current one
};

struct CatalogAnswer {
  CatalogRequest request;
  Status status;                   // the call's error, or OK
  std::vector<StreamRef> streams;  // kList
  StreamPin pin;                   // kPin
};

// Makes one catalog per runner thread.
using CatalogFactory = std::function<Result<std::unique_ptr<StreamCatalog>>()>;

class CatalogRunner {
 public:
  // Runs each request on the caller's thread with `catalog` (borrowed, must outlive it).
  static std::unique_ptr<CatalogRunner> Inline(StreamCatalog* catalog);
  // Starts `threads` (at least 1) threads, each with a catalog from `factory`; fails with
  // the factory's error.
  static Result<std::unique_ptr<CatalogRunner>> Start(size_t threads,
                                                      const CatalogFactory& factory);
  // Stops the threads, waiting for calls in progress (each bounded by its deadline).
  ~CatalogRunner();
  CatalogRunner(const CatalogRunner&) = delete;
  CatalogRunner& operator=(const CatalogRunner&) = delete;

  void Submit(CatalogRequest request);
  // The answers ready, in the order they finished.
  std::vector<CatalogAnswer> TakeAnswers();
  // Requests submitted whose answers have not been taken yet.
  size_t outstanding() const { return outstanding_; }
  // `wakeup` (may be empty) runs on a runner thread after each answer. Thread-safe.
  void SetWakeup(std::function<void()> wakeup);

 private:
  class Shared;
  explicit CatalogRunner(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  std::shared_ptr<Shared> shared_;
  size_t outstanding_ = 0;
};

// The answer of one request from `catalog`, on the calling thread.
CatalogAnswer RunCatalogRequest(StreamCatalog* catalog, CatalogRequest request);

}  // namespace btrq::broker
