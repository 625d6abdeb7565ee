#include <limits>

#include <gtest/gtest.h>

#include "broker/dashboard/dashboard.h"
#include "tests/support/json.h"
#include "tests/support/status_matchers.h"

namespace btrq::dashboard {
namespace {

using ::btrq::testing::Json;

constexpr int64_t kNow = 1'700'000'000'000'000'000;  // wall ns

DashboardSnapshot OneOfEach() {
  DashboardSnapshot s;
  JobView job;
  job.id = 7;
  job.name = "nightly \"stats\"";
  job.analytic = "mean";
  job.collection = "sensors/";
  job.priority = -2;
  job.state = "running";
  job.counts = {.total = 100, .total_final = true, .pending = 50, .in_flight = 4, .done = 40,
                .retried = 3, .dead = 6, .cancelled = 0, .streams = 10, .points_read = 123456789};
  job.submitted_at_ns = kNow - 60'000'000'000;
  job.started_at_ns = kNow - 59'500'000'000;
  job.tasks_per_second = 2.5;
  job.points_per_second = 1e6;
  job.eta_seconds = 22;
  s.jobs.push_back(job);

  WorkerView worker;
  worker.id = "host-a:17:ab12";
  worker.host = "host-a";
  worker.pid = 17;
  worker.threads = 8;
  worker.analytics = {"mean", "minmax"};
  worker.credit = 16;
  worker.in_flight = 4;
  worker.tasks_done = 40;
  worker.tasks_per_second = 2.5;
  worker.points_per_second = 1e6;
  worker.last_heartbeat_ns = kNow - 1'500'000'000;
  s.workers.push_back(worker);

  s.stats.queue_depth = 50;
  s.stats.in_flight = 4;
  s.stats.workers = 1;
  s.stats.credit_outstanding = 12;
  s.stats.tasks_per_second = 2.5;
  s.stats.points_per_second = 1e6;
  s.stats.oldest_ready_age_seconds = 0.25;
  s.stats.jobs.push_back({.job_id = 7, .queue_depth = 50});
  s.stats.tasks_done_total = 40;
  s.stats.tasks_retried_total = 3;
  s.stats.tasks_dead_total = 6;

  DeadLetterView dead;
  dead.key.job = 7;
  dead.key.stream = Uuid::Parse("0f3c1a2b-0000-4000-8000-00000000abcd").value();
  dead.key.start = 1'699'999'999'999'999'999;  // more digits than a double holds
  dead.end = -5;
  dead.attempt = 3;
  dead.error = "analytic failed:\nstddev of nothing";
  s.dead.push_back(dead);
  return s;
}

TEST(SnapshotToJson, CarriesEveryFieldOfTheControlApi) {
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(SnapshotToJson(OneOfEach(), kNow)));
  EXPECT_EQ(doc["now_ms"].AsNumber(), 1'700'000'000'000);

  const Json& stats = doc["stats"];
  EXPECT_EQ(stats["queue_depth"].AsNumber(), 50);
  EXPECT_EQ(stats["in_flight"].AsNumber(), 4);
  EXPECT_EQ(stats["workers"].AsNumber(), 1);
  EXPECT_EQ(stats["credit_outstanding"].AsNumber(), 12);
  EXPECT_EQ(stats["tasks_per_second"].AsNumber(), 2.5);
  EXPECT_EQ(stats["points_per_second"].AsNumber(), 1e6);
  EXPECT_EQ(stats["oldest_ready_age_seconds"].AsNumber(), 0.25);
  EXPECT_EQ(stats["tasks_done_total"].AsNumber(), 40);
  EXPECT_EQ(stats["tasks_retried_total"].AsNumber(), 3);
  EXPECT_EQ(stats["tasks_dead_total"].AsNumber(), 6);
  ASSERT_EQ(stats["jobs"].size(), 1u);
  EXPECT_EQ(stats["jobs"][0]["job_id"].AsNumber(), 7);
  EXPECT_EQ(stats["jobs"][0]["queue_depth"].AsNumber(), 50);

