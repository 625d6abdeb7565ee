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
  std::map<JobId, RateWindow> kept_points;
  std::map<JobId, int64_t> started;
  for (const JobInfo& job : jobs) {
    if (auto it = started_.find(job.id); it != started_.end()) started.insert(*it);
    if (IsFinished(job.state)) continue;
    auto it = jobs_.find(job.id);
    RateWindow w = it != jobs_.end() ? std::move(it->second) : RateWindow(window_);
    w.Add(now, job.counts.done + job.counts.dead);
    kept.emplace(job.id, std::move(w));
    auto p = job_points_.find(job.id);
    RateWindow pw = p != job_points_.end() ? std::move(p->second) : RateWindow(window_);
    pw.Add(now, job.counts.points_read);
    kept_points.emplace(job.id, std::move(pw));
    if (job.counts.in_flight + job.counts.done + job.counts.dead > 0) {
      started.try_emplace(job.id, wall_ns);
    }
  }
  jobs_ = std::move(kept);
  job_points_ = std::move(kept_points);
  started_ = std::move(started);
}

void ProgressTracker::SampleWorker(SteadyTime now, const std::string& worker, uint64_t done,
                                   uint64_t points) {
  workers_.try_emplace(worker, window_).first->second.Add(now, done);
  worker_points_.try_emplace(worker, window_).first->second.Add(now, points);
}

void ProgressTracker::EndWorkerSample(SteadyTime now) {
  const auto stale = [now](const auto& entry) { return entry.second.last_time() != now; };
  std::erase_if(workers_, stale);
  std::erase_if(worker_points_, stale);
}

void ProgressTracker::SampleTotal(SteadyTime now, uint64_t done_total, uint64_t points_total) {
  total_.Add(now, done_total);
  total_points_.Add(now, points_total);
}

double ProgressTracker::JobPointsPerSecond(JobId job) const {
  auto it = job_points_.find(job);
  return it == job_points_.end() ? 0 : it->second.PerSecond();
}

double ProgressTracker::WorkerPointsPerSecond(const std::string& worker) const {
  auto it = worker_points_.find(worker);
  return it == worker_points_.end() ? 0 : it->second.PerSecond();
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
