#include "lite/stream_data.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "lite/encoding.h"

namespace btrq::lite {
namespace {

// A write's changed ranges are stored at the finest power-of-two granularity that keeps
// them at most this many.
constexpr size_t kMaxRangesPerChange = 256;

int64_t AlignUpEnd(int64_t last, int log2) {
  const __int128 e = static_cast<__int128>(AlignDown(last, log2)) + (static_cast<__int128>(1) << log2);
  return e > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max()
                                                 : static_cast<int64_t>(e);
}

// Coalesced ranges covering sorted `times` at granularity 2^g; stops early (returns
// false) once more than `limit` ranges are needed.
bool RangesAt(const std::vector<int64_t>& times, int g, size_t limit, std::vector<TimeRange>* out) {
  out->clear();
  for (int64_t t : times) {
    const int64_t s = AlignDown(t, g);
    const int64_t e = AlignUpEnd(t, g);
    if (!out->empty() && s <= out->back().end) {
      out->back().end = std::max(out->back().end, e);
    } else {
      if (out->size() == limit) return false;
      out->push_back({s, e});
    }
  }
  return true;
}

std::shared_ptr<const ChangeRecord> MakeChange(uint64_t version, std::vector<int64_t> times,
                                               std::shared_ptr<const ChangeRecord> prev) {
  auto rec = std::make_shared<ChangeRecord>();
  rec->version = version;
  rec->prev = std::move(prev);
  std::sort(times.begin(), times.end());
  int g = 0;
  while (!RangesAt(times, g, kMaxRangesPerChange, &rec->ranges)) g = std::min(g + 4, 63);
  rec->granularity_log2 = g;
  return rec;
}

// Growable columns for building segments.
struct Builder {
  std::vector<int64_t> times;
  std::vector<double> values;
  std::vector<uint64_t> added;
  std::vector<uint64_t> deleted;

