// The dashboard served by a real httplib server on 127.0.0.1: the page and its assets, the
// JSON endpoints, and the page as a headless Chromium renders it (skipped without
// /usr/bin/chromium).

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "broker/dashboard/dashboard.h"
#include "common/file_util.h"
#include "tests/support/fake_clock.h"
#include "tests/support/json.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::dashboard {
namespace {

using ::btrq::testing::Json;
using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::seconds;

constexpr char kChromium[] = "/usr/bin/chromium";

int64_t WallNanosAgo(const Clock& clock, double seconds_ago) {
  return clock.WallNanos() - static_cast<int64_t>(seconds_ago * 1e9);
}

// Two jobs (one running, one finished with a failure), two workers (one draining, with a
// late heartbeat) and one dead letter.
DashboardSnapshot FakeSnapshot(const Clock& clock) {
  DashboardSnapshot s;

  JobView running;
  running.id = 12;
  running.name = "hourly-means-2024";
  running.analytic = "mean";
  running.collection = "sensors/pmu";
  running.state = "running";
  running.counts = {.total = 5000, .total_final = true, .pending = 3750, .in_flight = 16,
                    .done = 1234, .retried = 9, .dead = 0, .cancelled = 0, .streams = 250,
                    .points_read = 8'400'000'000};
  running.submitted_at_ns = WallNanosAgo(clock, 300);
  running.started_at_ns = WallNanosAgo(clock, 290);
  running.tasks_per_second = 41.7;
  running.points_per_second = 2.9e8;
  running.eta_seconds = 90;
  s.jobs.push_back(running);

  JobView finished;
  finished.id = 11;
  finished.name = "voltage-sag-scan";
  finished.analytic = "sag_detect";
  finished.collection = "grid/feeder7";
  finished.state = "done_with_failures";
  finished.counts = {.total = 480, .total_final = true, .pending = 0, .in_flight = 0,
                     .done = 479, .retried = 4, .dead = 1, .cancelled = 0, .streams = 24,
                     .points_read = 96'000'000};
  finished.submitted_at_ns = WallNanosAgo(clock, 3600);
  finished.started_at_ns = WallNanosAgo(clock, 3590);
  finished.finished_at_ns = WallNanosAgo(clock, 1200);
  s.jobs.push_back(finished);

  WorkerView a;
  a.id = "node-a:4121:9f2c";
  a.host = "node-a";
  a.pid = 4121;
  a.threads = 8;
  a.analytics = {"mean", "sag_detect"};
  a.credit = 16;
  a.in_flight = 8;
  a.tasks_done = 812;
  a.tasks_per_second = 27.3;
  a.points_per_second = 1.9e8;
  a.last_heartbeat_ns = WallNanosAgo(clock, 0.4);
  s.workers.push_back(a);

  WorkerView b;
  b.id = "node-b:977:51d0";
  b.host = "node-b";
  b.pid = 977;
  b.threads = 4;
  b.analytics = {"mean"};
  b.credit = 8;
  b.in_flight = 4;
  b.tasks_done = 422;
  b.tasks_per_second = 14.4;
  b.points_per_second = 1.0e8;
  b.last_heartbeat_ns = WallNanosAgo(clock, 12);
  b.draining = true;
  s.workers.push_back(b);

  s.stats.queue_depth = 3750;
  s.stats.in_flight = 16;
  s.stats.workers = 2;
  s.stats.credit_outstanding = 8;
  s.stats.tasks_per_second = 41.7;
  s.stats.points_per_second = 2.9e8;
  s.stats.oldest_ready_age_seconds = 4.2;
  s.stats.jobs = {{.job_id = 12, .queue_depth = 3750}};
  s.stats.tasks_done_total = 1713;
  s.stats.tasks_retried_total = 13;
  s.stats.tasks_dead_total = 1;

  DeadLetterView dead;
  dead.key.job = 11;
  dead.key.stream = Uuid::Parse("7f3e2a10-5c4b-4d2e-9a61-0c8b1e2f3a4b").value();
  dead.key.start = 1'699'920'000'000'000'000;
  dead.end = 1'699'963'200'000'000'000;
  dead.attempt = 5;
  dead.error = "sag_detect: window has no points (invalid input)";
  s.dead.push_back(dead);
  return s;
}

// Ten minutes of samples, one a second, shaped like a job draining its queue.
void FillHistory(testing::FakeClock& clock, DashboardHistory& history) {
  for (int i = 0; i < 600; ++i) {
    const double t = i / 600.0;
    StatsView s;
    s.queue_depth = static_cast<uint64_t>(5000 * (1 - 0.25 * t) + 120 * std::sin(i / 23.0));
    s.in_flight = static_cast<uint64_t>(i < 30 ? i / 2 : 14 + 2 * std::sin(i / 11.0));
    s.workers = i < 30 ? 1 : 2;
    s.tasks_per_second = i < 30 ? i * 1.3 : 40 + 4 * std::sin(i / 17.0);
    s.points_per_second = s.tasks_per_second * 7e6 * (1 + 0.1 * std::cos(i / 29.0));
    history.Sample(clock.Now(), clock.WallNanos(), s);
    clock.Advance(seconds(1));
  }
}

class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fresh_broker_) FillHistory(clock_, history_);
    RegisterDashboard(
        server_,
        [this] { return fresh_broker_ ? DashboardSnapshot{} : FakeSnapshot(clock_); },
        &history_, &clock_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // The socket already listens: requests queue in its backlog until the loop accepts.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    // stop() is a no-op until the loop runs; wait for it (it starts at once).
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    server_.stop();
    thread_.join();
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client.Get(path.c_str());
  }

