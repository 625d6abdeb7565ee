#pragma once

// The broker's web dashboard: a single page (embedded HTML/CSS/JS, no network needed) that
// polls two JSON endpoints once a second and draws queue depth and throughput charts, the
// jobs with progress bars, the workers and the dead-lettered tasks.
//
//   GET /                 the page (index.html)
//   GET /static/<file>    embedded assets (app.js, style.css) with their Content-Type
//   GET /api/snapshot     SnapshotToJson(snapshot(), clock->WallNanos())
//   GET /api/history      HistoryToJson(history->Samples(), ...)
//
// Wiring in the broker (the HTTP server that also serves /metrics):
//
//   dashboard::DashboardHistory history;                      // outlives the server
//   dashboard::RegisterDashboard(*http_, [this] { return TakeSnapshot(); }, &history, clock);
//   ... and once a second in the broker's loop:
//   history.Sample(clock->Now(), clock->WallNanos(), stats);
//
// /api/snapshot also feeds the history, so the charts move even if the loop never samples.

#include <functional>
#include <string>
#include <vector>

#include "broker/dashboard/history.h"
#include "broker/dashboard/snapshot.h"
#include "common/clock.h"

namespace httplib {
class Server;
}

namespace btrq::dashboard {

// Adds the dashboard's routes to `server` (before it listens). `snapshot` runs on the
// server's request threads, possibly several at once, so it must be thread-safe; it is
// called once per /api/snapshot request. `history` and `clock` must outlive the server.
void RegisterDashboard(httplib::Server& server, std::function<DashboardSnapshot()> snapshot,
                       DashboardHistory* history, const Clock* clock);

// The JSON of /api/snapshot (field names follow control.proto; wall-clock times in ms since
// the epoch, null when unknown; 64-bit task times in ns as decimal strings, which JavaScript
// numbers cannot hold exactly):
//
// {"now_ms": 1700000000000,
//  "stats": {"queue_depth", "in_flight", "workers", "credit_outstanding", "tasks_per_second",
//            "points_per_second", "oldest_ready_age_seconds", "tasks_done_total",
//            "tasks_retried_total", "tasks_dead_total", "jobs": [{"job_id", "queue_depth"}]},
//  "jobs": [{"id", "name", "analytic", "collection", "priority", "state", "error",
//            "counts": {"total", "total_final", "pending", "in_flight", "done", "retried",
//                       "dead", "cancelled", "streams", "points_read"},
//            "submitted_at_ms", "started_at_ms", "finished_at_ms", "tasks_per_second",
//            "points_per_second", "eta_seconds" (null when unknown)}],
//  "workers": [{"id", "host", "pid", "threads", "analytics": [..], "credit", "in_flight",
//               "tasks_done", "tasks_per_second", "points_per_second", "last_heartbeat_ms",
//               "heartbeat_age_seconds", "draining"}],
//  "dead": [{"job_id", "stream", "start", "end", "attempt", "error"}]}
// `now_wall_ns` is the broker's wall clock, from which heartbeat ages are computed.
std::string SnapshotToJson(const DashboardSnapshot& snapshot, int64_t now_wall_ns);

// The JSON of /api/history: {"window_seconds", "interval_seconds", "now_ms", "samples":
// [{"t_ms", "queue_depth", "in_flight", "workers", "tasks_per_second",
// "points_per_second"}, ...]} oldest first.
std::string HistoryToJson(const std::vector<HistorySample>& samples,
                          const HistoryOptions& options, int64_t now_wall_ns);

}  // namespace btrq::dashboard