  void Push(int64_t t, double v, uint64_t a, uint64_t d) {
    times.push_back(t);
    values.push_back(v);
    added.push_back(a);
    deleted.push_back(d);
  }
  size_t size() const { return times.size(); }
  void Reserve(size_t n) {
    times.reserve(n);
    values.reserve(n);
    added.reserve(n);
    deleted.reserve(n);
  }
  void AppendSegment(const Segment& s) {
    const SegmentColumns& c = *s.cols;
    times.insert(times.end(), c.times.begin(), c.times.end());
    values.insert(values.end(), c.values.begin(), c.values.end());
    if (c.added.empty()) {
      added.insert(added.end(), c.times.size(), c.uniform_added);
    } else {
      added.insert(added.end(), c.added.begin(), c.added.end());
    }
    if (s.deleted) {
      deleted.insert(deleted.end(), s.deleted->begin(), s.deleted->end());
    } else {
      deleted.insert(deleted.end(), c.times.size(), kNeverDeleted);
    }
  }
  // Makes a segment of rows [b, e).
  Segment Make(size_t b, size_t e) const {
    auto cols = std::make_shared<SegmentColumns>();
    cols->times.assign(times.begin() + b, times.begin() + e);
    cols->values.assign(values.begin() + b, values.begin() + e);
    const bool uniform = std::all_of(added.begin() + b, added.begin() + e,
                                     [&](uint64_t a) { return a == added[b]; });
    if (uniform) {
      cols->uniform_added = added[b];
    } else {
      cols->added.assign(added.begin() + b, added.begin() + e);
    }
    cols->Finish();
    Segment seg;
    seg.cols = std::move(cols);
    uint64_t min_del = kNeverDeleted;
    for (size_t i = b; i < e; ++i) min_del = std::min(min_del, deleted[i]);
    if (min_del != kNeverDeleted) {
      seg.deleted = std::make_shared<std::vector<uint64_t>>(deleted.begin() + b, deleted.begin() + e);
      seg.min_deleted = min_del;
    }
    return seg;
  }
  // Splits all rows into balanced segments of at most ~kMaxSegmentPoints, never splitting
  // a run of equal times (so segments never overlap).
  void SplitInto(std::vector<Segment>* out) const {
    const size_t n = size();
    if (n == 0) return;
    const size_t parts = (n + kMaxSegmentPoints - 1) / kMaxSegmentPoints;
    const size_t per = (n + parts - 1) / parts;
    size_t b = 0;
    while (b < n) {
      size_t e = std::min(n, b + per);
      while (e < n && times[e] == times[e - 1]) ++e;
      out->push_back(Make(b, e));
      b = e;
    }
  }
};

Segment Concat(const Segment& a, const Segment& b) {
  Builder builder;
  builder.AppendSegment(a);
  builder.AppendSegment(b);
  return builder.Make(0, builder.size());
}

// Merge `small` into `big`'s neighbour only while it keeps the merge cost geometric.
bool ShouldCoalesce(const Segment& neighbour, const Segment& cur) {
  return neighbour.size() + cur.size() <= kMaxSegmentPoints && neighbour.size() <= 2 * cur.size();
}

void DedupBatch(std::vector<Point>* pts, MergePolicy policy) {
  if (policy == MergePolicy::kNever) return;
  std::vector<Point>& p = *pts;
  size_t w = 0;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = i;
    while (j < p.size() && p[j].time == p[i].time) ++j;
    switch (policy) {
      case MergePolicy::kRetain:
        p[w++] = p[i];
        break;
      case MergePolicy::kReplace:
        p[w++] = p[j - 1];
        break;
      default: {  // kEqual
        const size_t run_start = w;
        for (size_t k = i; k < j; ++k) {
          bool dup = false;
          for (size_t q = run_start; q < w; ++q) dup |= p[q].value == p[k].value;
          if (!dup) p[w++] = p[k];
        }
      }
    }
    i = j;
  }
  p.resize(w);
}

// Merges a sorted, de-duplicated batch into the points of the segments it overlaps, as
// of version `v`: under kRetain a batch point at a time that has a live point is dropped,
// under kEqual one equal to a live point there, under kReplace the live points there are
// deleted at `v`. The times of the kept batch points go to `changed`.
void MergeBatch(const Builder& old, const std::vector<Point>& pts, MergePolicy policy,
                uint64_t v, Builder* out, std::vector<int64_t>* changed) {
  out->Reserve(old.size() + pts.size());
  size_t i = 0;  // into old
  size_t j = 0;  // into pts
  while (j < pts.size()) {
    const int64_t t = pts[j].time;
    while (i < old.size() && old.times[i] < t) {
      out->Push(old.times[i], old.values[i], old.added[i], old.deleted[i]);
      ++i;
    }
    const size_t run_begin = out->size();
    while (i < old.size() && old.times[i] == t) {
      out->Push(old.times[i], old.values[i], old.added[i], old.deleted[i]);
      ++i;
    }
    const size_t run_end = out->size();
    bool has_live = false;
    for (size_t k = run_begin; k < run_end; ++k) has_live |= out->deleted[k] == kNeverDeleted;
    for (; j < pts.size() && pts[j].time == t; ++j) {
      bool keep = true;
      if (policy == MergePolicy::kRetain) {
        keep = !has_live;
      } else if (policy == MergePolicy::kEqual) {
        for (size_t k = run_begin; k < run_end; ++k) {
          if (out->deleted[k] == kNeverDeleted && out->values[k] == pts[j].value) keep = false;
        }
      } else if (policy == MergePolicy::kReplace) {
        for (size_t k = run_begin; k < run_end; ++k) {
          if (out->deleted[k] == kNeverDeleted) out->deleted[k] = v;
        }
      }
      if (keep) {
        out->Push(t, pts[j].value, v, kNeverDeleted);
        changed->push_back(t);
      }
    }
  }
  for (; i < old.size(); ++i) out->Push(old.times[i], old.values[i], old.added[i], old.deleted[i]);
}

// `segments` with [lo, hi) replaced by `mid`, and the new segments coalesced with their
// neighbours where they are small enough.
std::vector<Segment> Splice(const std::vector<Segment>& segments, size_t lo, size_t hi,
                            std::vector<Segment> mid) {
  std::vector<Segment> segs;
  segs.reserve(segments.size() + mid.size());
  segs.insert(segs.end(), segments.begin(), segments.begin() + lo);
  size_t m0 = segs.size();
  segs.insert(segs.end(), std::make_move_iterator(mid.begin()), std::make_move_iterator(mid.end()));
  size_t m1 = segs.size();
  segs.insert(segs.end(), segments.begin() + hi, segments.end());
  while (m0 > 0 && m0 < m1 && ShouldCoalesce(segs[m0 - 1], segs[m0])) {
    segs[m0 - 1] = Concat(segs[m0 - 1], segs[m0]);
    segs.erase(segs.begin() + m0);
    --m0;
    --m1;
  }
  while (m1 > m0 && m1 < segs.size() && ShouldCoalesce(segs[m1], segs[m1 - 1])) {
    segs[m1 - 1] = Concat(segs[m1 - 1], segs[m1]);
    segs.erase(segs.begin() + m1);
  }
  return segs;
}

}  // namespace


