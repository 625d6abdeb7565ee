#pragma once

// A small metrics registry rendered in the Prometheus text exposition format 0.0.4.
//
// Metrics are created once (at start-up) through a Registry, which owns them and keeps
// them alive as long as itself; the returned pointers are stable. Updating a metric is
// lock-free (atomics) and safe from any thread; Render() may run concurrently with
// updates and sees each value at some recent moment.
//
//   metrics::Registry registry;
//   BTRQ_ASSIGN_OR_RETURN(metrics::Counter* bad, registry.AddCounter(
//       "btrq_bad_messages_total", "Frames dropped by the codec.", {{"reason", "limits"}}));
//   bad->Inc();
//   std::string text = registry.Render();

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace btrq::metrics {

// Label names and values, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value.
class Counter {
 public:
  // REQUIRES: v >= 0 (negative increments are ignored).
  void Inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1);
  void Dec(double v = 1) { Inc(-v); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets: bucket i holds values <= bounds[i]; rendered
// cumulatively with a final le="+Inf", plus _sum and _count.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing and finite (Registry checks this).
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative counts, bounds().size() + 1 of them (the last is the +Inf bucket).
  std::vector<uint64_t> BucketCounts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// `count` bounds start, start*factor, ... REQUIRES: start > 0, factor > 1, count >= 1.
std::vector<double> ExponentialBuckets(double start, double factor, size_t count);
// `count` bounds start, start+width, ... REQUIRES: width > 0, count >= 1.
std::vector<double> LinearBuckets(double start, double width, size_t count);

// Owns metrics grouped in families (one name, HELP and TYPE; one series per label set).
// Thread-safe.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* returns the series of that name and label set, creating it (and its family)
  // when new; asking again returns the same pointer. Errors (InvalidArgument): a name or
  // label name that Prometheus does not allow, a label named "le" on a histogram, a name
  // already used by a family of another type, or a histogram whose bounds are not
  // strictly increasing or differ from its family's.
  Result<Counter*> AddCounter(std::string_view name, std::string_view help,
                              const Labels& labels = {});
  Result<Gauge*> AddGauge(std::string_view name, std::string_view help,
                          const Labels& labels = {});
  Result<Histogram*> AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> bounds, const Labels& labels = {});
  // A gauge or counter whose value `fn` computes at render time, under the registry's
  // lock (so `fn` must not call back into this registry). `fn` must be thread-safe.
  // Registering the same name and labels again replaces `fn`.
  Status AddCallbackGauge(std::string_view name, std::string_view help, const Labels& labels,
                          std::function<double()> fn);
  Status AddCallbackCounter(std::string_view name, std::string_view help, const Labels& labels,
                            std::function<double()> fn);

  // Every family in registration order, its series in registration order.
  std::string Render() const;

 private:
  struct Family;
  struct Series;

  // REQUIRES: mu_ held. Finds or creates the family and the series for `labels`.
  Result<Series*> FindOrAdd(std::string_view name, std::string_view help, int type,
                            const Labels& labels, const std::vector<double>* bounds)
      BTRQ_REQUIRES(mu_);

  mutable Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ BTRQ_GUARDED_BY(mu_);
};

// Formats a sample value as Prometheus does: shortest round-trip decimal, "+Inf", "-Inf",
// "NaN".
std::string FormatValue(double v);
// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view v);

}  // namespace btrq::metrics