  std::string Url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // A broker just started: no jobs, workers, dead letters or history.
  bool fresh_broker_ = false;
  testing::FakeClock clock_;
  DashboardHistory history_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(DashboardServerTest, RootServesThePage) {
  httplib::Result res = Get("/");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("<title>btrq broker</title>"));
  EXPECT_THAT(res->body, HasSubstr(R"(<script src="/static/app.js" defer></script>)"));
  EXPECT_THAT(res->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(DashboardServerTest, StaticAssetsHaveTheirContentTypes) {
  httplib::Result js = Get("/static/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_THAT(js->body, HasSubstr("fetch(path"));

  httplib::Result css = Get("/static/style.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");
  EXPECT_THAT(css->body, HasSubstr(".progress"));
}

TEST_F(DashboardServerTest, UnknownAssetsAreNotFound) {
  for (const char* path : {"/static/missing.js", "/static/", "/static/..%2FCMakeLists.txt",
                           "/static/index.html/x", "/nothing"}) {
    httplib::Result res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
}

TEST_F(DashboardServerTest, SnapshotIsTheBrokerStateAsJson) {
  httplib::Result res = Get("/api/snapshot");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(res->body));

  EXPECT_EQ(doc["now_ms"].AsNumber(), static_cast<double>(clock_.WallNanos() / 1'000'000));
  EXPECT_EQ(doc["stats"]["queue_depth"].AsNumber(), 3750);
  EXPECT_EQ(doc["stats"]["workers"].AsNumber(), 2);
  EXPECT_EQ(doc["stats"]["tasks_dead_total"].AsNumber(), 1);

  ASSERT_EQ(doc["jobs"].size(), 2u);
  EXPECT_EQ(doc["jobs"][0]["id"].AsNumber(), 12);
  EXPECT_EQ(doc["jobs"][0]["name"].AsString(), "hourly-means-2024");
  EXPECT_EQ(doc["jobs"][0]["state"].AsString(), "running");
  EXPECT_EQ(doc["jobs"][0]["counts"]["done"].AsNumber(), 1234);
  EXPECT_EQ(doc["jobs"][0]["counts"]["total"].AsNumber(), 5000);
  EXPECT_EQ(doc["jobs"][0]["eta_seconds"].AsNumber(), 90);
  EXPECT_EQ(doc["jobs"][1]["name"].AsString(), "voltage-sag-scan");
  EXPECT_EQ(doc["jobs"][1]["state"].AsString(), "done_with_failures");
  EXPECT_TRUE(doc["jobs"][1]["eta_seconds"].is_null());

  ASSERT_EQ(doc["workers"].size(), 2u);
  EXPECT_EQ(doc["workers"][0]["host"].AsString(), "node-a");
  EXPECT_EQ(doc["workers"][0]["heartbeat_age_seconds"].AsNumber(), 0.4);
  EXPECT_EQ(doc["workers"][1]["host"].AsString(), "node-b");
  EXPECT_TRUE(doc["workers"][1]["draining"].AsBool());

  ASSERT_EQ(doc["dead"].size(), 1u);
  EXPECT_EQ(doc["dead"][0]["job_id"].AsNumber(), 11);
  EXPECT_EQ(doc["dead"][0]["stream"].AsString(), "7f3e2a10-5c4b-4d2e-9a61-0c8b1e2f3a4b");
  EXPECT_EQ(doc["dead"][0]["start"].AsString(), "1699920000000000000");
  EXPECT_EQ(doc["dead"][0]["attempt"].AsNumber(), 5);
  EXPECT_EQ(doc["dead"][0]["error"].AsString(),
            "sag_detect: window has no points (invalid input)");
}

TEST_F(DashboardServerTest, HistoryHasTheSamplesTakenWhileNobodyWatched) {
  httplib::Result res = Get("/api/history");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(res->body));
  EXPECT_EQ(doc["window_seconds"].AsNumber(), 600);
  EXPECT_EQ(doc["interval_seconds"].AsNumber(), 1);
  const Json& samples = doc["samples"];
  ASSERT_EQ(samples.size(), 600u);
  EXPECT_EQ(samples[0]["queue_depth"].AsNumber(), 5000);
  EXPECT_EQ(samples[0]["workers"].AsNumber(), 1);
  EXPECT_EQ(samples[599]["workers"].AsNumber(), 2);
  EXPECT_EQ(samples[599]["t_ms"].AsNumber() - samples[0]["t_ms"].AsNumber(), 599'000);
  EXPECT_EQ(doc["now_ms"].AsNumber(), samples[599]["t_ms"].AsNumber() + 1000);
}

TEST_F(DashboardServerTest, ServingASnapshotAlsoSamplesTheHistory) {
  // FillHistory's last sample was a second ago: a snapshot now adds one...
  ASSERT_TRUE(Get("/api/snapshot"));
  ASSERT_EQ(history_.Samples().size(), 601u);
  EXPECT_EQ(history_.Samples().back().queue_depth, 3750u);
  // ... but not twice within the same second.
  ASSERT_TRUE(Get("/api/snapshot"));
  EXPECT_EQ(history_.Samples().size(), 601u);

  ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(Get("/api/history")->body));
  EXPECT_EQ(doc["samples"].size(), 601u);
}

// ---- the page in a real browser ----

class DashboardBrowserTest : public DashboardServerTest {
 protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium << " is not installed (apt-get install chromium); the page's "
                   << "rendering is not checked";
    }
    DashboardServerTest::SetUp();
  }

  // Runs headless Chromium on `url` with `mode_flags` (e.g. --dump-dom) until it exits;
  // returns its stdout. Virtual time lets the page's timers and fetches run for 5 s.
  Result<std::string> RunChromium(const std::string& url,
                                  const std::vector<std::string>& mode_flags) {
    std::vector<std::string> argv = {
        kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
        "--hide-scrollbars", "--user-data-dir=" + profile_.path(), "--virtual-time-budget=5000"};
    argv.insert(argv.end(), mode_flags.begin(), mode_flags.end());
    argv.push_back(url);
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<testing::Subprocess> chromium,
                          testing::Subprocess::Spawn(argv, {"HOME=" + profile_.path(), "TZ=UTC"}));
    BTRQ_ASSIGN_OR_RETURN(int code, chromium->Wait(std::chrono::seconds(90)));
    if (code != 0) {
      return Status::Internal("chromium exited with " + std::to_string(code) + ": " +
                              chromium->Stderr());
    }
    return chromium->Stdout();
  }

