#pragma once

// The versioned point store of one stream: an immutable value. Every write returns a new
// StreamData at the next major version and leaves the old one untouched, so a reader
// holding a std::shared_ptr<const StreamData> reads a stable snapshot without locks.
//
// Representation: a sorted vector of non-overlapping immutable segments (runs of points in
// time order, at most ~kMaxSegmentPoints each). Every point carries the version that added
// it and the version that deleted it (kNeverDeleted while alive), so any older version is
// answered from the same segments: a point is visible at version V when
// added <= V < deleted. Writes rewrite only the segments whose time span they touch and
// share every other segment (and the column arrays of segments they only delete from)
// with the previous StreamData. Small neighbouring segments are merged geometrically, so
// appends of small batches cost O(log n) copies per point.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace btrq::lite {

// Valid timestamps: [kMinTime, kMaxTime). Inserted points need t < kMaxTime - 1.
inline constexpr int64_t kMinTime = -(int64_t{16} << 56);
inline constexpr int64_t kMaxTime = int64_t{48} << 56;
// The version of a freshly created, empty stream.
inline constexpr uint64_t kFirstVersion = 10;
inline constexpr uint64_t kNeverDeleted = std::numeric_limits<uint64_t>::max();
// Target maximum points per segment.
inline constexpr size_t kMaxSegmentPoints = size_t{1} << 15;

// Values match v5api.MergePolicy. Do not renumber: they are written to the log.
enum class MergePolicy : uint8_t { kNever = 0, kEqual = 1, kRetain = 2, kReplace = 3 };

struct Point {
  int64_t time;
  double value;
  friend bool operator==(const Point&, const Point&) = default;
};

struct TimeRange {
  int64_t start;
  int64_t end;  // exclusive
  friend bool operator==(const TimeRange&, const TimeRange&) = default;
};

// Count, mean, M2, min and max of a set of values; combinable (Chan et al.).
struct Moments {
  uint64_t count = 0;
  double mean = 0;
  double m2 = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Add(double v);
  void Merge(const Moments& o);
  // Population standard deviation; 0 when empty.
  double stddev() const;
};

// A statistical window as BTrDB reports it; min/mean/max/stddev are 0 when count is 0.
struct StatWindow {
  int64_t time;
  double min;
  double mean;
  double max;
  uint64_t count;
  double stddev;
};

// One immutable run of points (internal representation, exposed for the snapshot codec).
struct SegmentColumns {
  std::vector<int64_t> times;
  std::vector<double> values;
  std::vector<uint64_t> added;  // empty: every point added at uniform_added
  uint64_t uniform_added = 0;
  uint64_t min_added = 0;
  uint64_t max_added = 0;
  Moments moments;  // over all points, deleted or not

  uint64_t added_at(size_t i) const { return added.empty() ? uniform_added : added[i]; }
  // Fills the summary fields from the arrays.
  void Finish();
};

struct Segment {
  std::shared_ptr<const SegmentColumns> cols;
  std::shared_ptr<const std::vector<uint64_t>> deleted;  // null: nothing deleted
  uint64_t min_deleted = kNeverDeleted;

  size_t size() const { return cols->times.size(); }
  int64_t min_time() const { return cols->times.front(); }
  int64_t max_time() const { return cols->times.back(); }
  uint64_t deleted_at(size_t i) const { return deleted ? (*deleted)[i] : kNeverDeleted; }
  bool visible(size_t i, uint64_t v) const { return cols->added_at(i) <= v && deleted_at(i) > v; }
  // True when every point is visible at v.
  bool all_visible(uint64_t v) const { return cols->max_added <= v && min_deleted > v; }
};

// What one write changed: time ranges aligned to 2^granularity_log2.
struct ChangeRecord {
  uint64_t version;
  int granularity_log2;
  std::vector<TimeRange> ranges;
  std::shared_ptr<const ChangeRecord> prev;
  ~ChangeRecord();  // iterative: long chains must not recurse
};

class StreamData {
 public:
  // An empty stream at kFirstVersion.
  static std::shared_ptr<const StreamData> Empty();

  uint64_t version() const { return version_; }
  size_t segment_count() const { return segments_.size(); }
  const std::vector<Segment>& segments() const { return segments_; }
  const std::shared_ptr<const ChangeRecord>& changes() const { return changes_; }
  // Points ever stored, including deleted ones kept for older versions.
  size_t stored_points() const;

