#include "broker/job_expander.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

namespace btrq::broker {

int64_t AlignDown(int64_t t, int64_t chunk) {
  int64_t q = t / chunk;
  if (t % chunk != 0 && t < 0) --q;  // C++ division truncates towards zero
  return q * chunk;
}

ChunkSpan SpanOf(const JobSpec& spec, const StreamPin& pin) {
  if (!pin.has_data) return {};
  const int64_t lo = spec.start ? std::max(*spec.start, pin.earliest) : pin.earliest;
  const int64_t hi = spec.end ? std::min(*spec.end, pin.latest + 1) : pin.latest + 1;
  if (lo >= hi) return {};
  ChunkSpan span;
  span.first = AlignDown(lo, spec.chunk);
  span.last = AlignDown(hi - 1, spec.chunk);
  span.count = static_cast<uint64_t>((span.last - span.first) / spec.chunk) + 1;
  return span;
}

JobExpander::JobExpander(JobId job, JobNonce nonce, const JobSpec* spec)
    : job_(job), nonce_(nonce), spec_(spec) {}

TaskKey JobExpander::KeyOf(uint32_t stream_index, int64_t start) const {
  return TaskKey{.job = job_, .stream = streams_[stream_index], .start = start, .nonce = nonce_};
}

void JobExpander::List(const std::vector<StreamRef>& found) {
  std::vector<Uuid> uuids;
  if (!spec_->streams.empty()) {
    uuids = spec_->streams;
  } else {
    uuids.reserve(found.size());
    for (const StreamRef& r : found) uuids.push_back(r.uuid);
  }
  // Drop duplicates, keeping the first occurrence: a task key must not appear twice.
  std::unordered_set<Uuid> seen;
  std::vector<Uuid> unique;
  unique.reserve(uuids.size());
  for (const Uuid& u : uuids) {
    if (seen.insert(u).second) unique.push_back(u);
  }
  SetStreams(std::move(unique));
}

void JobExpander::SetStreams(std::vector<Uuid> streams) {
  streams_ = std::move(streams);
  pins_.assign(streams_.size(), PinSlot{});
  pinned_count_ = 0;
  pins_requested_ = 0;
  without_params_ = 0;
  total_known_ = 0;
  listed_ = true;
  cursor_ = ExpansionCursor{};
}

const StreamPin& JobExpander::SetPin(uint32_t index, const StreamPin& pin, bool usable) {
  PinSlot& slot = pins_[index];
  if (slot.requested) {
    slot.requested = false;
    --pins_requested_;
  }
  if (slot.state != PinState::kUnpinned && !slot.pin.params_pinned) --without_params_;
  if (slot.state == PinState::kUnpinned) {
    ++pinned_count_;
    slot.pin = pin;
  } else if (!slot.pin.params_pinned) {
    // A pin from an old journal: its tasks may have run against this version and extent
    // already, so only the params are new.
    total_known_ -= SpanOf(*spec_, slot.pin).count;
    slot.pin.params = pin.params;
    slot.pin.params_pinned = pin.params_pinned;
  } else {
    total_known_ -= SpanOf(*spec_, slot.pin).count;
    slot.pin = pin;
  }
  if (!slot.pin.params_pinned) ++without_params_;
  // Never usable without its params, whatever the caller says.
  slot.state = usable && slot.pin.params_pinned ? PinState::kUsable : PinState::kPending;
  total_known_ += SpanOf(*spec_, slot.pin).count;
  return slot.pin;
}

void JobExpander::PinFailed(uint32_t index) {
  PinSlot& slot = pins_[index];
  if (slot.requested) {
    slot.requested = false;
    --pins_requested_;
  }
}

void JobExpander::MarkPinUsable(uint32_t index) {
  PinSlot& slot = pins_[index];
  if (slot.state == PinState::kPending && slot.pin.params_pinned) slot.state = PinState::kUsable;
}

uint64_t JobExpander::RequestedVersion(uint32_t index) const {
  if (auto it = spec_->versions.find(streams_[index]); it != spec_->versions.end()) {
    return it->second;
  }
  return pins_[index].state != PinState::kUnpinned ? pins_[index].pin.version : 0;
}

std::vector<uint32_t> JobExpander::RequestPins(size_t max_pins, size_t lookahead) {
  std::vector<uint32_t> out;
  const size_t begin = cursor_.stream_index;
  const size_t stop = std::min(streams_.size(), begin + lookahead);
  for (size_t i = begin; i < stop && out.size() < max_pins; ++i) {
    PinSlot& slot = pins_[i];
    if (slot.requested) continue;
    if (slot.state != PinState::kUnpinned && slot.pin.params_pinned) continue;
    slot.requested = true;
    ++pins_requested_;
    out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

bool JobExpander::blocked_on_pin() const {
  return listed_ && cursor_.stream_index < streams_.size() &&
         pins_[cursor_.stream_index].state != PinState::kUsable;
}

size_t JobExpander::NextChunks(size_t max_n, const SkipFn& skip, std::vector<Chunk>* out) {
  size_t produced = 0;
  const int64_t chunk = spec_->chunk;
  while (produced < max_n && cursor_.stream_index < streams_.size()) {
    const uint32_t s = cursor_.stream_index;
    if (pins_[s].state != PinState::kUsable) break;
    const ChunkSpan span = SpanOf(*spec_, pins_[s].pin);
    if (!cursor_.positioned) {
      cursor_.positioned = true;
      cursor_.next_start = span.first;
    }
    while (produced < max_n && span.count > 0 && cursor_.next_start <= span.last) {
      int64_t t = cursor_.next_start;
      if (skip) {
        // Resolved ranges are merged, but a range may end where a dead letter begins:
        // ask again until the answer stays put.
        for (int64_t next = skip(s, t); next != t; next = skip(s, t)) t = next;
        if (t > span.last) {
          cursor_.next_start = t;
          break;
        }
      }
      out->push_back(Chunk{s, t, t + chunk});
      ++produced;
      cursor_.next_start = t + chunk;
    }
    if (span.count == 0 || cursor_.next_start > span.last) {
      ++cursor_.stream_index;
      cursor_.positioned = false;
      cursor_.next_start = 0;
    }
  }
  return produced;
}

TaskSpec JobExpander::MakeTask(uint32_t stream_index, int64_t start, uint32_t attempt) const {
  TaskSpec t;
  t.key = KeyOf(stream_index, start);
  t.attempt = attempt;
  t.end = start + spec_->chunk;
  const StreamPin& p = pins_[stream_index].pin;
  t.version = p.version;
  t.analytic = spec_->analytic;
  t.params = spec_->params;
  for (const auto& param : p.params) {
    const bool named = std::any_of(t.params.begin(), t.params.end(),
                                   [&param](const auto& q) { return q.first == param.first; });
    if (!named) t.params.push_back(param);
  }
  t.stream_earliest = p.earliest;
  t.stream_latest = p.latest;
  return t;
}

}  // namespace btrq::broker