  testing::TempDir profile_;
};

TEST_F(DashboardBrowserTest, RenderedPageShowsJobsWorkersAndDeadLetters) {
  ASSERT_OK_AND_ASSIGN(std::string dom, RunChromium(Url("/"), {"--dump-dom"}));

  // The script ran, fetched both endpoints and filled the page.
  EXPECT_THAT(dom, HasSubstr("Live"));
  EXPECT_THAT(dom, HasSubstr(">3,750<"));  // queue depth tile
  // Jobs, with their progress.
  EXPECT_THAT(dom, HasSubstr("hourly-means-2024"));
  EXPECT_THAT(dom, HasSubstr("1,234 / 5,000 · 24.7%"));
  EXPECT_THAT(dom, HasSubstr("16 in flight"));
  EXPECT_THAT(dom, HasSubstr("voltage-sag-scan"));
  EXPECT_THAT(dom, HasSubstr("479 / 480 · 99.8%"));
  EXPECT_THAT(dom, HasSubstr("done, with failures"));
  EXPECT_THAT(dom, HasSubstr("1m 30s"));  // ETA
  EXPECT_THAT(dom, HasSubstr(R"(role="progressbar")"));
  // Workers.
  EXPECT_THAT(dom, HasSubstr("node-a:4121:9f2c"));
  EXPECT_THAT(dom, HasSubstr("node-b (pid 977)"));
  EXPECT_THAT(dom, HasSubstr("12s ago"));
  EXPECT_THAT(dom, HasSubstr("draining"));
  // The dead letter, with its error and chunk.
  EXPECT_THAT(dom, HasSubstr("sag_detect: window has no points (invalid input)"));
  EXPECT_THAT(dom, HasSubstr("2023-11-14 00:00:00Z"));
  EXPECT_THAT(dom, HasSubstr("· all jobs"));
}

