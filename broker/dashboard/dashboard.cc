#include "broker/dashboard/dashboard.h"

#include <string>
#include <utility>

#include <httplib.h>

#include "broker/dashboard/assets.h"
#include "common/json_writer.h"

namespace btrq::dashboard {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

// Milliseconds since the epoch, or null for 0 ("unknown").
void WallMillis(JsonWriter& w, int64_t wall_ns) {
  if (wall_ns == 0) {
    w.Null();
  } else {
    w.Int(wall_ns / kNanosPerMilli);
  }
}

void WriteStats(JsonWriter& w, const StatsView& s) {
  w.BeginObject();
  w.Key("queue_depth").Uint(s.queue_depth);
  w.Key("in_flight").Uint(s.in_flight);
  w.Key("workers").Uint(s.workers);
  w.Key("credit_outstanding").Uint(s.credit_outstanding);
  w.Key("tasks_per_second").Double(s.tasks_per_second);
  w.Key("points_per_second").Double(s.points_per_second);
  w.Key("oldest_ready_age_seconds").Double(s.oldest_ready_age_seconds);
  w.Key("tasks_done_total").Uint(s.tasks_done_total);
  w.Key("tasks_retried_total").Uint(s.tasks_retried_total);
  w.Key("tasks_dead_total").Uint(s.tasks_dead_total);
  w.Key("jobs").BeginArray();
  for (const JobDepthView& d : s.jobs) {
    w.BeginObject().Key("job_id").Uint(d.job_id).Key("queue_depth").Uint(d.queue_depth);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteJob(JsonWriter& w, const JobView& j) {
  w.BeginObject();
  w.Key("id").Uint(j.id);
  w.Key("name").String(j.name);
  w.Key("analytic").String(j.analytic);
  w.Key("collection").String(j.collection);
  w.Key("priority").Int(j.priority);
  w.Key("state").String(j.state);
  w.Key("error").String(j.error);
  const JobCountsView& c = j.counts;
  w.Key("counts").BeginObject();
  w.Key("total").Uint(c.total);
  w.Key("total_final").Bool(c.total_final);
  w.Key("pending").Uint(c.pending);
  w.Key("in_flight").Uint(c.in_flight);
  w.Key("done").Uint(c.done);
  w.Key("retried").Uint(c.retried);
  w.Key("dead").Uint(c.dead);
  w.Key("cancelled").Uint(c.cancelled);
  w.Key("streams").Uint(c.streams);
  w.Key("points_read").Uint(c.points_read);
  w.EndObject();
  w.Key("submitted_at_ms");
  WallMillis(w, j.submitted_at_ns);
  w.Key("started_at_ms");
  WallMillis(w, j.started_at_ns);
  w.Key("finished_at_ms");
  WallMillis(w, j.finished_at_ns);
  w.Key("tasks_per_second").Double(j.tasks_per_second);
  w.Key("points_per_second").Double(j.points_per_second);
  w.Key("eta_seconds");
  if (j.eta_seconds < 0) {
    w.Null();
  } else {
    w.Double(j.eta_seconds);
  }
  w.EndObject();
}

void WriteWorker(JsonWriter& w, const WorkerView& k, int64_t now_wall_ns) {
  w.BeginObject();
  w.Key("id").String(k.id);
  w.Key("host").String(k.host);
  w.Key("pid").Int(k.pid);
  w.Key("threads").Uint(k.threads);
  w.Key("analytics").BeginArray();
  for (const std::string& a : k.analytics) w.String(a);
  w.EndArray();
  w.Key("credit").Uint(k.credit);
  w.Key("in_flight").Uint(k.in_flight);
  w.Key("tasks_done").Uint(k.tasks_done);
  w.Key("tasks_per_second").Double(k.tasks_per_second);
  w.Key("points_per_second").Double(k.points_per_second);
  w.Key("last_heartbeat_ms");
  WallMillis(w, k.last_heartbeat_ns);
  w.Key("heartbeat_age_seconds");
  if (k.last_heartbeat_ns == 0) {
    w.Null();
  } else {
    // A heartbeat stamped a little after `now` (clock steps) reads as age 0.
    const int64_t age_ns =
        now_wall_ns > k.last_heartbeat_ns ? now_wall_ns - k.last_heartbeat_ns : 0;
    w.Double(static_cast<double>(age_ns) / 1e9);
  }
  w.Key("draining").Bool(k.draining);
  w.EndObject();
}

void WriteDeadLetter(JsonWriter& w, const DeadLetterView& d) {
  w.BeginObject();
  w.Key("job_id").Uint(d.key.job);
  w.Key("stream").String(d.key.stream.ToString());
  w.Key("start").String(std::to_string(d.key.start));
  w.Key("end").String(std::to_string(d.end));
  w.Key("attempt").Uint(d.attempt);
  w.Key("error").String(d.error);
  w.EndObject();
}

// Headers every dashboard response carries: nothing is fetched from elsewhere, nothing
// embeds the page, nothing sniffs types.
void SetCommonHeaders(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'none'");
}

void ServeAsset(const Asset& asset, httplib::Response& res) {
  SetCommonHeaders(res);
  // Assets change only with the binary; revalidation is cheap on a local server.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(asset.data), std::string(asset.content_type));
}

void ServeJson(std::string body, httplib::Response& res) {
  SetCommonHeaders(res);
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(body), "application/json");
}

}  // namespace

std::string SnapshotToJson(const DashboardSnapshot& snapshot, int64_t now_wall_ns) {
  JsonWriter w;
  w.BeginObject();
  w.Key("now_ms").Int(now_wall_ns / kNanosPerMilli);
  w.Key("stats");
  WriteStats(w, snapshot.stats);
  w.Key("jobs").BeginArray();
  for (const JobView& j : snapshot.jobs) WriteJob(w, j);
  w.EndArray();
  w.Key("workers").BeginArray();
  for (const WorkerView& k : snapshot.workers) WriteWorker(w, k, now_wall_ns);
  w.EndArray();
  w.Key("dead").BeginArray();
  for (const DeadLetterView& d : snapshot.dead) WriteDeadLetter(w, d);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

std::string HistoryToJson(const std::vector<HistorySample>& samples,
                          const HistoryOptions& options, int64_t now_wall_ns) {
  JsonWriter w;
  w.BeginObject();
  w.Key("window_seconds").Double(std::chrono::duration<double>(options.window).count());
  w.Key("interval_seconds").Double(std::chrono::duration<double>(options.interval).count());
  w.Key("now_ms").Int(now_wall_ns / kNanosPerMilli);
  w.Key("samples").BeginArray();
  for (const HistorySample& s : samples) {
    w.BeginObject();
    w.Key("t_ms").Int(s.wall_ns / kNanosPerMilli);
    w.Key("queue_depth").Uint(s.queue_depth);
    w.Key("in_flight").Uint(s.in_flight);
    w.Key("workers").Uint(s.workers);
    w.Key("tasks_per_second").Double(s.tasks_per_second);
    w.Key("points_per_second").Double(s.points_per_second);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

void RegisterDashboard(httplib::Server& server, std::function<DashboardSnapshot()> snapshot,
                       DashboardHistory* history, const Clock* clock) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    ServeAsset(*FindAsset("index.html"), res);
  });
  server.Get(R"(/static/([A-Za-z0-9_.-]+))",
             [](const httplib::Request& req, httplib::Response& res) {
               const Asset* asset = FindAsset(req.matches[1].str());
               if (asset == nullptr) {
                 res.status = 404;
                 res.set_content("no such file\n", "text/plain; charset=utf-8");
                 return;
               }
               ServeAsset(*asset, res);
             });
  server.Get("/api/snapshot", [snapshot = std::move(snapshot), history, clock](
                                  const httplib::Request&, httplib::Response& res) {
    const DashboardSnapshot snap = snapshot();
    history->Sample(clock->Now(), clock->WallNanos(), snap.stats);
    ServeJson(SnapshotToJson(snap, clock->WallNanos()), res);
  });
  server.Get("/api/history", [history, clock](const httplib::Request&, httplib::Response& res) {
    ServeJson(HistoryToJson(history->Samples(), history->options(), clock->WallNanos()), res);
  });
}

}  // namespace btrq::dashboard
