#pragma once

// Recent rates for the control API: tasks finished and raw points read per second, per
// job, per worker and overall, over a sliding window of samples the dispatcher takes of
// monotonic counters (a job's done + dead and points_read, a worker's DONE count and
// points). Also remembers when each job was first
// seen dispatching (in this process). Pure: callers pass times. Not thread-safe; the
// dispatcher's thread owns it.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "broker/job.h"
#include "common/clock.h"

namespace btrq::broker {

// A counter's rate over the samples inside a window.
class RateWindow {
 public:
  explicit RateWindow(Nanos window) : window_(window) {}
  void Add(SteadyTime now, uint64_t value);
  // (newest - oldest) / elapsed over the samples kept; 0 with fewer than two samples or
  // no elapsed time, and 0 when the counter went backwards (a restart).
  double PerSecond() const;
  SteadyTime last_time() const { return samples_.empty() ? SteadyTime{} : samples_.back().first; }

 private:
  Nanos window_;
  std::deque<std::pair<SteadyTime, uint64_t>> samples_;
};

class ProgressTracker {
 public:
  explicit ProgressTracker(Nanos window = std::chrono::seconds(10)) : window_(window) {}

  // One sample of every job and worker known now; keys absent from a sample are dropped.
  void SampleJobs(SteadyTime now, int64_t wall_ns, const std::vector<JobInfo>& jobs);
  void SampleWorker(SteadyTime now, const std::string& worker, uint64_t done,
                    uint64_t points = 0);
  // Forgets workers not sampled at `now`.
  void EndWorkerSample(SteadyTime now);
  void SampleTotal(SteadyTime now, uint64_t done_total, uint64_t points_total = 0);

  double JobTasksPerSecond(JobId job) const;
  double WorkerTasksPerSecond(const std::string& worker) const;
  double TotalTasksPerSecond() const { return total_.PerSecond(); }
  double JobPointsPerSecond(JobId job) const;
  double WorkerPointsPerSecond(const std::string& worker) const;
  double TotalPointsPerSecond() const { return total_points_.PerSecond(); }
  // Wall ns when the job was first sampled with work dispatched or done; 0 if never.
  int64_t StartedAt(JobId job) const;

  // Seconds until the job's remaining tasks are done at its recent rate; -1 when unknown
  // (expansion not final, or no recent progress); 0 when finished.
  double EtaSeconds(const JobInfo& job) const;

 private:
  Nanos window_;
  std::map<JobId, RateWindow> jobs_;
  std::map<JobId, RateWindow> job_points_;
  std::map<JobId, int64_t> started_;
  std::map<std::string, RateWindow> workers_;
  std::map<std::string, RateWindow> worker_points_;
  RateWindow total_{window_};
  RateWindow total_points_{window_};
};

}  // namespace btrq::broker
