#pragma once

// The expander's view of BTrDB: which streams a job covers, and each stream's pin:
// everything a task's result depends on besides the job's spec. The broker adapts the
// BTrDB client to this (broker/btrdb_catalog.h); tests use
// tests/support/fake_stream_catalog.h.

#include <cstdint>
#include <vector>

#include "broker/job.h"
#include "common/ids.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::broker {

struct StreamRef {
  Uuid uuid;
};

// A stream as pinned for a job, journaled in one record: its tasks' results are a
// function of this and the job's spec only (docs/design.md, "Reliability contract").
struct StreamPin {
  uint64_t version = 0;
  int64_t earliest = 0;  // time of the first point; meaningful when has_data
  int64_t latest = 0;    // time of the last point; meaningful when has_data
  bool has_data = false;
  // The stream metadata analytics read, as task params (btrdb_catalog.h
  // StreamParamsFromAnnotations), taken with the version; the job's params win.
  Fields params;
  // False only for a pin replayed from a journal that predates pinned params: its params
  // are read again (and journaled) before any of its tasks dispatch.
  bool params_pinned = true;
  friend bool operator==(const StreamPin&, const StreamPin&) = default;
};

class StreamCatalog {
 public:
  virtual ~StreamCatalog() = default;

  // The streams matching spec.collection (+prefix), tags and annotations. Not called
  // when spec.streams is given. Errors: Status::IsTransient() ones are retried later;
  // others fail the job.
  virtual Result<std::vector<StreamRef>> ListStreams(const JobSpec& spec) = 0;

  // The stream's version (`requested_version`, or the current one when 0), its earliest
  // and latest points at that version and its params. Costs about three BTrDB calls.
  virtual Result<StreamPin> PinStream(const Uuid& uuid, uint64_t requested_version) = 0;
};

}  // namespace btrq::broker
