#pragma once

// One result as the sink keeps it and as every reader of results sees it: the sink's
// store, its gRPC service, the exports and the CLI.

#include <cstdint>

#include "common/messages.h"

namespace btrq::results {

// The worker's TaskResult and when the sink made it durable.
struct StoredResult {
  TaskResult result;
  int64_t stored_at = 0;  // wall-clock ns
};

}  // namespace btrq::results
