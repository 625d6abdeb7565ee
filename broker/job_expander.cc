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

JobExpander::JobExpander(JobId job, const JobSpec* spec) : job_(job), spec_(spec) {}

Status JobExpander::List(StreamCatalog* catalog) {
  std::vector<Uuid> uuids;
  if (!spec_->streams.empty()) {
    uuids = spec_->streams;
  } else {
    Result<std::vector<StreamRef>> refs = catalog->ListStreams(*spec_);
    if (!refs.ok()) return refs.status().WithContext("listing streams");
    uuids.reserve(refs->size());
    for (const StreamRef& r : *refs) uuids.push_back(r.uuid);
  }
  // Drop duplicates, keeping the first occurrence: a task key must not appear twice.
  std::unordered_set<Uuid> seen;
  std::vector<Uuid> unique;
  unique.reserve(uuids.size());
  for (const Uuid& u : uuids) {
    if (seen.insert(u).second) unique.push_back(u);
  }
  SetStreams(std::move(unique));
  return Status::OK();
}

void JobExpander::SetStreams(std::vector<Uuid> streams) {
  streams_ = std::move(streams);
  pins_.assign(streams_.size(), PinSlot{});
  pinned_count_ = 0;
  total_known_ = 0;
  listed_ = true;
  cursor_ = ExpansionCursor{};
}

void JobExpander::AddPin(uint32_t index, const StreamPin& pin, bool usable) {
  PinSlot& slot = pins_[index];
  if (slot.state == PinState::kUnpinned) {
    ++pinned_count_;
  } else {
    total_known_ -= SpanOf(*spec_, slot.pin).count;
  }
  slot.pin = pin;
  slot.state = usable ? PinState::kUsable : PinState::kPending;
  total_known_ += SpanOf(*spec_, pin).count;
}

void JobExpander::SetPin(uint32_t index, const StreamPin& pin, bool usable) {
  AddPin(index, pin, usable);
}

void JobExpander::MarkPinUsable(uint32_t index) {
  if (pins_[index].state == PinState::kPending) pins_[index].state = PinState::kUsable;
}

Status JobExpander::PinAhead(StreamCatalog* catalog, size_t max_pins, size_t lookahead,
                             bool usable, std::vector<uint32_t>* pinned) {
  const size_t begin = cursor_.stream_index;
  const size_t stop = std::min(streams_.size(), begin + lookahead);
  size_t made = 0;
  for (size_t i = begin; i < stop && made < max_pins; ++i) {
    if (pins_[i].state != PinState::kUnpinned) continue;
    uint64_t requested = 0;
    if (auto it = spec_->versions.find(streams_[i]); it != spec_->versions.end()) {
      requested = it->second;
    }
    Result<StreamPin> pin = catalog->PinStream(streams_[i], requested);
    if (!pin.ok()) return pin.status().WithContext("pinning stream " + streams_[i].ToString());
    AddPin(static_cast<uint32_t>(i), *pin, usable);
    pinned->push_back(static_cast<uint32_t>(i));
    ++made;
  }
  return Status::OK();
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
  t.key.job = job_;
  t.key.stream = streams_[stream_index];
  t.key.start = start;
  t.attempt = attempt;
  t.end = start + spec_->chunk;
  const StreamPin& p = pins_[stream_index].pin;
  t.version = p.version;
  t.analytic = spec_->analytic;
  t.params = spec_->params;
  t.stream_earliest = p.earliest;
  t.stream_latest = p.latest;
  return t;
}

}  // namespace btrq::broker
