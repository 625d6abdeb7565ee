#pragma once

// The expander's view of BTrDB: which streams a job covers, and each stream's pinned
// version and extent. The broker's main adapts the BTrDB client to this; tests use
// tests/support/fake_stream_catalog.h.

#include <cstdint>
#include <vector>

#include "broker/job.h"
#include "common/ids.h"
#include "common/status.h"

namespace btrq::broker {

struct StreamRef {
  Uuid uuid;
};

// A stream as pinned for a job.
struct StreamPin {
  uint64_t version = 0;
  int64_t earliest = 0;  // time of the first point; meaningful when has_data
  int64_t latest = 0;    // time of the last point; meaningful when has_data
  bool has_data = false;
  friend bool operator==(const StreamPin&, const StreamPin&) = default;
};

class StreamCatalog {
 public:
  virtual ~StreamCatalog() = default;

  // The streams matching spec.collection (+prefix), tags and annotations. Not called
  // when spec.streams is given. Errors: Status::IsTransient() ones are retried later;
  // others fail the job.
  virtual Result<std::vector<StreamRef>> ListStreams(const JobSpec& spec) = 0;

  // The stream's version (`requested_version`, or the current one when 0) and its
  // earliest and latest points at that version. Costs about three BTrDB calls.
  virtual Result<StreamPin> PinStream(const Uuid& uuid, uint64_t requested_version) = 0;
};

}  // namespace btrq::broker