int64_t AlignDown(int64_t t, int log2) {
  if (log2 <= 0) return t;
  if (log2 >= 64) return std::numeric_limits<int64_t>::min();
  const uint64_t mask = ~((uint64_t{1} << log2) - 1);
  return static_cast<int64_t>(static_cast<uint64_t>(t) & mask);
}

void Moments::Add(double v) {
  ++count;
  const double d = v - mean;
  mean += d / static_cast<double>(count);
  m2 += d * (v - mean);
  min = std::min(min, v);
  max = std::max(max, v);
}

void Moments::Merge(const Moments& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  const double n = static_cast<double>(count + o.count);
  const double d = o.mean - mean;
  mean += d * static_cast<double>(o.count) / n;
  m2 += o.m2 + d * d * static_cast<double>(count) * static_cast<double>(o.count) / n;
  count += o.count;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
}

double Moments::stddev() const {
  if (count == 0) return 0;
  const double var = m2 / static_cast<double>(count);
  return var > 0 ? std::sqrt(var) : 0;
}

void SegmentColumns::Finish() {
  if (added.empty()) {
    min_added = max_added = uniform_added;
  } else {
    const auto [mn, mx] = std::minmax_element(added.begin(), added.end());
    min_added = *mn;
    max_added = *mx;
  }
  moments = Moments();
  for (double v : values) moments.Add(v);
}

ChangeRecord::~ChangeRecord() {
  // Unlink the chain iteratively while we hold the only reference to each node.
  std::shared_ptr<const ChangeRecord> p = std::move(prev);
  while (p && p.use_count() == 1) {
    std::shared_ptr<const ChangeRecord> next = std::move(const_cast<ChangeRecord&>(*p).prev);
    p = std::move(next);
  }
}

std::shared_ptr<const StreamData> StreamData::Empty() {
  return std::shared_ptr<const StreamData>(new StreamData());
}

size_t StreamData::stored_points() const {
  size_t n = 0;
  for (const Segment& s : segments_) n += s.size();
  return n;
}

size_t StreamData::FirstSegmentEndingAtOrAfter(int64_t t) const {
  return std::partition_point(segments_.begin(), segments_.end(),
                              [t](const Segment& s) { return s.max_time() < t; }) -
         segments_.begin();
}

