#include "broker/dashboard/history.h"

namespace btrq::dashboard {

DashboardHistory::DashboardHistory(const HistoryOptions& options) : options_(options) {}

bool DashboardHistory::Sample(SteadyTime now, int64_t wall_ns, const StatsView& stats) {
  MutexLock lock(&mu_);
  if (!samples_.empty() && now - samples_.back().first < options_.min_interval) return false;
  HistorySample s;
  s.wall_ns = wall_ns;
  s.queue_depth = stats.queue_depth;
  s.in_flight = stats.in_flight;
  s.workers = stats.workers;
  s.tasks_per_second = stats.tasks_per_second;
  s.points_per_second = stats.points_per_second;
  samples_.emplace_back(now, s);
  while (!samples_.empty() && now - samples_.front().first > options_.window) {
    samples_.pop_front();
  }
  return true;
}

std::vector<HistorySample> DashboardHistory::Samples() const {
  MutexLock lock(&mu_);
  std::vector<HistorySample> out;
  out.reserve(samples_.size());
  for (const auto& [time, sample] : samples_) out.push_back(sample);
  return out;
}

}  // namespace btrq::dashboard
