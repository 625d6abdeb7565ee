#include "broker/sampler.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace btrq::broker {

Sampler::Sampler(const SamplerOptions& options, Clock* clock, metrics::Registry* registry)
    : options_(options), clock_(clock), registry_(registry) {}

Result<std::unique_ptr<Sampler>> Sampler::Create(const SamplerOptions& options, Clock* clock,
                                                 metrics::Registry* registry) {
  std::unique_ptr<Sampler> sampler(new Sampler(options, clock, registry));
  BTRQ_RETURN_IF_ERROR(sampler->RegisterMetrics());
  return sampler;
}

Status Sampler::RegisterMetrics() {
  const auto gauge = [this](std::string_view name, std::string_view help,
                            std::function<double(const Snapshot&)> read) {
    return registry_->AddCallbackGauge(name, help, {}, [this, read = std::move(read)] {
      MutexLock lock(&snapshot_mu_);
      return read(snapshot_);
    });
  };
  BTRQ_RETURN_IF_ERROR(gauge("btrq_queue_depth_all",
                             "Tasks not yet done nor in flight, over all live jobs.",
                             [](const Snapshot& s) { return double(s.depth_total); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_tasks_inflight", "Tasks leased to workers.",
                             [](const Snapshot& s) { return double(s.in_flight); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_workers", "Workers connected (said HELLO, not dead).",
                             [](const Snapshot& s) { return double(s.workers); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_credit_outstanding",
                             "Tasks workers may still be sent (their unused credit).",
                             [](const Snapshot& s) { return double(s.credit); }));
  BTRQ_RETURN_IF_ERROR(gauge("btrq_oldest_ready_task_age_seconds",
                             "How long the longest-waiting ready task has waited.",
                             [](const Snapshot& s) { return s.oldest_ready_age; }));
  const auto tasks = [this](std::string status, std::function<double(const SchedulerStats&)> read) {
    return registry_->AddCallbackCounter(
        "btrq_tasks_total", "Task events since the broker started, by status.",
        {{"status", std::move(status)}}, [this, read = std::move(read)] {
          MutexLock lock(&snapshot_mu_);
          return read(snapshot_.stats);
        });
  };
  BTRQ_RETURN_IF_ERROR(tasks("dispatched", [](const SchedulerStats& s) { return double(s.dispatched_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("done", [](const SchedulerStats& s) { return double(s.done_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("dead", [](const SchedulerStats& s) { return double(s.dead_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("retried", [](const SchedulerStats& s) { return double(s.retried_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("expired", [](const SchedulerStats& s) { return double(s.expired_total); }));
  // Requeues that spent no attempt, and late DONEs that ended their task (scheduler.h).
  BTRQ_RETURN_IF_ERROR(tasks("handed_back", [](const SchedulerStats& s) { return double(s.handed_back_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("unacked_rerun", [](const SchedulerStats& s) { return double(s.unacked_rerun_total); }));
  BTRQ_RETURN_IF_ERROR(tasks("late_done", [](const SchedulerStats& s) { return double(s.late_done_total); }));
  BTRQ_RETURN_IF_ERROR(registry_->AddCallbackCounter(
      "btrq_points_total", "Raw points read by the tasks workers reported, since start.", {},
      [this] {
        MutexLock lock(&snapshot_mu_);
        return double(snapshot_.stats.points_total);
      }));
  return Status::OK();
}

void Sampler::Sample(SteadyTime now, const Scheduler& scheduler) {
  Snapshot s;
  s.stats = scheduler.Stats();
  const std::vector<JobInfo> jobs = scheduler.ListJobs();
  const std::vector<WorkerInfo> workers = scheduler.Workers();
  for (const JobInfo& job : jobs) {
    if (IsFinished(job.state)) continue;
    s.depth.emplace_back(job.id, job.counts.pending);
    s.depth_total += job.counts.pending;
  }
  s.in_flight = s.stats.in_flight;
  s.workers = workers.size();
  for (const WorkerInfo& w : workers) {
    s.credit += w.draining ? 0 : w.credit;
    progress_.SampleWorker(now, w.id, w.done, w.points_read);
  }
  progress_.EndWorkerSample(now);
  s.oldest_ready_age = std::chrono::duration<double>(s.stats.oldest_ready_age).count();
  progress_.SampleJobs(now, clock_->WallNanos(), jobs);
  progress_.SampleTotal(now, s.stats.done_total + s.stats.dead_total, s.stats.points_total);
  if (now >= next_dashboard_) {
    SampleDashboard(scheduler, jobs, workers, s);
    next_dashboard_ = now + options_.dashboard_interval;
  }
  MutexLock lock(&snapshot_mu_);
  snapshot_ = std::move(s);
}

void Sampler::SampleDashboard(const Scheduler& scheduler, const std::vector<JobInfo>& jobs,
                              const std::vector<WorkerInfo>& workers, const Snapshot& s) {
  const SteadyTime now = clock_->Now();
  const int64_t wall_now = clock_->WallNanos();
  dashboard::DashboardSnapshot d;
  dashboard::StatsView& stats = d.stats;
  stats.queue_depth = s.depth_total;
  stats.in_flight = s.in_flight;
  stats.workers = s.workers;
  stats.credit_outstanding = s.credit;
  stats.tasks_per_second = progress_.TotalTasksPerSecond();
  stats.points_per_second = progress_.TotalPointsPerSecond();
  stats.oldest_ready_age_seconds = s.oldest_ready_age;
  for (const auto& [job, depth] : s.depth) stats.jobs.push_back({job, depth});
  stats.tasks_done_total = s.stats.done_total;
  stats.tasks_retried_total = s.stats.retried_total;
  stats.tasks_dead_total = s.stats.dead_total;
  DashboardJobs(scheduler, jobs, &d);
  for (const WorkerInfo& w : workers) {
    dashboard::WorkerView& v = d.workers.emplace_back();
    v.id = w.id;
    v.host = w.host;
    v.pid = w.pid;
    v.threads = w.threads;
    v.analytics = w.analytics;
    v.credit = static_cast<uint32_t>(std::min<uint64_t>(w.credit, UINT32_MAX));
    v.in_flight = static_cast<uint32_t>(std::min<uint64_t>(w.in_flight, UINT32_MAX));
    v.tasks_done = w.done;
    v.tasks_per_second = progress_.WorkerTasksPerSecond(w.id);
    v.points_per_second = progress_.WorkerPointsPerSecond(w.id);
    v.last_heartbeat_ns = wall_now - std::chrono::duration_cast<Nanos>(now - w.last_seen).count();
    v.draining = w.draining;
  }
  if (options_.history != nullptr) options_.history->Sample(now, wall_now, stats);
  MutexLock lock(&dashboard_mu_);
  dashboard_ = std::move(d);
}

void Sampler::DashboardJobs(const Scheduler& scheduler, const std::vector<JobInfo>& jobs,
                            dashboard::DashboardSnapshot* d) const {
  // The newest jobs, shown oldest first as ListJobs orders them.
  const size_t first =
      jobs.size() > options_.dashboard_jobs ? jobs.size() - options_.dashboard_jobs : 0;
  for (size_t i = first; i < jobs.size(); ++i) {
    const JobInfo& job = jobs[i];
    dashboard::JobView& v = d->jobs.emplace_back();
    v.id = job.id;
    v.name = job.spec.name;
    v.analytic = job.spec.analytic;
    v.collection = job.spec.collection;
    v.priority = job.spec.priority;
    v.state = std::string(JobStateName(job.state));
    const JobCounts& c = job.counts;
    v.counts = {c.total,     c.total_final, c.pending,   c.in_flight, c.done,
                c.retried,   c.dead,        c.cancelled, c.streams,   c.points_read};
    v.error = job.error;
    v.submitted_at_ns = job.submitted_wall_ns;
    v.started_at_ns = progress_.StartedAt(job.id);
    v.finished_at_ns = job.finished_wall_ns;
    const bool finished = IsFinished(job.state);
    v.tasks_per_second = finished ? 0 : progress_.JobTasksPerSecond(job.id);
    v.points_per_second = finished ? 0 : progress_.JobPointsPerSecond(job.id);
    v.eta_seconds = progress_.EtaSeconds(job);
    if (c.dead > 0 && d->dead.size() < options_.dashboard_dead_letters) {
      auto dead = scheduler.DeadLetters(job.id);
      if (!dead.ok()) continue;
      for (const DeadLetter& letter : *dead) {
        if (d->dead.size() >= options_.dashboard_dead_letters) break;
        d->dead.push_back({letter.key, letter.key.start + job.spec.chunk, letter.attempt,
                           letter.error});
      }
    }
  }
}

dashboard::DashboardSnapshot Sampler::DashboardView() const {
  MutexLock lock(&dashboard_mu_);
  return dashboard_;
}

std::string Sampler::RenderJobMetrics() const {
  std::string out =
      "# HELP btrq_queue_depth Tasks of a live job not yet done nor in flight.\n"
      "# TYPE btrq_queue_depth gauge\n";
  MutexLock lock(&snapshot_mu_);
  for (const auto& [job, depth] : snapshot_.depth) {
    out += "btrq_queue_depth{job_id=\"" + std::to_string(job) + "\"} " + std::to_string(depth) + "\n";
  }
  return out;
}

}  // namespace btrq::broker