  // Returns the stream at version()+1 with `points` merged in by `policy`. Points need
  // not be sorted. REQUIRES: every value finite, every time in [kMinTime, kMaxTime - 1).
  // Duplicate times within `points`: kNever keeps all in order, kRetain keeps the first,
  // kReplace keeps the last, kEqual drops repeated (time, value) pairs.
  std::shared_ptr<const StreamData> Insert(std::vector<Point> points, MergePolicy policy) const;
  // Returns the stream at version()+1 without the points in [start, end).
  std::shared_ptr<const StreamData> Delete(int64_t start, int64_t end) const;

  // Reads. `version` must be in [1, version()]; points added later are not seen.
  //
  // Forward: first point with time >= t; backward: last point with time < t.
  bool Nearest(int64_t t, bool backward, uint64_t version, Point* out) const;
  // Calls sink(const StatWindow&) for windows [start + i*width, start + (i+1)*width),
  // i in [0, n), in order, until it returns false. Empty windows are reported only when
  // emit_empty.
  template <typename Sink>
  void Windows(int64_t start, uint64_t width, uint64_t n, bool emit_empty, uint64_t version,
               Sink&& sink) const;
  // Coalesced ranges changed by versions in (from, to], each aligned outward to
  // 2^max(resolution, granularity of the write).
  std::vector<TimeRange> Changes(uint64_t from, uint64_t to, int resolution) const;

  // Snapshot codec.
  void EncodeTo(std::string* out) const;
  static Result<std::shared_ptr<const StreamData>> DecodeFrom(std::string_view in);

  // Reads the points visible at a version in [start, end), batch by batch.
  class Cursor {
   public:
    Cursor(std::shared_ptr<const StreamData> data, int64_t start, int64_t end, uint64_t version);
    // Fills up to `max` points; returns how many (0 = done).
    size_t Next(Point* out, size_t max);

   private:
    std::shared_ptr<const StreamData> data_;
    int64_t end_;
    uint64_t version_;
    size_t seg_ = 0;
    size_t pos_ = 0;
  };

 private:
  // Index of the first segment whose max_time >= t.
  size_t FirstSegmentEndingAtOrAfter(int64_t t) const;
  Moments WindowMoments(int64_t lo, int64_t hi, uint64_t version, size_t* seg, size_t* pos) const;

  uint64_t version_ = kFirstVersion;
  std::vector<Segment> segments_;
  std::shared_ptr<const ChangeRecord> changes_;
};

// Aligns t down to a multiple of 2^log2 (floor, also for negative t).
int64_t AlignDown(int64_t t, int log2);

// ---- template implementation ----

template <typename Sink>
void StreamData::Windows(int64_t start, uint64_t width, uint64_t n, bool emit_empty,
                         uint64_t version, Sink&& sink) const {
  size_t seg = FirstSegmentEndingAtOrAfter(start);
  size_t pos = 0;
  uint64_t i = 0;
  while (i < n) {
    const __int128 lo128 = static_cast<__int128>(start) + static_cast<__int128>(i) * width;
    const __int128 hi128 = lo128 + width;
    const int64_t lo = static_cast<int64_t>(lo128);
    const int64_t hi = hi128 > std::numeric_limits<int64_t>::max()
                           ? std::numeric_limits<int64_t>::max()
                           : static_cast<int64_t>(hi128);
    const Moments m = WindowMoments(lo, hi, version, &seg, &pos);
    if (m.count > 0) {
      if (!sink(StatWindow{lo, m.min, m.mean, m.max, m.count, m.stddev()})) return;
    } else if (emit_empty) {
      if (!sink(StatWindow{lo, 0, 0, 0, 0, 0})) return;
    }
    if (m.count == 0 && !emit_empty) {
      // Skip straight to the window of the next visible point.
      Point next;
      if (!Nearest(hi, false, version, &next)) break;
      const unsigned __int128 off = static_cast<unsigned __int128>(
          static_cast<__int128>(next.time) - static_cast<__int128>(start));
      const uint64_t j = static_cast<uint64_t>(off / width);
      if (j <= i) {
        ++i;
      } else {
        i = j;
      }
      seg = FirstSegmentEndingAtOrAfter(next.time);
      pos = 0;
      continue;
    }
    ++i;
  }
}

}  // namespace btrq::lite
