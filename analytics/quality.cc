#include "analytics/quality.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "analytics/moments.h"
#include "analytics/params.h"

namespace btrq::analytics {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr long double kNanosPerSecondLd = 1e9L;

// The nominal period P. Exact as num / den ns whenever it is a rational number of ns
// (period_ns, a median, an integer rate); otherwise 1e9 / rate in long double.
struct Period {
  bool known = false;
  bool exact = false;
  int64_t num = 0;  // exact: P = num / den
  int64_t den = 1;
  double rate = 0;  // !exact: P = 1e9 / rate

  static Period FromNanos(int64_t num, int64_t den) { return {true, true, num, den, 0}; }
  static Period FromRate(double rate) {
    // An integer rate makes P = 1e9 / rate rational: keep it exact.
    if (rate == std::trunc(rate) && rate <= 1e9) {
      return FromNanos(kNanosPerSecond, static_cast<int64_t>(rate));
    }
    return {true, false, 0, 1, rate};
  }

  // P in ns as a double, computed the way the generator's truth does (1e9 / rate).
  double Nanos() const {
    return exact ? static_cast<double>(num) / static_cast<double>(den) : 1e9 / rate;
  }

  // The largest integer T such that dt > factor * P  <=>  dt > T for every integer dt.
  int64_t GapThreshold(double factor) const {
    const long double x = exact ? static_cast<long double>(factor) * num / den
                                : static_cast<long double>(factor) * kNanosPerSecondLd / rate;
    if (x >= 0x1p63L) return std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(std::floor(x));
  }

  // round((hi - lo) / P), halves away from zero, 0 when hi <= lo, where
  // hi = hi_base + (plus_period ? P : 0).
  int64_t Expected(int64_t lo, int64_t hi_base, bool plus_period) const {
    if (exact) {
      const __int128 a = static_cast<__int128>(hi_base - lo) * den + (plus_period ? num : 0);
      if (a <= 0) return 0;
      return static_cast<int64_t>((2 * a + num) / (2 * static_cast<__int128>(num)));
    }
    const long double x = static_cast<long double>(hi_base - lo) * rate / kNanosPerSecondLd +
                          (plus_period ? 1.0L : 0.0L);
    if (x <= 0) return 0;
    return std::llround(x);
  }

  // latest + P < end, exactly.
  bool EndsBefore(int64_t latest, int64_t end) const {
    if (exact) {
      return static_cast<__int128>(latest) * den + num < static_cast<__int128>(end) * den;
    }
    return static_cast<long double>(latest) + kNanosPerSecondLd / rate <
           static_cast<long double>(end);
  }
};

// The positive intervals of a chunk, for the median period. Regular data has only a few
// distinct intervals (a 30 Hz stream: 33333333 and 33333334 ns), so they are kept as
// (interval, count) pairs, looked up from the last hit; past kMaxDistinct distinct values
// (jittery timestamps) they spill into a plain vector and nth_element picks the median.
class IntervalCollector {
 public:
  void Add(int64_t dt) {
    if (!spilled_) {
      if (dt == last_value_ && !distinct_.empty()) {
        ++distinct_[last_index_].second;
        return;
      }
      AddDistinct(dt);
      return;
    }
    all_.push_back(dt);
  }

  bool empty() const { return distinct_.empty() && all_.empty(); }

  // The median as num / den ns: the middle interval (den 1) or the sum of the two middle
  // ones (den 2). REQUIRES: !empty().
  std::pair<int64_t, int64_t> Median() {
    if (spilled_) {
      const size_t n = all_.size();
      const auto mid = all_.begin() + static_cast<std::ptrdiff_t>(n / 2);
      std::nth_element(all_.begin(), mid, all_.end());
      if (n % 2 == 1) return {*mid, 1};
      return {*std::max_element(all_.begin(), mid) + *mid, 2};
    }
    std::sort(distinct_.begin(), distinct_.end());
    int64_t n = 0;
    for (const auto& d : distinct_) n += d.second;
    // The values at 0-based ranks (n - 1) / 2 and n / 2.
    const int64_t lower = ValueAtRank((n - 1) / 2);
    if (n % 2 == 1) return {lower, 1};
    return {lower + ValueAtRank(n / 2), 2};
  }

