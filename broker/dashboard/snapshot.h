#pragma once

// What the dashboard shows: plain copies of the control API's Job, JobCounts, BrokerStats,
// Worker and DeadLetter messages (proto/btrq/v1/control.proto), filled by the broker and
// serialised here to the JSON of /api/snapshot. No protobuf and no broker types, so the
// dashboard builds and tests on its own.

#include <cstdint>
#include <string>
#include <vector>

#include "common/ids.h"

namespace btrq::dashboard {

struct JobCountsView {
  uint64_t total = 0;        // tasks known so far
  bool total_final = false;  // expansion finished: total will not grow
  uint64_t pending = 0;
  uint64_t in_flight = 0;
  uint64_t done = 0;
  uint64_t retried = 0;
  uint64_t dead = 0;
  uint64_t cancelled = 0;
  uint64_t streams = 0;
  uint64_t points_read = 0;
};

struct JobView {
  JobId id = 0;
  std::string name;        // JobSpec.name
  std::string analytic;    // JobSpec.analytic
  std::string collection;  // JobSpec.collection
  int32_t priority = 0;
  // Lower-case state name as broker::JobStateName prints it: "queued", "expanding",
  // "running", "done", "done_with_failures", "cancelled", "failed".
  std::string state;
  JobCountsView counts;
  std::string error;            // why the job failed, when it did
  int64_t submitted_at_ns = 0;  // wall-clock ns; 0 when unknown
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  double tasks_per_second = 0;  // recent rate
  double points_per_second = 0;
  double eta_seconds = -1;  // -1 when unknown
};

struct WorkerView {
  std::string id;
  std::string host;
  int64_t pid = 0;
  uint32_t threads = 0;
  std::vector<std::string> analytics;
  uint32_t credit = 0;
  uint32_t in_flight = 0;
  uint64_t tasks_done = 0;
  double tasks_per_second = 0;
  double points_per_second = 0;
  int64_t last_heartbeat_ns = 0;  // wall-clock ns; 0 when never
  bool draining = false;
};

struct JobDepthView {
  JobId job_id = 0;
  uint64_t queue_depth = 0;
};

struct StatsView {
  uint64_t queue_depth = 0;
  uint64_t in_flight = 0;
  uint64_t workers = 0;
  uint64_t credit_outstanding = 0;
  double tasks_per_second = 0;
  double points_per_second = 0;
  double oldest_ready_age_seconds = 0;
  std::vector<JobDepthView> jobs;
  uint64_t tasks_done_total = 0;
  uint64_t tasks_retried_total = 0;
  uint64_t tasks_dead_total = 0;
};

struct DeadLetterView {
  TaskKey key;           // job, stream, chunk start (ns)
  int64_t end = 0;       // chunk end (ns, exclusive)
  uint32_t attempt = 0;  // the attempt that failed last
  std::string error;
};

// One consistent picture of the broker. `dead` holds recent dead letters of any job (the
// page filters by the selected job); the broker bounds its length.
struct DashboardSnapshot {
  std::vector<JobView> jobs;
  std::vector<WorkerView> workers;
  StatsView stats;
  std::vector<DeadLetterView> dead;
};

}  // namespace btrq::dashboard