  ASSERT_EQ(doc["jobs"].size(), 1u);
  const Json& job = doc["jobs"][0];
  EXPECT_EQ(job["id"].AsNumber(), 7);
  EXPECT_EQ(job["name"].AsString(), "nightly \"stats\"");
  EXPECT_EQ(job["analytic"].AsString(), "mean");
  EXPECT_EQ(job["collection"].AsString(), "sensors/");
  EXPECT_EQ(job["priority"].AsNumber(), -2);
  EXPECT_EQ(job["state"].AsString(), "running");
  EXPECT_EQ(job["error"].AsString(), "");
  const Json& counts = job["counts"];
  EXPECT_EQ(counts["total"].AsNumber(), 100);
  EXPECT_TRUE(counts["total_final"].AsBool());
  EXPECT_EQ(counts["pending"].AsNumber(), 50);
  EXPECT_EQ(counts["in_flight"].AsNumber(), 4);
  EXPECT_EQ(counts["done"].AsNumber(), 40);
  EXPECT_EQ(counts["retried"].AsNumber(), 3);
  EXPECT_EQ(counts["dead"].AsNumber(), 6);
  EXPECT_EQ(counts["cancelled"].AsNumber(), 0);
  EXPECT_EQ(counts["streams"].AsNumber(), 10);
  EXPECT_EQ(counts["points_read"].AsNumber(), 123456789);
  EXPECT_EQ(job["submitted_at_ms"].AsNumber(), 1'700'000'000'000 - 60'000);
  EXPECT_EQ(job["started_at_ms"].AsNumber(), 1'700'000'000'000 - 59'500);
  EXPECT_TRUE(job["finished_at_ms"].is_null());
  EXPECT_EQ(job["tasks_per_second"].AsNumber(), 2.5);
  EXPECT_EQ(job["points_per_second"].AsNumber(), 1e6);
  EXPECT_EQ(job["eta_seconds"].AsNumber(), 22);

  ASSERT_EQ(doc["workers"].size(), 1u);
  const Json& worker = doc["workers"][0];
  EXPECT_EQ(worker["id"].AsString(), "host-a:17:ab12");
  EXPECT_EQ(worker["host"].AsString(), "host-a");
  EXPECT_EQ(worker["pid"].AsNumber(), 17);
  EXPECT_EQ(worker["threads"].AsNumber(), 8);
  ASSERT_EQ(worker["analytics"].size(), 2u);
  EXPECT_EQ(worker["analytics"][1].AsString(), "minmax");
  EXPECT_EQ(worker["credit"].AsNumber(), 16);
  EXPECT_EQ(worker["in_flight"].AsNumber(), 4);
  EXPECT_EQ(worker["tasks_done"].AsNumber(), 40);
  EXPECT_EQ(worker["tasks_per_second"].AsNumber(), 2.5);
  EXPECT_EQ(worker["points_per_second"].AsNumber(), 1e6);
  EXPECT_EQ(worker["last_heartbeat_ms"].AsNumber(), 1'700'000'000'000 - 1'500);
  EXPECT_EQ(worker["heartbeat_age_seconds"].AsNumber(), 1.5);
  EXPECT_FALSE(worker["draining"].AsBool());
  EXPECT_TRUE(worker["draining"].is_bool());

  ASSERT_EQ(doc["dead"].size(), 1u);
  const Json& dead = doc["dead"][0];
  EXPECT_EQ(dead["job_id"].AsNumber(), 7);
  EXPECT_EQ(dead["stream"].AsString(), "0f3c1a2b-0000-4000-8000-00000000abcd");
  EXPECT_EQ(dead["start"].AsString(), "1699999999999999999");
  EXPECT_EQ(dead["end"].AsString(), "-5");
  EXPECT_EQ(dead["attempt"].AsNumber(), 3);
  EXPECT_EQ(dead["error"].AsString(), "analytic failed:\nstddev of nothing");
}

TEST(SnapshotToJson, UnknownValuesAreNull) {
  DashboardSnapshot s = OneOfEach();
  s.jobs[0].eta_seconds = -1;
  s.jobs[0].submitted_at_ns = 0;
  s.workers[0].last_heartbeat_ns = 0;
  s.stats.tasks_per_second = std::numeric_limits<double>::quiet_NaN();
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(SnapshotToJson(s, kNow)));
  EXPECT_TRUE(doc["jobs"][0]["eta_seconds"].is_null());
  EXPECT_TRUE(doc["jobs"][0]["submitted_at_ms"].is_null());
  EXPECT_TRUE(doc["workers"][0]["last_heartbeat_ms"].is_null());
  EXPECT_TRUE(doc["workers"][0]["heartbeat_age_seconds"].is_null());
  EXPECT_TRUE(doc["stats"]["tasks_per_second"].is_null());
}

TEST(SnapshotToJson, HeartbeatFromTheFutureHasAgeZero) {
  DashboardSnapshot s = OneOfEach();
  s.workers[0].last_heartbeat_ns = kNow + 2'000'000'000;
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(SnapshotToJson(s, kNow)));
  EXPECT_EQ(doc["workers"][0]["heartbeat_age_seconds"].AsNumber(), 0);
}

TEST(SnapshotToJson, EmptySnapshotHasEmptyLists) {
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(SnapshotToJson(DashboardSnapshot{}, kNow)));
  EXPECT_TRUE(doc["jobs"].is_array());
  EXPECT_EQ(doc["jobs"].size(), 0u);
  EXPECT_TRUE(doc["workers"].is_array());
  EXPECT_TRUE(doc["dead"].is_array());
  EXPECT_EQ(doc["stats"]["queue_depth"].AsNumber(), 0);
}

TEST(HistoryToJson, ListsSamplesWithWindowAndInterval) {
  std::vector<HistorySample> samples(2);
  samples[0] = {.wall_ns = kNow - 1'000'000'000, .queue_depth = 5, .in_flight = 2, .workers = 1,
                .tasks_per_second = 0.5, .points_per_second = 500};
  samples[1] = {.wall_ns = kNow, .queue_depth = 6, .in_flight = 3, .workers = 2,
                .tasks_per_second = 1.5, .points_per_second = 1500};
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(HistoryToJson(samples, HistoryOptions{}, kNow)));
  EXPECT_EQ(doc["window_seconds"].AsNumber(), 600);
  EXPECT_EQ(doc["interval_seconds"].AsNumber(), 1);
  EXPECT_EQ(doc["now_ms"].AsNumber(), 1'700'000'000'000);
  ASSERT_EQ(doc["samples"].size(), 2u);
  EXPECT_EQ(doc["samples"][0]["t_ms"].AsNumber(), 1'700'000'000'000 - 1'000);
  EXPECT_EQ(doc["samples"][1]["queue_depth"].AsNumber(), 6);
  EXPECT_EQ(doc["samples"][1]["in_flight"].AsNumber(), 3);
  EXPECT_EQ(doc["samples"][1]["workers"].AsNumber(), 2);
  EXPECT_EQ(doc["samples"][1]["tasks_per_second"].AsNumber(), 1.5);
  EXPECT_EQ(doc["samples"][1]["points_per_second"].AsNumber(), 1500);
}

}  // namespace
}  // namespace btrq::dashboard
