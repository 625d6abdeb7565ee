#pragma once

// Lazy expansion of one job into chunks: a cursor walks the job's streams in order and,
// within a stream, its chunks [t, t + chunk) aligned to multiples of `chunk` since the
// epoch. Memory is O(streams + what the caller asks for), never O(chunks).
//
// Streams are pinned lazily, a few streams ahead of the cursor (PinAhead), because a pin
// costs about three BTrDB calls: a job over 100k streams starts dispatching after the
// first pins, not after 300k calls. A pin can be held back from use (SetPin with
// usable=false) until the caller has journaled it, so no task is dispatched against a
// version a restarted broker would not know.
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
  // `spec` is borrowed and must outlive the expander; it must be valid.
  JobExpander(JobId job, const JobSpec* spec);

  JobExpander(const JobExpander&) = delete;
  JobExpander& operator=(const JobExpander&) = delete;

  // --- Streams ---
  bool listed() const { return listed_; }
  // Lists the job's streams: spec.streams (duplicates dropped) or the catalog's answer.
  // REQUIRES: !listed().
  Status List(StreamCatalog* catalog);
  // Sets the stream list as journaled (resume). REQUIRES: !listed().
  void SetStreams(std::vector<Uuid> streams);
  const std::vector<Uuid>& streams() const { return streams_; }

  // --- Pins ---
  // Pins unpinned streams among the `lookahead` streams starting at the cursor, at most
  // `max_pins` of them, in order; returns the indices pinned (as not yet usable when
  // `usable` is false). On an error the pins made so far are kept and the error is
  // returned; the stream that failed stays unpinned.
  Status PinAhead(StreamCatalog* catalog, size_t max_pins, size_t lookahead, bool usable,
                  std::vector<uint32_t>* pinned);
  // Sets a pin (resume, or tests). REQUIRES: listed(), index < streams().size().
  void SetPin(uint32_t index, const StreamPin& pin, bool usable);
  void MarkPinUsable(uint32_t index);
  bool pinned(uint32_t index) const { return pins_[index].state != PinState::kUnpinned; }
  const StreamPin& pin(uint32_t index) const { return pins_[index].pin; }
  // Streams pinned so far, and whether all are.
  size_t pinned_count() const { return pinned_count_; }
  bool all_pinned() const { return listed_ && pinned_count_ == streams_.size(); }
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

  // The task for a chunk of this job, as dispatched. REQUIRES: the stream is pinned.
  TaskSpec MakeTask(uint32_t stream_index, int64_t start, uint32_t attempt) const;

 private:
  enum class PinState : uint8_t { kUnpinned, kPending, kUsable };
  struct PinSlot {
    PinState state = PinState::kUnpinned;
    StreamPin pin;
  };

  void AddPin(uint32_t index, const StreamPin& pin, bool usable);

  const JobId job_;
  const JobSpec* const spec_;
  bool listed_ = false;
  std::vector<Uuid> streams_;
  std::vector<PinSlot> pins_;
  size_t pinned_count_ = 0;
  uint64_t total_known_ = 0;
  ExpansionCursor cursor_;
};

}  // namespace btrq::broker
