#pragma once

// A PointSource over an in-memory vector of points, for analytics tests. Raw reads are
// delivered in batches of a chosen size; window reads are computed from the raw points
// with BTrDB's semantics (AlignedWindows omits empty windows, Windows sends them with
// count 0). A failure can be injected after a number of batches.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "common/status.h"
#include "analytics/analytic.h"

namespace btrq::analytics::testing {

class VectorPointSource : public PointSource {
 public:
  explicit VectorPointSource(std::vector<RawPoint> points,
                             size_t batch_size = std::numeric_limits<size_t>::max())
      : points_(std::move(points)), batch_size_(std::max<size_t>(batch_size, 1)) {}

  // The read fails with `status` once `batches` batches have been delivered.
  void FailAfter(int batches, Status status) {
    fail_after_ = batches;
    failure_ = std::move(status);
  }

  int raw_reads() const { return raw_reads_; }
  int window_reads() const { return window_reads_; }

  Status ReadRaw(int64_t start, int64_t end, uint64_t, const RawSink& sink) override {
    ++raw_reads_;
    std::vector<RawPoint> selected;
    for (const RawPoint& p : points_) {
      if (p.time >= start && p.time < end) selected.push_back(p);
    }
    return Deliver(std::span<const RawPoint>(selected), sink);
  }

  Status ReadAligned(int64_t start, int64_t end, uint64_t, uint8_t pointwidth,
                     const StatSink& sink) override {
    ++window_reads_;
    const int64_t width = int64_t{1} << pointwidth;
    const int64_t lo = start & ~(width - 1);
    const int64_t hi = end & ~(width - 1);
    std::vector<StatPoint> windows;
    for (int64_t t = lo; t < hi; t += width) {
      StatPoint w = Window(t, t + width);
      if (w.count > 0) windows.push_back(w);
    }
    return Deliver(std::span<const StatPoint>(windows), sink);
  }

  Status ReadWindows(int64_t start, int64_t end, uint64_t, uint64_t width,
                     const StatSink& sink) override {
    ++window_reads_;
    const auto w = static_cast<int64_t>(width);
    std::vector<StatPoint> windows;
    for (int64_t t = start; t + w <= end; t += w) windows.push_back(Window(t, t + w));
    return Deliver(std::span<const StatPoint>(windows), sink);
  }

 private:
  // Population statistics of the points in [lo, hi), by two passes.
  StatPoint Window(int64_t lo, int64_t hi) const {
    StatPoint w;
    w.time = lo;
    double sum = 0;
    for (const RawPoint& p : points_) {
      if (p.time < lo || p.time >= hi) continue;
      w.min = w.count == 0 ? p.value : std::min(w.min, p.value);
      w.max = w.count == 0 ? p.value : std::max(w.max, p.value);
      ++w.count;
      sum += p.value;
    }
    if (w.count == 0) return w;
    w.mean = sum / static_cast<double>(w.count);
    double m2 = 0;
    for (const RawPoint& p : points_) {
      if (p.time >= lo && p.time < hi) m2 += (p.value - w.mean) * (p.value - w.mean);
    }
    w.stddev = std::sqrt(m2 / static_cast<double>(w.count));
    return w;
  }

  template <typename T, typename Sink>
  Status Deliver(std::span<const T> items, const Sink& sink) {
    int delivered = 0;
    for (size_t i = 0; i < items.size(); i += batch_size_) {
      if (fail_after_ >= 0 && delivered >= fail_after_) return failure_;
      BTRQ_RETURN_IF_ERROR(sink(items.subspan(i, std::min(batch_size_, items.size() - i))));
      ++delivered;
    }
    if (fail_after_ >= 0 && delivered >= fail_after_) return failure_;
    return Status::OK();
  }

  std::vector<RawPoint> points_;
  size_t batch_size_;
  int fail_after_ = -1;
  Status failure_;
  int raw_reads_ = 0;
  int window_reads_ = 0;
};

// Helpers to read fields in tests.
inline const FieldValue* Find(const Fields& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

inline int64_t IntField(const Fields& fields, std::string_view name) {
  const FieldValue* v = Find(fields, name);
  return v != nullptr && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : -999999;
}

inline double DoubleField(const Fields& fields, std::string_view name) {
  const FieldValue* v = Find(fields, name);
  return v != nullptr && std::holds_alternative<double>(*v) ? std::get<double>(*v)
                                                             : std::numeric_limits<double>::quiet_NaN();
}

inline std::vector<std::string> FieldNames(const Fields& fields) {
  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(f.first);
  return names;
}

}  // namespace btrq::analytics::testing
