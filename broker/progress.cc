#include "broker/progress.h"

#include <utility>

namespace btrq::broker {

void RateWindow::Add(SteadyTime now, uint64_t value) {
  samples_.emplace_back(now, value);
  // Keep one sample at or before the window's start, so the rate spans the whole window.
  while (samples_.size() > 2 && samples_[1].first <= now - window_) samples_.pop_front();
}

double RateWindow::PerSecond() const {
  if (samples_.size() < 2) return 0;
  const auto& [t0, v0] = samples_.front();
  const auto& [t1, v1] = samples_.back();
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  if (seconds <= 0 || v1 < v0) return 0;
  return static_cast<double>(v1 - v0) / seconds;
}

void ProgressTracker::SampleJobs(SteadyTime now, int64_t wall_ns,
                                 const std::vector<JobInfo>& jobs) {
  std::map<JobId, RateWindow> kept;
  std::map<JobId, int64_t> started;
  for (const JobInfo& job : jobs) {
    if (auto it = started_.find(job.id); it != started_.end()) started.insert(*it);
    if (IsFinished(job.state)) continue;
    auto it = jobs_.find(job.id);
    RateWindow w = it != jobs_.end() ? std::move(it->second) : RateWindow(window_);
    w.Add(now, job.counts.done + job.counts.dead);
    kept.emplace(job.id, std::move(w));
    if (job.counts.in_flight + job.counts.done + job.counts.dead > 0) {
      started.try_emplace(job.id, wall_ns);
    }
  }
  jobs_ = std::move(kept);
  started_ = std::move(started);
}

void ProgressTracker::SampleWorker(SteadyTime now, const std::string& worker, uint64_t done) {
  workers_.try_emplace(worker, window_).first->second.Add(now, done);
}

void ProgressTracker::EndWorkerSample(SteadyTime now) {
  std::erase_if(workers_, [now](const auto& entry) { return entry.second.last_time() != now; });
}

void ProgressTracker::SampleTotal(SteadyTime now, uint64_t done_total) {
  total_.Add(now, done_total);
}

double ProgressTracker::JobTasksPerSecond(JobId job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : it->second.PerSecond();
}

double ProgressTracker::WorkerTasksPerSecond(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() ? 0 : it->second.PerSecond();
}

int64_t ProgressTracker::StartedAt(JobId job) const {
  auto it = started_.find(job);
  return it == started_.end() ? 0 : it->second;
}

double ProgressTracker::EtaSeconds(const JobInfo& job) const {
  if (IsFinished(job.state)) return 0;
  if (!job.counts.total_final) return -1;
  const double rate = JobTasksPerSecond(job.id);
  if (rate <= 0) return -1;
  return static_cast<double>(job.counts.pending + job.counts.in_flight) / rate;
}

}  // namespace btrq::broker
