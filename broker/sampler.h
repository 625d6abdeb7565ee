#pragma once

// The broker's periodic picture of its Scheduler, taken on the dispatcher's loop thread
// and read from others: the metrics gauges (queue depth, in flight, workers, credit, task
// counters), the per-job btrq_queue_depth lines, the rates of ProgressTracker and the
// dashboard's DashboardSnapshot (and its history).
//
// Threads: Sample() and progress() on the loop thread only; RenderJobMetrics(),
// DashboardView() and the registered gauges from any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/dashboard/history.h"
#include "broker/dashboard/snapshot.h"
#include "broker/progress.h"
#include "broker/scheduler.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/status.h"

namespace btrq::broker {

struct SamplerOptions {
  // How often the dashboard's picture is rebuilt and, when `history` is set, sampled into
  // it. `history` is borrowed and must outlive the sampler.
  Nanos dashboard_interval = std::chrono::seconds(1);
  dashboard::DashboardHistory* history = nullptr;
  // Jobs (newest first) and dead letters in the dashboard's picture at most.
  size_t dashboard_jobs = 200;
  size_t dashboard_dead_letters = 200;
};

class Sampler {
 public:
  // Registers the broker's gauges in `registry`, read from the last sample. `clock` and
  // `registry` are borrowed and must outlive the sampler.
  static Result<std::unique_ptr<Sampler>> Create(const SamplerOptions& options, Clock* clock,
                                                 metrics::Registry* registry);
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Takes a sample of `scheduler` at `now`; rebuilds the dashboard's picture when it is
  // due. Loop thread.
  void Sample(SteadyTime now, const Scheduler& scheduler) BTRQ_EXCLUDES(snapshot_mu_);
  // The rates of the samples so far. Loop thread.
  const ProgressTracker& progress() const { return progress_; }

  // Per-job queue depth as Prometheus text (btrq_queue_depth{job_id="N"}), from the last
  // sample. Thread-safe.
  std::string RenderJobMetrics() const BTRQ_EXCLUDES(snapshot_mu_);
  // The dashboard's last picture. Thread-safe.
  dashboard::DashboardSnapshot DashboardView() const BTRQ_EXCLUDES(dashboard_mu_);

 private:
  struct Snapshot {
    std::vector<std::pair<JobId, uint64_t>> depth;  // pending tasks of live jobs
    uint64_t depth_total = 0;
    uint64_t in_flight = 0;
    uint64_t workers = 0;
    uint64_t credit = 0;
    double oldest_ready_age = 0;
    SchedulerStats stats;
  };

  Sampler(const SamplerOptions& options, Clock* clock, metrics::Registry* registry);
  Status RegisterMetrics();
  void SampleDashboard(const Scheduler& scheduler, const std::vector<JobInfo>& jobs,
                       const std::vector<WorkerInfo>& workers, const Snapshot& s)
      BTRQ_EXCLUDES(dashboard_mu_);
  // The jobs part of `d`, with their dead letters.
  void DashboardJobs(const Scheduler& scheduler, const std::vector<JobInfo>& jobs,
                     dashboard::DashboardSnapshot* d) const;

  const SamplerOptions options_;
  Clock* const clock_;
  metrics::Registry* const registry_;

  ProgressTracker progress_;     // loop thread
  SteadyTime next_dashboard_{};  // loop thread

  mutable Mutex snapshot_mu_;
  Snapshot snapshot_ BTRQ_GUARDED_BY(snapshot_mu_);

  mutable Mutex dashboard_mu_;
  dashboard::DashboardSnapshot dashboard_ BTRQ_GUARDED_BY(dashboard_mu_);
};

}  // namespace btrq::broker
