#pragma once

// The analytic interface (docs/analytics.md). An analytic computes one task's result: it
// sees the task's context (stream, [start, end), pinned version, the stream's pinned
// extent, params) and a PointSource that streams the stream's points or the server's
// window statistics in batches, and returns named numbers and strings.
//
// Errors: bad params are Status kInvalidArgument (permanent: the task dead-letters);
// an error from the PointSource is returned unchanged, so a transient BTrDB error stays
// transient and the task is retried. Any other failure of the analytic itself is a
// permanent code (kInvalidArgument, kFailedPrecondition, kInternal).

#include <cstdint>
#include <memory>

#include "btrdb/client.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::analytics {

using btrdb::RawPoint;
using btrdb::StatPoint;
// Batch callbacks: the span is valid only during the call; a non-OK return ends the read
// and becomes the read's result.
using RawSink = btrdb::RawSink;
using StatSink = btrdb::StatSink;

// Reads one stream (the task's) for an analytic. The worker implements it over its
// thread's btrdb::Client; tests implement it over a vector. Every read delivers its
// results in time order and returns the sink's error, or the reader's own error
// (transient or permanent as the reader decided), or OK when all was delivered.
class PointSource {
 public:
  virtual ~PointSource() = default;

  // Raw points with start <= time < end at `version` (0 = latest).
  virtual Status ReadRaw(int64_t start, int64_t end, uint64_t version, const RawSink& sink) = 0;

  // BTrDB AlignedWindows: windows of 2^pointwidth ns whose start lies in
  // [start & ~mask, end & ~mask); windows with count 0 are omitted.
  virtual Status ReadAligned(int64_t start, int64_t end, uint64_t version, uint8_t pointwidth,
                             const StatSink& sink) = 0;

  // BTrDB Windows: windows of `width` ns from `start`, up to
  // start + width * floor((end - start) / width); empty windows may come with count 0.
  virtual Status ReadWindows(int64_t start, int64_t end, uint64_t version, uint64_t width,
                             const StatSink& sink) = 0;
};

// What an analytic read to compute its result, for the RESULT message and metrics.
struct RunCounters {
  int64_t points_read = 0;   // raw points delivered to the analytic
  int64_t windows_read = 0;  // statistical windows delivered to the analytic
};

// One analytic with validated params (made by its factory, see registry.h).
//
// Thread-safety: Run is const and keeps its per-task state on its own stack, so one
// instance may run tasks on several threads at once.
class Analytic {
 public:
  virtual ~Analytic() = default;

  // Computes the result of `task`, reading through `source`. `counters` (not null) is
  // incremented by what was read, also when Run fails.
  virtual Result<Fields> Run(const TaskSpec& task, PointSource& source,
                             RunCounters* counters) const = 0;
};

}  // namespace btrq::analytics