std::shared_ptr<const StreamData> StreamData::Insert(std::vector<Point> pts, MergePolicy policy) const {
  auto by_time = [](const Point& a, const Point& b) { return a.time < b.time; };
  if (!std::is_sorted(pts.begin(), pts.end(), by_time)) std::stable_sort(pts.begin(), pts.end(), by_time);
  DedupBatch(&pts, policy);

  std::shared_ptr<StreamData> next(new StreamData());
  next->version_ = version_ + 1;
  const uint64_t v = next->version_;
  if (pts.empty()) {
    next->segments_ = segments_;
    next->changes_ = changes_;
    return next;
  }

  // Only the segments that overlap the batch's time span are rebuilt.
  const size_t lo = FirstSegmentEndingAtOrAfter(pts.front().time);
  size_t hi = lo;
  while (hi < segments_.size() && segments_[hi].min_time() <= pts.back().time) ++hi;

  Builder out;
  std::vector<int64_t> changed;
  if (lo == hi) {
    out.Reserve(pts.size());
    changed.reserve(pts.size());
    for (const Point& p : pts) {
      out.Push(p.time, p.value, v, kNeverDeleted);
      changed.push_back(p.time);
    }
  } else {
    Builder old;
    for (size_t s = lo; s < hi; ++s) old.AppendSegment(segments_[s]);
    MergeBatch(old, pts, policy, v, &out, &changed);
  }
  std::vector<Segment> mid;
  out.SplitInto(&mid);
  next->segments_ = Splice(segments_, lo, hi, std::move(mid));
  next->changes_ = MakeChange(v, std::move(changed), changes_);
  return next;
}

std::shared_ptr<const StreamData> StreamData::Delete(int64_t start, int64_t end) const {
  std::shared_ptr<StreamData> next(new StreamData());
  next->version_ = version_ + 1;
  const uint64_t v = next->version_;
  next->segments_ = segments_;
  std::vector<int64_t> changed;
  for (size_t s = FirstSegmentEndingAtOrAfter(start); s < segments_.size(); ++s) {
    const Segment& seg = segments_[s];
    if (seg.min_time() >= end) break;
    const auto& times = seg.cols->times;
    size_t b = std::lower_bound(times.begin(), times.end(), start) - times.begin();
    const size_t e = std::lower_bound(times.begin() + b, times.end(), end) - times.begin();
    std::shared_ptr<std::vector<uint64_t>> deleted;
    for (size_t i = b; i < e; ++i) {
      if (seg.deleted_at(i) != kNeverDeleted) continue;
      if (!deleted) {
        deleted = seg.deleted ? std::make_shared<std::vector<uint64_t>>(*seg.deleted)
                              : std::make_shared<std::vector<uint64_t>>(seg.size(), kNeverDeleted);
      }
      (*deleted)[i] = v;
      changed.push_back(times[i]);
    }
    if (deleted) {
      Segment& ns = next->segments_[s];
      ns.deleted = std::move(deleted);
      ns.min_deleted = std::min(seg.min_deleted, v);
    }
  }
  next->changes_ = MakeChange(v, std::move(changed), changes_);
  return next;
}

bool StreamData::Nearest(int64_t t, bool backward, uint64_t version, Point* out) const {
  const size_t first = FirstSegmentEndingAtOrAfter(t);
  if (!backward) {
    for (size_t s = first; s < segments_.size(); ++s) {
      const Segment& seg = segments_[s];
      const auto& times = seg.cols->times;
      for (size_t i = std::lower_bound(times.begin(), times.end(), t) - times.begin(); i < times.size(); ++i) {
        if (seg.visible(i, version)) {
          *out = {times[i], seg.cols->values[i]};
          return true;
        }
      }
    }
    return false;
  }
  for (size_t s = std::min(first + 1, segments_.size()); s-- > 0;) {
    const Segment& seg = segments_[s];
    const auto& times = seg.cols->times;
    for (size_t i = std::lower_bound(times.begin(), times.end(), t) - times.begin(); i-- > 0;) {
      if (seg.visible(i, version)) {
        *out = {times[i], seg.cols->values[i]};
        return true;
      }
    }
  }
  return false;
}