  int64_t CountAbove(int64_t threshold) const {
    int64_t above = 0;
    for (const auto& d : distinct_) above += d.first > threshold ? d.second : 0;
    for (const int64_t dt : all_) above += dt > threshold;
    return above;
  }

 private:
  static constexpr size_t kMaxDistinct = 64;

  void AddDistinct(int64_t dt) {
    for (size_t i = 0; i < distinct_.size(); ++i) {
      if (distinct_[i].first == dt) {
        ++distinct_[i].second;
        last_index_ = i;
        last_value_ = dt;
        return;
      }
    }
    if (distinct_.size() < kMaxDistinct) {
      distinct_.emplace_back(dt, 1);
      last_index_ = distinct_.size() - 1;
      last_value_ = dt;
      return;
    }
    spilled_ = true;
    for (const auto& d : distinct_) all_.insert(all_.end(), static_cast<size_t>(d.second), d.first);
    distinct_.clear();
    all_.push_back(dt);
  }

  // REQUIRES: distinct_ sorted, 0 <= rank < total count.
  int64_t ValueAtRank(int64_t rank) const {
    for (const auto& d : distinct_) {
      if (rank < d.second) return d.first;
      rank -= d.second;
    }
    return distinct_.back().first;
  }

  bool spilled_ = false;
  std::vector<std::pair<int64_t, int64_t>> distinct_;  // (interval, count) until spilled
  size_t last_index_ = 0;
  int64_t last_value_ = 0;
  std::vector<int64_t> all_;  // every interval, once spilled
};

// The running state of one chunk's scan. Fed batches in time order; independent of how
// the points are split into batches.
class QualityScan {
 public:
  QualityScan(const QualityOptions& options, bool collect_intervals, int64_t gap_threshold,
              int64_t start, int64_t end)
      : stuck_min_(options.stuck_min),
        min_bound_(options.min.value_or(-std::numeric_limits<double>::infinity())),
        max_bound_(options.max.value_or(std::numeric_limits<double>::infinity())),
        collect_intervals_(collect_intervals),
        gap_threshold_(gap_threshold),
        start_(start),
        end_(end) {}

  Status Add(std::span<const RawPoint> batch) {
    if (batch.empty()) return Status::OK();
    if (batch.front().time < start_ || batch.back().time >= end_) {
      return Status::FailedPrecondition("quality: reader delivered a point outside [start, end)");
    }
    size_t i = 0;
    if (count_ == 0) {
      prev_time_ = batch[0].time;
      prev_value_ = batch[0].value;
      run_ = 1;
      AddValue(batch[0].value);
      i = 1;
    }
    count_ += static_cast<int64_t>(batch.size());
    int64_t prev_time = prev_time_;
    double prev_value = prev_value_;
    for (; i < batch.size(); ++i) {
      const int64_t t = batch[i].time;
      const double v = batch[i].value;
      const int64_t dt = t - prev_time;
      if (dt <= 0) {
        if (dt < 0) {
          return Status::FailedPrecondition("quality: reader delivered points out of time order");
        }
        ++duplicates_;
      } else {
        gaps_ += dt > gap_threshold_;
        if (collect_intervals_) intervals_.Add(dt);
      }
      if (v == prev_value) {
        ++run_;
      } else {
        CloseRun();
        run_ = 1;
      }
      AddValue(v);
      prev_time = t;
      prev_value = v;
    }
    prev_time_ = prev_time;
    prev_value_ = prev_value;
    return Status::OK();
  }

