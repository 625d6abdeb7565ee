#pragma once

// The recent past of the broker's headline figures, so the dashboard's charts have data
// from before anyone opened the page. The broker calls Sample() once a second from its
// loop; the dashboard also samples whenever /api/snapshot is served. Samples closer than
// `min_interval` to the previous one are dropped, so the two sources never double up.
// Thread-safe.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "broker/dashboard/snapshot.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace btrq::dashboard {

struct HistoryOptions {
  // Samples older than this (relative to the newest) are forgotten.
  Nanos window = std::chrono::minutes(10);
  // A sample less than this after the previous one is ignored. A little under the
  // broker's 1 s cadence, so timer jitter does not skip a beat.
  Nanos min_interval = std::chrono::milliseconds(900);
  // The cadence the broker samples at; the page draws a gap where samples are missing.
  Nanos interval = std::chrono::seconds(1);
};

struct HistorySample {
  int64_t wall_ns = 0;
  uint64_t queue_depth = 0;
  uint64_t in_flight = 0;
  uint64_t workers = 0;
  double tasks_per_second = 0;
  double points_per_second = 0;
};

class DashboardHistory {
 public:
  explicit DashboardHistory(const HistoryOptions& options = {});
  DashboardHistory(const DashboardHistory&) = delete;
  DashboardHistory& operator=(const DashboardHistory&) = delete;

  // Records `stats` taken at steady time `now` (wall-clock `wall_ns`, for display).
  // Returns false when dropped: within min_interval of the previous sample, or `now` is
  // earlier than it.
  bool Sample(SteadyTime now, int64_t wall_ns, const StatsView& stats) BTRQ_EXCLUDES(mu_);

  // Oldest first.
  std::vector<HistorySample> Samples() const BTRQ_EXCLUDES(mu_);

  const HistoryOptions& options() const { return options_; }

 private:
  const HistoryOptions options_;
  mutable Mutex mu_;
  std::deque<std::pair<SteadyTime, HistorySample>> samples_ BTRQ_GUARDED_BY(mu_);
};

}  // namespace btrq::dashboard