Moments StreamData::WindowMoments(int64_t lo, int64_t hi, uint64_t version, size_t* seg_idx,
                                  size_t* pos) const {
  Moments m;
  while (*seg_idx < segments_.size()) {
    const Segment& seg = segments_[*seg_idx];
    if (seg.min_time() >= hi) break;
    if (seg.max_time() < lo) {
      ++*seg_idx;
      *pos = 0;
      continue;
    }
    const auto& times = seg.cols->times;
    const bool visible_all = seg.all_visible(version);
    if (*pos == 0 && visible_all && seg.min_time() >= lo && seg.max_time() < hi) {
      m.Merge(seg.cols->moments);
      ++*seg_idx;
      continue;
    }
    size_t i = *pos;
    if (times[i] < lo) i = std::lower_bound(times.begin() + i, times.end(), lo) - times.begin();
    const auto& values = seg.cols->values;
    const size_t n = times.size();
    if (visible_all) {
      for (; i < n && times[i] < hi; ++i) m.Add(values[i]);
    } else {
      for (; i < n && times[i] < hi; ++i) {
        if (seg.visible(i, version)) m.Add(values[i]);
      }
    }
    if (i < n) {
      *pos = i;
      break;
    }
    ++*seg_idx;
    *pos = 0;
  }
  return m;
}

std::vector<TimeRange> StreamData::Changes(uint64_t from, uint64_t to, int resolution) const {
  std::vector<TimeRange> all;
  for (const ChangeRecord* r = changes_.get(); r != nullptr && r->version > from; r = r->prev.get()) {
    if (r->version > to) continue;
    const int g = std::max(resolution, r->granularity_log2);
    for (const TimeRange& tr : r->ranges) all.push_back({AlignDown(tr.start, g), AlignUpEnd(tr.end - 1, g)});
  }
  std::sort(all.begin(), all.end(), [](const TimeRange& a, const TimeRange& b) { return a.start < b.start; });
  std::vector<TimeRange> out;
  for (const TimeRange& tr : all) {
    if (!out.empty() && tr.start <= out.back().end) {
      out.back().end = std::max(out.back().end, tr.end);
    } else {
      out.push_back(tr);
    }
  }
  return out;
}

StreamData::Cursor::Cursor(std::shared_ptr<const StreamData> data, int64_t start, int64_t end,
                           uint64_t version)
    : data_(std::move(data)), end_(end), version_(version) {
  seg_ = data_->FirstSegmentEndingAtOrAfter(start);
  if (seg_ < data_->segments_.size()) {
    const auto& times = data_->segments_[seg_].cols->times;
    pos_ = std::lower_bound(times.begin(), times.end(), start) - times.begin();
  }
}

size_t StreamData::Cursor::Next(Point* out, size_t max) {
  size_t n = 0;
  const auto& segs = data_->segments_;
  while (n < max && seg_ < segs.size()) {
    const Segment& seg = segs[seg_];
    const auto& times = seg.cols->times;
    const auto& values = seg.cols->values;
    const size_t size = times.size();
    if (pos_ < size && times[pos_] >= end_) {
      seg_ = segs.size();
      break;
    }
    size_t i = pos_;
    if (seg.all_visible(version_)) {
      // Fast path: one bounded copy loop.
      const size_t stop = std::min(size, i + (max - n));
      if (seg.max_time() < end_) {
        for (; i < stop; ++i) out[n++] = {times[i], values[i]};
      } else {
        for (; i < stop && times[i] < end_; ++i) out[n++] = {times[i], values[i]};
      }
    } else {
      for (; i < size && n < max && times[i] < end_; ++i) {
        if (seg.visible(i, version_)) out[n++] = {times[i], values[i]};
      }
    }
    pos_ = i;
    if (pos_ >= size) {
      ++seg_;
      pos_ = 0;
    } else if (times[pos_] >= end_) {
      seg_ = segs.size();
    }
  }
  return n;
}