  Fields Finish(const TaskSpec& task, const QualityOptions& options) {
    CloseRun();
    run_ = 0;
    FlushBlock();
    const int64_t unique = count_ - duplicates_;

    Period period;
    if (options.period_ns) {
      period = Period::FromNanos(*options.period_ns, 1);
    } else if (options.rate_hz) {
      period = Period::FromRate(*options.rate_hz);
    } else if (!intervals_.empty()) {
      const auto [num, den] = intervals_.Median();
      period = Period::FromNanos(num, den);
      gaps_ = intervals_.CountAbove(period.GapThreshold(options.gap_factor));
    }

    int64_t expected = unique;
    double missing_seconds = 0;
    if (period.known) {
      int64_t lo = task.key.start;
      int64_t hi = task.end;
      bool plus_period = false;
      const bool has_extent = !(task.stream_earliest == 0 && task.stream_latest == 0) &&
                              task.stream_latest >= task.stream_earliest;
      if (has_extent) {
        lo = std::max(lo, task.stream_earliest);
        if (period.EndsBefore(task.stream_latest, task.end)) {
          hi = task.stream_latest;
          plus_period = true;
        }
      }
      expected = period.Expected(lo, hi, plus_period);
      missing_seconds = static_cast<double>(std::max<int64_t>(0, expected - unique)) *
                        period.Nanos() / 1e9;
    }
    const double completeness =
        expected == 0
            ? 1.0
            : std::min(1.0, static_cast<double>(unique) / static_cast<double>(expected));
    const double bad =
        static_cast<double>(duplicates_ + nonfinite_ + out_of_range_ + stuck_points_);
    const double score =
        completeness *
        std::max(0.0, 1.0 - bad / static_cast<double>(std::max<int64_t>(count_, 1)));

    Fields out;
    out.reserve(16);
    out.emplace_back("count", count_);
    out.emplace_back("expected", expected);
    out.emplace_back("completeness", completeness);
    out.emplace_back("gaps", gaps_);
    out.emplace_back("missing_seconds", missing_seconds);
    out.emplace_back("duplicates", duplicates_);
    out.emplace_back("unique", unique);
    out.emplace_back("nonfinite", nonfinite_);
    out.emplace_back("out_of_range", out_of_range_);
    out.emplace_back("longest_stuck", longest_stuck_);
    out.emplace_back("stuck_runs", stuck_runs_);
    if (moments_.count > 0) {
      out.emplace_back("min", min_);
      out.emplace_back("max", max_);
      out.emplace_back("mean", moments_.mean);
      out.emplace_back("stddev", std::sqrt(moments_.variance()));
    }
    out.emplace_back("score", score);
    return out;
  }

 private:
  // Values per block of the mean/variance accumulation. Block boundaries depend only on
  // the sequence of finite values, never on batch boundaries.
  static constexpr int64_t kBlock = 4096;

  void AddValue(double v) {
    if (!std::isfinite(v)) {
      ++nonfinite_;
      return;
    }
    out_of_range_ += (v < min_bound_) | (v > max_bound_);
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    if (block_n_ == 0) shift_ = v;
    const double d = v - shift_;
    block_sum_ += d;
    block_sumsq_ += d * d;
    if (++block_n_ == kBlock) FlushBlock();
  }

  // Folds the current block into moments_.
  void FlushBlock() {
    if (block_n_ == 0) return;
    const double nb = static_cast<double>(block_n_);
    const double mean_b = shift_ + block_sum_ / nb;
    const double m2_b = std::max(0.0, block_sumsq_ - block_sum_ * block_sum_ / nb);
    moments_.Merge(static_cast<uint64_t>(block_n_), mean_b, m2_b);
    block_n_ = 0;
    block_sum_ = 0;
    block_sumsq_ = 0;
  }

  void CloseRun() {
    longest_stuck_ = std::max(longest_stuck_, run_);
    if (run_ >= stuck_min_) {
      ++stuck_runs_;
      stuck_points_ += run_;
    }
  }

  // Options.
  const int64_t stuck_min_;
  const double min_bound_;
  const double max_bound_;
  const bool collect_intervals_;
  const int64_t gap_threshold_;
  const int64_t start_;
  const int64_t end_;

  // Times.
  int64_t count_ = 0;
  int64_t duplicates_ = 0;
  int64_t gaps_ = 0;
  int64_t prev_time_ = 0;
  IntervalCollector intervals_;  // only without a given period