TEST_F(DashboardBrowserTest, JobInTheAddressShowsOnlyItsDeadLetters) {
  ASSERT_OK_AND_ASSIGN(std::string with_dead, RunChromium(Url("/#job=11"), {"--dump-dom"}));
  EXPECT_THAT(with_dead, HasSubstr("· job #11 voltage-sag-scan"));
  EXPECT_THAT(with_dead, HasSubstr("sag_detect: window has no points"));
  EXPECT_THAT(with_dead, HasSubstr(R"(aria-pressed="true")"));

  ASSERT_OK_AND_ASSIGN(std::string without, RunChromium(Url("/#job=12"), {"--dump-dom"}));
  EXPECT_THAT(without, HasSubstr("No dead-lettered tasks for job #12 hourly-means-2024."));
  EXPECT_THAT(without, Not(HasSubstr("window has no points")));
}

class FreshBrokerBrowserTest : public DashboardBrowserTest {
 protected:
  FreshBrokerBrowserTest() { fresh_broker_ = true; }
};

TEST_F(FreshBrokerBrowserTest, EmptyTablesSayWhyTheyAreEmpty) {
  ASSERT_OK_AND_ASSIGN(std::string dom, RunChromium(Url("/"), {"--dump-dom"}));
  EXPECT_THAT(dom, HasSubstr("Live"));
  EXPECT_THAT(dom, HasSubstr(R"(<p id="jobs-empty" class="empty">No jobs yet.</p>)"));
  EXPECT_THAT(dom, HasSubstr(R"(<p id="workers-empty" class="empty">No workers connected.</p>)"));
  EXPECT_THAT(dom, HasSubstr(R"(<p id="dead-empty" class="empty">No dead-lettered tasks.</p>)"));
}

// Leaves dashboard.png (light) and dashboard-dark.png (dark scheme, a job selected) in the
// build directory for people to look at.
TEST_F(DashboardBrowserTest, Screenshots) {
  struct Shot {
    std::string file;
    std::string path;
    std::vector<std::string> flags;
  };
  const std::vector<Shot> shots = {
      {"dashboard.png", "/", {}},
      {"dashboard-dark.png", "/#job=11", {"--force-dark-mode"}},
  };
  for (const Shot& shot : shots) {
    const std::string file = std::string(BTRQ_BINARY_DIR) + "/" + shot.file;
    std::remove(file.c_str());
    std::vector<std::string> flags = shot.flags;
    flags.push_back("--screenshot=" + file);
    flags.push_back("--window-size=1400,1000");
    ASSERT_OK(RunChromium(Url(shot.path), flags).status());
    ASSERT_OK_AND_ASSIGN(const std::string png, ReadFileToString(file));
    ASSERT_GT(png.size(), 8u) << file;
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << file;
    std::printf("dashboard screenshot: %s (%zu bytes)\n", file.c_str(), png.size());
  }
}

}  // namespace
}  // namespace btrq::dashboard
