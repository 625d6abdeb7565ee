#include "analytics/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>

#include "analytics/moments.h"
#include "analytics/params.h"

namespace btrq::analytics {
namespace {

constexpr int64_t kMaxPointWidth = 63;

struct StatsOptions {
  std::optional<int64_t> pointwidth;
  std::optional<int64_t> window_ns;
};

// Combines windows' (count, mean, M2 = count * stddev^2, min, max).
class WindowCombiner {
 public:
  void Add(std::span<const StatPoint> batch) {
    for (const StatPoint& w : batch) {
      if (w.count == 0) continue;
      const double nb = static_cast<double>(w.count);
      if (moments_.count == 0) {
        min_ = w.min;
        max_ = w.max;
      } else {
        min_ = std::min(min_, w.min);
        max_ = std::max(max_, w.max);
      }
      moments_.Merge(w.count, w.mean, nb * w.stddev * w.stddev);
      ++windows_;
    }
  }

  Fields Finish(int64_t window_ns) const {
    Fields out;
    out.emplace_back("count", static_cast<int64_t>(moments_.count));
    out.emplace_back("windows", windows_);
    out.emplace_back("window_ns", window_ns);
    if (moments_.count > 0) {
      out.emplace_back("min", min_);
      out.emplace_back("max", max_);
      out.emplace_back("mean", moments_.mean);
      out.emplace_back("stddev", std::sqrt(std::max(0.0, moments_.variance())));
    }
    return out;
  }

 private:
  Moments moments_;
  int64_t windows_ = 0;
  double min_ = 0;
  double max_ = 0;
};

class StatsAnalytic final : public Analytic {
 public:
  explicit StatsAnalytic(StatsOptions options) : options_(options) {}

  Result<Fields> Run(const TaskSpec& task, PointSource& source,
                     RunCounters* counters) const override {
    WindowCombiner combiner;
    const StatSink sink = [&](std::span<const StatPoint> batch) {
      counters->windows_read += static_cast<int64_t>(batch.size());
      combiner.Add(batch);
      return Status::OK();
    };
    if (options_.pointwidth) {
      const auto pw = static_cast<uint8_t>(*options_.pointwidth);
      BTRQ_RETURN_IF_ERROR(source.ReadAligned(task.key.start, task.end, task.version, pw, sink));
      const int64_t width = pw == 63 ? std::numeric_limits<int64_t>::max() : int64_t{1} << pw;
      return combiner.Finish(width);
    }
    const int64_t width = options_.window_ns.value_or(task.end - task.key.start);
    if (width <= 0) return combiner.Finish(0);  // an empty task range: nothing to read
    BTRQ_RETURN_IF_ERROR(source.ReadWindows(task.key.start, task.end, task.version,
                                            static_cast<uint64_t>(width), sink));
    return combiner.Finish(width);
  }

 private:
  StatsOptions options_;
};

Result<StatsOptions> ParseStatsOptions(const Fields& params) {
  ParamReader reader(kStatsName, params);
  StatsOptions options;
  BTRQ_ASSIGN_OR_RETURN(options.pointwidth, reader.Int("pointwidth"));
  if (options.pointwidth && (*options.pointwidth < 0 || *options.pointwidth > kMaxPointWidth)) {
    return reader.Invalid("pointwidth", "must be in [0, 63]");
  }
  BTRQ_ASSIGN_OR_RETURN(options.window_ns, reader.Duration("window"));
  if (options.window_ns && *options.window_ns == 0) {
    return reader.Invalid("window", "must be positive");
  }
  if (options.pointwidth && options.window_ns) {
    return reader.Invalid("window", "and 'pointwidth' are exclusive: give one");
  }
  BTRQ_RETURN_IF_ERROR(reader.CheckAllUsed());
  return options;
}

}  // namespace

Result<std::unique_ptr<Analytic>> NewStats(const Fields& params) {
  BTRQ_ASSIGN_OR_RETURN(StatsOptions options, ParseStatsOptions(params));
  return std::unique_ptr<Analytic>(std::make_unique<StatsAnalytic>(options));
}

}  // namespace btrq::analytics