  // Values.
  double prev_value_ = 0;
  int64_t run_ = 0;
  int64_t longest_stuck_ = 0;
  int64_t stuck_runs_ = 0;
  int64_t stuck_points_ = 0;
  int64_t nonfinite_ = 0;
  int64_t out_of_range_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  Moments moments_;  // of the finite values, block by block
  int64_t block_n_ = 0;
  double shift_ = 0;
  double block_sum_ = 0;
  double block_sumsq_ = 0;
};

class QualityAnalytic final : public Analytic {
 public:
  explicit QualityAnalytic(QualityOptions options) : options_(options) {
    if (options_.period_ns) {
      gap_threshold_ = Period::FromNanos(*options_.period_ns, 1).GapThreshold(options_.gap_factor);
    } else if (options_.rate_hz) {
      gap_threshold_ = Period::FromRate(*options_.rate_hz).GapThreshold(options_.gap_factor);
    }
  }

  Result<Fields> Run(const TaskSpec& task, PointSource& source,
                     RunCounters* counters) const override {
    const bool period_given = options_.period_ns.has_value() || options_.rate_hz.has_value();
    QualityScan scan(options_, /*collect_intervals=*/!period_given, gap_threshold_,
                     task.key.start, task.end);
    BTRQ_RETURN_IF_ERROR(source.ReadRaw(task.key.start, task.end, task.version,
                                        [&](std::span<const RawPoint> batch) {
                                          counters->points_read +=
                                              static_cast<int64_t>(batch.size());
                                          return scan.Add(batch);
                                        }));
    return scan.Finish(task, options_);
  }

 private:
  QualityOptions options_;
  // Known only with a given period; otherwise gaps are counted after the median.
  int64_t gap_threshold_ = std::numeric_limits<int64_t>::max();
};

}  // namespace

Result<QualityOptions> ParseQualityOptions(const Fields& params) {
  ParamReader reader(kQualityName, params);
  QualityOptions options;
  BTRQ_ASSIGN_OR_RETURN(options.rate_hz, reader.Double("rate"));
  if (options.rate_hz && !(*options.rate_hz > 0 && *options.rate_hz <= 1e9)) {
    return reader.Invalid("rate", "must be in (0, 1e9] Hz");
  }
  BTRQ_ASSIGN_OR_RETURN(options.period_ns, reader.Int("period_ns"));
  if (options.period_ns && *options.period_ns <= 0) {
    return reader.Invalid("period_ns", "must be positive");
  }
  BTRQ_ASSIGN_OR_RETURN(std::optional<double> gap_factor, reader.Double("gap_factor"));
  if (gap_factor) {
    if (!(*gap_factor >= 1 && std::isfinite(*gap_factor))) {
      return reader.Invalid("gap_factor", "must be a finite number >= 1");
    }
    options.gap_factor = *gap_factor;
  }
  BTRQ_ASSIGN_OR_RETURN(options.min, reader.Double("min"));
  if (options.min && !std::isfinite(*options.min)) return reader.Invalid("min", "must be finite");
  BTRQ_ASSIGN_OR_RETURN(options.max, reader.Double("max"));
  if (options.max && !std::isfinite(*options.max)) return reader.Invalid("max", "must be finite");
  if (options.min && options.max && *options.min > *options.max) {
    return reader.Invalid("min", "must not exceed max");
  }
  BTRQ_ASSIGN_OR_RETURN(std::optional<int64_t> stuck_min, reader.Int("stuck_min"));
  if (stuck_min) {
    if (*stuck_min < 2) return reader.Invalid("stuck_min", "must be at least 2");
    options.stuck_min = *stuck_min;
  }
  BTRQ_RETURN_IF_ERROR(reader.CheckAllUsed());
  return options;
}

Result<std::unique_ptr<Analytic>> NewQuality(const Fields& params) {
  BTRQ_ASSIGN_OR_RETURN(QualityOptions options, ParseQualityOptions(params));
  return std::unique_ptr<Analytic>(std::make_unique<QualityAnalytic>(options));
}

}  // namespace btrq::analytics
