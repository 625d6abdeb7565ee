#pragma once

// A set of chunk starts of one stream, kept as merged half-open ranges [from, to) of
// time. Chunks resolved roughly in order merge into a few ranges, so a job's done set
// costs memory for its gaps, not for its chunks. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>

namespace btrq::broker {

class ChunkRanges {
 public:
  // Adds [from, to). Returns the time newly covered (0 if it was all present).
  int64_t Add(int64_t from, int64_t to);
  // Removes [from, to), splitting a range if needed.
  void Remove(int64_t from, int64_t to);
  bool Contains(int64_t t) const;
  // The end of the range containing t, or t when no range contains it.
  int64_t SkipFrom(int64_t t) const;

  size_t range_count() const { return ranges_.size(); }
  bool empty() const { return ranges_.empty(); }
  const std::map<int64_t, int64_t>& ranges() const { return ranges_; }

 private:
  std::map<int64_t, int64_t> ranges_;  // from -> to, disjoint and not adjacent
};

}  // namespace btrq::broker
