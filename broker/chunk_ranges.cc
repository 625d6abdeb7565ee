#include "broker/chunk_ranges.h"

#include <algorithm>
#include <iterator>

namespace btrq::broker {

int64_t ChunkRanges::Add(int64_t from, int64_t to) {
  if (from >= to) return 0;
  int64_t added = to - from;
  // Start with the range at or before `from` when it touches [from, to).
  auto it = ranges_.upper_bound(from);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= from) it = prev;
  }
  int64_t lo = from;
  int64_t hi = to;
  while (it != ranges_.end() && it->first <= hi) {
    const int64_t overlap = std::min(it->second, to) - std::max(it->first, from);
    if (overlap > 0) added -= overlap;
    lo = std::min(lo, it->first);
    hi = std::max(hi, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(lo, hi);
  return added;
}

void ChunkRanges::Remove(int64_t from, int64_t to) {
  if (from >= to) return;
  auto it = ranges_.upper_bound(from);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < to) {
    const int64_t lo = it->first;
    const int64_t hi = it->second;
    if (hi <= from) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    if (lo < from) ranges_.emplace(lo, from);
    if (hi > to) ranges_.emplace(to, hi);
  }
}

bool ChunkRanges::Contains(int64_t t) const { return SkipFrom(t) != t; }

int64_t ChunkRanges::SkipFrom(int64_t t) const {
  auto it = ranges_.upper_bound(t);
  if (it == ranges_.begin()) return t;
  --it;
  return it->second > t ? it->second : t;
}

}  // namespace btrq::broker
