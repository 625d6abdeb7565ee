#pragma once

// Lazy expansion of one job into chunks: a cursor walks the job's streams in order and,
// within a stream, its chunks [t, t + chunk) aligned to multiples of `chunk` since the
// epoch. Memory is O(streams + what the caller asks for), never O(chunks).
//
// Streams are pinned lazily, a few streams ahead of the cursor (RequestPins), because a
// pin costs about three BTrDB calls: a job over 100k streams starts dispatching after the
// first pins, not after 300k calls. The expander does no I/O: the caller runs the catalog
// calls (off its loop) and hands the answers back (SetPin). A pin can be held back from
// use (usable=false) until the caller has journaled it, so no task is dispatched against
// a pin a restarted broker would not know. A pin replayed without params (an old
// journal) is not usable and is requested again (its params only).
//
// Range of a pinned stream with data: lo = max(start, earliest), hi = min(end, latest+1)
// (missing start/end: earliest / latest+1). The first chunk is the one containing lo,
// the last the one containing hi-1; a stream without data, or with lo >= hi, has none.
//
// Not thread-safe; the scheduler's thread owns it.

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "broker/job.h"
#include "broker/stream_catalog.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::broker {

// floor(t / chunk) * chunk, correct for negative t. REQUIRES: chunk > 0.
int64_t AlignDown(int64_t t, int64_t chunk);

// The chunk starts of one stream: first, last (inclusive) and how many. count == 0: none.
struct ChunkSpan {
  int64_t first = 0;
  int64_t last = 0;
  uint64_t count = 0;
};
ChunkSpan SpanOf(const JobSpec& spec, const StreamPin& pin);

// One materialised chunk: stream by its index in the job's stream list.
struct Chunk {
  uint32_t stream_index = 0;
  int64_t start = 0;
  int64_t end = 0;
};

// Where expansion stands; small and serialisable. `next_start` is meaningful only when
// `positioned` (the cursor has entered stream `stream_index`).
struct ExpansionCursor {
  uint32_t stream_index = 0;
  bool positioned = false;
  int64_t next_start = 0;
  friend bool operator==(const ExpansionCursor&, const ExpansionCursor&) = default;
};

// Returns the first chunk start >= `start` that must still be expanded in the stream
// (`start` itself when nothing is resolved there). Used to skip chunks already done
// or dead-lettered when expansion resumes after a restart. Must return a multiple of the
// chunk >= start.
using SkipFn = std::function<int64_t(uint32_t stream_index, int64_t start)>;

class JobExpander {
 public:
  // `spec` is borrowed and must outlive the expander; it must be valid. Every task key
  // it makes carries `job` and `nonce`.
  JobExpander(JobId job, JobNonce nonce, const JobSpec* spec);

  JobExpander(const JobExpander&) = delete;
  JobExpander& operator=(const JobExpander&) = delete;

  // --- Streams ---
  bool listed() const { return listed_; }
  // True when the stream list comes from the catalog (spec.streams is empty).
  bool lists_from_catalog() const { return spec_->streams.empty(); }
  // Lists the job's streams: spec.streams when given, else `found` (the catalog's
  // answer); duplicates dropped, the first kept. REQUIRES: !listed().
  void List(const std::vector<StreamRef>& found);
  // Sets the stream list as journaled (resume). REQUIRES: !listed().
  void SetStreams(std::vector<Uuid> streams);
  const std::vector<Uuid>& streams() const { return streams_; }

  // --- Pins ---
  // Marks as requested and returns, in order, up to `max_pins` streams among the
  // `lookahead` starting at the cursor that need a pin: unpinned, or pinned without
  // params. Each must end in SetPin or PinFailed. REQUIRES: listed().
  std::vector<uint32_t> RequestPins(size_t max_pins, size_t lookahead);
  // The version to ask the catalog for: the job's `versions` entry, the pinned version
  // (a pin replayed without params), or 0 (the current one).
  uint64_t RequestedVersion(uint32_t index) const;
  // Streams requested and not yet answered.
  size_t pins_requested() const { return pins_requested_; }
  // Sets a pin: the catalog's answer to a request, a replayed record, or tests. A stream
  // pinned without params keeps its version and extent and takes `pin`'s params. Returns
  // the pin now held. REQUIRES: listed(), index < streams().size().
  const StreamPin& SetPin(uint32_t index, const StreamPin& pin, bool usable);
  // The request for the stream ended without a pin; it may be requested again.
  void PinFailed(uint32_t index);
  void MarkPinUsable(uint32_t index);
  bool pinned(uint32_t index) const { return pins_[index].state != PinState::kUnpinned; }
  const StreamPin& pin(uint32_t index) const { return pins_[index].pin; }
  // Streams pinned so far, and whether all are.
  size_t pinned_count() const { return pinned_count_; }
  bool all_pinned() const { return listed_ && pinned_count_ == streams_.size(); }
  // Every stream pinned, and every pin with its params: nothing left to ask the catalog.
  bool pins_complete() const { return all_pinned() && without_params_ == 0; }
  // The chunk count of every pinned stream, summed.
  uint64_t total_known() const { return total_known_; }

  // --- Chunks ---
  // Appends up to `max_n` chunks to `out`, from the cursor on, skipping what `skip`
  // (may be empty) says is resolved. Stops early at a stream not pinned (or not yet
  // usable). Returns how many were appended.
  size_t NextChunks(size_t max_n, const SkipFn& skip, std::vector<Chunk>* out);
  // True when every chunk of every stream has been produced.
  bool finished() const { return listed_ && cursor_.stream_index >= streams_.size(); }
  // True when the cursor waits on a stream that is not pinned or not usable.
  bool blocked_on_pin() const;

  const ExpansionCursor& cursor() const { return cursor_; }
  // Moves the cursor (resume). REQUIRES: listed().
  void Seek(const ExpansionCursor& cursor) { cursor_ = cursor; }

  // The key of a chunk of this job (job id, nonce, stream, start). REQUIRES: listed().
  TaskKey KeyOf(uint32_t stream_index, int64_t start) const;
  // The task for a chunk of this job, as dispatched: the job's params, then the pin's
  // params the job's do not name. REQUIRES: the stream is pinned.
  TaskSpec MakeTask(uint32_t stream_index, int64_t start, uint32_t attempt) const;

 private:
  enum class PinState : uint8_t { kUnpinned, kPending, kUsable };
  struct PinSlot {
    PinState state = PinState::kUnpinned;
    bool requested = false;
    StreamPin pin;
  };

  const JobId job_;
  const JobNonce nonce_;
  const JobSpec* const spec_;
  bool listed_ = false;
  std::vector<Uuid> streams_;
  std::vector<PinSlot> pins_;
  size_t pinned_count_ = 0;
  size_t pins_requested_ = 0;
  size_t without_params_ = 0;  // pins replayed without params, not yet read again
  uint64_t total_known_ = 0;
  ExpansionCursor cursor_;
};

}  // namespace btrq::broker