void StreamData::EncodeTo(std::string* out) const {
  PutFixed64(out, version_);
  PutVarint64(out, segments_.size());
  for (const Segment& s : segments_) {
    const SegmentColumns& c = *s.cols;
    PutVarint64(out, c.times.size());
    PutArray(out, c.times.data(), c.times.size());
    PutArray(out, c.values.data(), c.values.size());
    out->push_back(c.added.empty() ? 0 : 1);
    if (c.added.empty()) {
      PutFixed64(out, c.uniform_added);
    } else {
      PutArray(out, c.added.data(), c.added.size());
    }
    out->push_back(s.deleted ? 1 : 0);
    if (s.deleted) PutArray(out, s.deleted->data(), s.deleted->size());
  }
  std::vector<const ChangeRecord*> recs;
  for (const ChangeRecord* r = changes_.get(); r != nullptr; r = r->prev.get()) recs.push_back(r);
  PutVarint64(out, recs.size());
  for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
    PutFixed64(out, (*it)->version);
    PutVarint64(out, static_cast<uint64_t>((*it)->granularity_log2));
    PutVarint64(out, (*it)->ranges.size());
    for (const TimeRange& tr : (*it)->ranges) {
      PutFixed64(out, static_cast<uint64_t>(tr.start));
      PutFixed64(out, static_cast<uint64_t>(tr.end));
    }
  }
}

Result<std::shared_ptr<const StreamData>> StreamData::DecodeFrom(std::string_view in) {
  const Status corrupt = Status::IoError("corrupt stream data in snapshot");
  Decoder d(in);
  std::shared_ptr<StreamData> sd(new StreamData());
  uint64_t nsegs;
  if (!d.GetFixed64(&sd->version_) || !d.GetVarint(&nsegs) || nsegs > in.size()) return corrupt;
  for (uint64_t k = 0; k < nsegs; ++k) {
    uint64_t n;
    if (!d.GetVarint(&n) || n == 0 || n > in.size()) return corrupt;
    auto cols = std::make_shared<SegmentColumns>();
    cols->times.resize(n);
    cols->values.resize(n);
    uint8_t has_added;
    if (!d.GetArray(cols->times.data(), n) || !d.GetArray(cols->values.data(), n) || !d.GetU8(&has_added)) {
      return corrupt;
    }
    if (has_added) {
      cols->added.resize(n);
      if (!d.GetArray(cols->added.data(), n)) return corrupt;
    } else if (!d.GetFixed64(&cols->uniform_added)) {
      return corrupt;
    }
    cols->Finish();
    Segment seg;
    seg.cols = std::move(cols);
    uint8_t has_deleted;
    if (!d.GetU8(&has_deleted)) return corrupt;
    if (has_deleted) {
      auto del = std::make_shared<std::vector<uint64_t>>(n);
      if (!d.GetArray(del->data(), n)) return corrupt;
      seg.min_deleted = *std::min_element(del->begin(), del->end());
      seg.deleted = std::move(del);
    }
    sd->segments_.push_back(std::move(seg));
  }
  uint64_t nrecs;
  if (!d.GetVarint(&nrecs) || nrecs > in.size()) return corrupt;
  for (uint64_t k = 0; k < nrecs; ++k) {
    auto rec = std::make_shared<ChangeRecord>();
    uint64_t g, nr;
    if (!d.GetFixed64(&rec->version) || !d.GetVarint(&g) || g > 63 || !d.GetVarint(&nr) || nr > in.size()) {
      return corrupt;
    }
    rec->granularity_log2 = static_cast<int>(g);
    rec->ranges.resize(nr);
    for (TimeRange& tr : rec->ranges) {
      if (!d.GetInt64(&tr.start) || !d.GetInt64(&tr.end)) return corrupt;
    }
    rec->prev = std::move(sd->changes_);
    sd->changes_ = std::move(rec);
  }
  if (!d.empty()) return corrupt;
  return std::shared_ptr<const StreamData>(std::move(sd));
}

}  // namespace btrq::lite
