// Observability of a real deployment: btrdb-lite with generated data, btrq-sink,
// btrq-broker and btrq-workers as separate processes.
//
//   - /metrics of every daemon is a strict Prometheus exposition (tests/support/
//     prometheus.h; `promtool check metrics` too when installed) whose key series add up
//     after a job: queue depth back to 0, tasks done == tasks, points > 0, 2 workers;
//   - /livez and /readyz, and /readyz false as soon as SIGTERM has landed;
//   - the broker's dashboard in headless Chromium while a job runs (screenshot saved to
//     ${CMAKE_BINARY_DIR}/artifacts/dashboard-live.png);
//   - workers as separate hosts (distinct loopback addresses; network namespaces when the
//     test may make them) sharing the tasks of one job.

#include "tests/integration/observability/cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/support/prometheus.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::observability {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::Exposition;

constexpr int64_t kChunk = int64_t{600} * 1'000'000'000;  // 10 min: 12 per stream of 2h
constexpr int kTasks = 3 * 12;                           // 3 streams
constexpr int64_t kHour = int64_t{3600} * 1'000'000'000;
constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr auto kJobTimeout = std::chrono::seconds(120);

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// The exec analytic's command param: /bin/sh -c `script`, as a JSON array.
std::string ShCommand(const std::string& script) {
  return "[\"/bin/sh\", \"-c\", " + JsonString(script) + "]";
}

// A shell prologue setting $start to the task's chunk start (from the context line).
constexpr char kReadStart[] =
    "read -r ctx; start=${ctx#*\\\"start\\\":}; start=${start%%,*}; ";

// Tasks whose chunk starts at or after `hold_from` wait until `release` exists; the
// rest finish at once. Every task reads all its points.
std::string HoldingScript(int64_t hold_from, const std::string& release) {
  return std::string(kReadStart) + "if [ \"$start\" -ge " + std::to_string(hold_from) +
         " ]; then while [ ! -e '" + release +
         "' ]; do sleep 0.05; done; fi; cat >/dev/null; echo '{\"ok\":1}'";
}

// Tasks whose chunk starts at `poison` fail (permanently: a non-zero exit).
std::string PoisonScript(int64_t poison) {
  return std::string(kReadStart) + "if [ \"$start\" -eq " + std::to_string(poison) +
         " ]; then echo \"poisoned chunk at $start\" >&2; exit 3; fi; cat >/dev/null; "
         "echo '{\"ok\":1}'";
}

Result<Exposition> ScrapeStrict(const std::string& host_port) {
  BTRQ_ASSIGN_OR_RETURN(std::string body, Cluster::Get(host_port, "/metrics"));
  auto parsed = Exposition::Parse(body);
  if (!parsed.ok()) return parsed.status().WithContext("/metrics of " + host_port + ":\n" + body);
  return parsed;
}

// `promtool check metrics` on the exposition at `host_port`, when promtool is installed.
void PromtoolCheck(const std::string& host_port, const std::string& dir) {
  if (access(kPromtool, X_OK) != 0) return;
  auto body = Cluster::Get(host_port, "/metrics");
  ASSERT_OK(body.status());
  const std::string file = dir + "/metrics-" + std::to_string(std::hash<std::string>()(host_port));
  std::ofstream(file) << *body;
  ASSERT_OK_AND_ASSIGN(auto promtool, testing::Subprocess::Spawn(
                                          {"/bin/sh", "-c", std::string(kPromtool) +
                                                                " check metrics < '" + file + "'"}));
  ASSERT_OK_AND_ASSIGN(int code, promtool->Wait(std::chrono::seconds(30)));
  EXPECT_EQ(code, 0) << "promtool on " << host_port << ": " << promtool->Stdout()
                     << promtool->Stderr();
}

// Polls the broker's /metrics until `done` tasks are counted done and nothing is queued
// or in flight (the broker samples every 250 ms).
Result<Exposition> WaitBrokerSettled(const std::string& host_port, int done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(Exposition e, ScrapeStrict(host_port));
    if (e.Value("btrq_tasks_total", {{"status", "done"}}) == done &&
        e.Value("btrq_queue_depth_all") == 0 && e.Value("btrq_tasks_inflight") == 0) {
      return e;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded("the broker's metrics did not settle");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// True once `pid` has no SIGTERM pending: its handler has run (or is running).
bool SigtermDelivered(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return true;  // gone
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("ShdPnd:") || line.starts_with("SigPnd:")) {
      const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
      if (mask & (1ULL << (SIGTERM - 1))) return false;
    }
  }
  return true;
}

// Sends SIGTERM and waits until it has been taken.
Status Terminate(testing::Subprocess& p) {
  BTRQ_RETURN_IF_ERROR(p.Kill(SIGTERM));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!SigtermDelivered(p.pid())) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::DeadlineExceeded("SIGTERM still pending");
    }
    std::this_thread::yield();
  }
  return Status::OK();
}

std::map<std::string, std::string> VersionLabel(const Exposition& e) {
  const auto samples = e.Samples("btrq_build_info");
  return samples.size() == 1 ? samples[0].labels : std::map<std::string, std::string>{};
}

// ---- /metrics ----

TEST(ObservabilityTest, EveryDaemonsMetricsAreStrictAndAddUpAfterAJob) {
  Cluster cluster(ClusterOptions{});
  ASSERT_OK(cluster.Start());
  ASSERT_OK_AND_ASSIGN(uint64_t id, cluster.Submit("count-all", "count", {}, kChunk));
  ASSERT_OK_AND_ASSIGN(v1::Job job, cluster.WaitFinished(id, kJobTimeout));
  ASSERT_EQ(job.state(), v1::DONE) << job.DebugString();
  EXPECT_EQ(job.counts().total(), static_cast<uint64_t>(kTasks));
  EXPECT_EQ(job.counts().done(), static_cast<uint64_t>(kTasks));
  EXPECT_EQ(job.counts().streams(), 3u);
  // 3 streams x 2 h x 1 Hz, every point read once (no retries here).
  EXPECT_EQ(job.counts().points_read(), 3u * 7200u);

  // Broker.
  ASSERT_OK_AND_ASSIGN(Exposition broker, WaitBrokerSettled(cluster.broker_http(), kTasks));
  EXPECT_EQ(broker.Value("btrq_workers"), 2);
  EXPECT_EQ(broker.Value("btrq_tasks_total", {{"status", "dead"}}), 0);
  EXPECT_EQ(broker.Value("btrq_tasks_total", {{"status", "dispatched"}}), kTasks);
  EXPECT_EQ(broker.Value("btrq_points_total"), 3 * 7200);
  EXPECT_EQ(broker.Value("btrq_broker_ready"), 1);
  EXPECT_THAT(VersionLabel(broker), ::testing::Contains(::testing::Key("version")));
  EXPECT_EQ(broker.Value("btrq_oldest_ready_task_age_seconds"), 0);
  ASSERT_NE(broker.Family("btrq_queue_depth"), nullptr);
  EXPECT_EQ(broker.Family("btrq_queue_depth")->type, "gauge");
  EXPECT_GT(broker.Value("btrq_journal_fsync_seconds_count").value_or(0), 0);
  EXPECT_GT(broker.Value("btrq_btrdb_rpc_duration_seconds_count",
                         {{"method", "LookupStreams"}, {"code", "OK"}})
                .value_or(0),
            0);
  EXPECT_GT(broker.Value("btrq_btrdb_received_bytes_total").value_or(0), 0);
  EXPECT_EQ(broker.Family("btrq_bad_messages_total")->type, "counter");

  // Sink.
  ASSERT_OK_AND_ASSIGN(Exposition sink, ScrapeStrict(cluster.sink_http()));
  EXPECT_EQ(sink.Value("btrq_sink_results_total"), kTasks);
  EXPECT_EQ(sink.Value("btrq_sink_ready"), 1);
  EXPECT_GT(sink.Value("btrq_sink_commit_seconds_count").value_or(0), 0);
  EXPECT_THAT(VersionLabel(sink), ::testing::Contains(::testing::Key("version")));

  // Workers: between them, every task and every point, and BTrDB reads timed.
  double ok = 0, points = 0, durations = 0;
  for (const std::string& http : cluster.worker_http()) {
    ASSERT_OK_AND_ASSIGN(Exposition w, ScrapeStrict(http));
    ok += w.Value("btrq_worker_tasks_total", {{"status", "ok"}}).value_or(0);
    points += w.Value("btrq_worker_points_total").value_or(0);
    durations += w.Value("btrq_task_duration_seconds_count").value_or(0);
    EXPECT_EQ(w.Value("btrq_worker_ready"), 1);
    EXPECT_EQ(w.Value("btrq_worker_unacked_results"), 0);
    EXPECT_THAT(VersionLabel(w), ::testing::Contains(::testing::Key("version")));
    EXPECT_GT(w.Value("btrq_btrdb_received_bytes_total").value_or(0), 0);
    EXPECT_GT(w.Sum("btrq_btrdb_rpc_duration_seconds_count"), 0);
    for (const auto& s : w.Samples("btrq_btrdb_rpc_duration_seconds_count")) {
      EXPECT_EQ(s.labels.size(), 2u);
      EXPECT_TRUE(s.labels.contains("method") && s.labels.contains("code"));
    }
  }
  EXPECT_EQ(ok, kTasks);
  EXPECT_EQ(points, 3 * 7200);
  EXPECT_EQ(durations, kTasks);

  for (const std::string& http : {cluster.broker_http(), cluster.sink_http(),
                                  cluster.worker_http()[0], cluster.worker_http()[1]}) {
    PromtoolCheck(http, cluster.dir());
  }
  if (access(kPromtool, X_OK) != 0) {
    std::printf("promtool is not installed (Debian package prometheus): only the built-in "
                "strict parser checked the expositions\n");
  }
}

// ---- /livez, /readyz ----

TEST(ObservabilityTest, ReadyzTurnsFalseAsSoonAsSigtermLands) {
  ClusterOptions options;
  options.workers = {WorkerSpec{.sets = {"worker.threads=1"}}};
  Cluster cluster(options);
  ASSERT_OK(cluster.Start());
  for (const std::string& http :
       {cluster.broker_http(), cluster.sink_http(), cluster.worker_http()[0]}) {
    EXPECT_EQ(Cluster::GetStatus(http, "/livez"), 200) << http;
    EXPECT_EQ(Cluster::GetStatus(http, "/readyz"), 200) << http;
  }

  // A job whose tasks wait for a file: the worker has one running when SIGTERM comes, so
  // its drain (and its HTTP endpoint) lasts until the file appears.
  const std::string release = cluster.dir() + "/release";
  ASSERT_OK_AND_ASSIGN(uint64_t id, cluster.Submit("held", "exec",
                                                   {{"command", ShCommand(HoldingScript(
                                                                    kDataStart, release))}},
                                                   kChunk));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    ASSERT_OK_AND_ASSIGN(v1::Job job, cluster.GetJob(id));
    if (job.counts().in_flight() > 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << job.DebugString();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  ASSERT_OK(Terminate(cluster.worker(0)));
  EXPECT_EQ(Cluster::GetStatus(cluster.worker_http()[0], "/readyz"), 503);
  EXPECT_EQ(Cluster::GetStatus(cluster.worker_http()[0], "/livez"), 200);
  ASSERT_OK_AND_ASSIGN(std::string metrics, Cluster::Get(cluster.worker_http()[0], "/metrics"));
  EXPECT_THAT(metrics, HasSubstr("\nbtrq_worker_ready 0\n"));
  std::ofstream(release) << "go\n";
  ASSERT_OK_AND_ASSIGN(int worker_code, cluster.worker(0).Wait(std::chrono::seconds(30)));
  EXPECT_EQ(worker_code, 0) << cluster.worker(0).Stderr();

  // The broker and the sink stop quickly: whatever still answers says "not ready".
  for (testing::Subprocess* p : {&cluster.broker(), &cluster.sink()}) {
    const std::string& http = p == &cluster.broker() ? cluster.broker_http() : cluster.sink_http();
    ASSERT_OK(Terminate(*p));
    const int status = Cluster::GetStatus(http, "/readyz");
    EXPECT_TRUE(status == 503 || status == 0) << http << " answered " << status;
    ASSERT_OK_AND_ASSIGN(int code, p->Wait(std::chrono::seconds(30)));
    EXPECT_EQ(code, 0) << p->Stderr();
  }
}

// ---- the dashboard, live ----

class LiveDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium << " is not installed (apt-get install chromium); the live "
                   << "dashboard is not checked";
    }
  }

  Result<std::string> RunChromium(const std::string& url, const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {
        kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
        "--hide-scrollbars", "--user-data-dir=" + profile_.path(), "--virtual-time-budget=5000"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(url);
    BTRQ_ASSIGN_OR_RETURN(auto chromium,
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

TEST_F(LiveDashboardTest, ShowsTheRunningJobItsWorkersAndAnotherJobsDeadLetters) {
  // Credit == threads: no task waits in a worker's queue behind a held one.
  ClusterOptions options;
  for (WorkerSpec& w : options.workers) w.sets = {"worker.credit=2"};
  Cluster cluster(options);
  ASSERT_OK(cluster.Start());

  // Job 1: one chunk of each stream fails for good.
  ASSERT_OK_AND_ASSIGN(uint64_t poisoned,
                       cluster.Submit("poisoned-chunks", "exec",
                                      {{"command", ShCommand(PoisonScript(kDataStart))}}, kChunk));
  ASSERT_OK_AND_ASSIGN(v1::Job done, cluster.WaitFinished(poisoned, kJobTimeout));
  ASSERT_EQ(done.state(), v1::DONE_WITH_FAILURES) << done.DebugString();
  EXPECT_EQ(done.counts().dead(), 3u);

  // Job 2: the last chunk of every stream waits for `release` (3 tasks: fewer than the
  // workers' slots, so the other 33 finish), the rest finish at once.
  const std::string release = cluster.dir() + "/release";
  ASSERT_OK_AND_ASSIGN(
      uint64_t running,
      cluster.Submit("held-last-chunks", "exec",
                     {{"command", ShCommand(HoldingScript(kDataStart + 2 * kHour - kChunk,
                                                          release))}},
                     kChunk));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  v1::Job job;
  while (true) {
    ASSERT_OK_AND_ASSIGN(job, cluster.GetJob(running));
    if (job.counts().done() == kTasks - 3 && job.counts().in_flight() == 3) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << job.DebugString();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_OK_AND_ASSIGN(v1::ListWorkersResponse workers, cluster.ListWorkers());
  ASSERT_EQ(workers.workers_size(), 2);

  const std::string base = "http://" + cluster.broker_http();
  // The broker rebuilds the dashboard's picture once a second: wait until it shows the
  // state reached above before the browser looks.
  const auto picture_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    ASSERT_OK_AND_ASSIGN(std::string snap, Cluster::Get(cluster.broker_http(), "/api/snapshot"));
    if (snap.find("held-last-chunks") != std::string::npos &&
        snap.find("\"in_flight\":3") != std::string::npos) {
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), picture_deadline) << snap;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_OK_AND_ASSIGN(std::string dom, RunChromium(base + "/", {"--dump-dom"}));
  EXPECT_THAT(dom, HasSubstr("Live"));
  // The running job with its progress: 33 of 36 done, 3 in flight.
  EXPECT_THAT(dom, HasSubstr("held-last-chunks"));
  EXPECT_THAT(dom, HasSubstr("33 / 36 · 91.7%"));
  EXPECT_THAT(dom, HasSubstr("3 in flight"));
  EXPECT_THAT(dom, HasSubstr(R"(role="progressbar")"));
  // Both workers.
  for (const v1::Worker& w : workers.workers()) EXPECT_THAT(dom, HasSubstr(w.id()));
  // The queue depth chart, drawn from the broker's history.
  EXPECT_THAT(dom, AllOf(HasSubstr(R"(id="chart-queue")"),
                         HasSubstr("Queue depth and tasks in flight over the last")));
  // The finished job's dead letters with their error.
  EXPECT_THAT(dom, HasSubstr("poisoned-chunks"));
  EXPECT_THAT(dom, HasSubstr("poisoned chunk at " + std::to_string(kDataStart)));

  ASSERT_OK_AND_ASSIGN(std::string selected,
                       RunChromium(base + "/#job=" + std::to_string(poisoned), {"--dump-dom"}));
  EXPECT_THAT(selected, HasSubstr("· job #" + std::to_string(poisoned) + " poisoned-chunks"));
  EXPECT_THAT(selected, HasSubstr("poisoned chunk at"));

  // The artifact: a screenshot of the live page.
  ASSERT_EQ(::mkdir(BTRQ_ARTIFACTS_DIR, 0755) == 0 || errno == EEXIST, true);
  const std::string file = std::string(BTRQ_ARTIFACTS_DIR) + "/dashboard-live.png";
  std::remove(file.c_str());
  ASSERT_OK(RunChromium(base + "/", {"--screenshot=" + file, "--window-size=1400,1100"}).status());
  ASSERT_OK_AND_ASSIGN(const std::string png, ReadFileToString(file));
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::printf("live dashboard screenshot: %s (%zu bytes)\n", file.c_str(), png.size());

  std::ofstream(release) << "go\n";
  ASSERT_OK_AND_ASSIGN(job, cluster.WaitFinished(running, kJobTimeout));
  EXPECT_EQ(job.state(), v1::DONE);
}

// ---- workers as separate hosts ----

// Runs a job and checks that every worker did some of it and that the broker saw each
// worker's connection come from `addresses[i]`.
void ExpectTasksSpread(Cluster& cluster, const std::vector<std::string>& addresses) {
  ASSERT_OK_AND_ASSIGN(uint64_t id, cluster.Submit("spread", "count", {}, kChunk));
  ASSERT_OK_AND_ASSIGN(v1::Job job, cluster.WaitFinished(id, kJobTimeout));
  ASSERT_EQ(job.state(), v1::DONE) << job.DebugString();
  ASSERT_OK_AND_ASSIGN(v1::ListWorkersResponse workers, cluster.ListWorkers());
  ASSERT_EQ(workers.workers_size(), static_cast<int>(addresses.size()));
  uint64_t total = 0;
  for (const v1::Worker& w : workers.workers()) {
    EXPECT_GT(w.tasks_done(), 0u) << w.id() << " did nothing";
    total += w.tasks_done();
    std::printf("worker %s: %llu tasks\n", w.id().c_str(),
                static_cast<unsigned long long>(w.tasks_done()));
  }
  EXPECT_EQ(total, static_cast<uint64_t>(kTasks));
  const std::string log = cluster.broker().Stderr();
  for (const std::string& address : addresses) {
    EXPECT_THAT(log, HasSubstr("said HELLO from " + address)) << log;
  }
  // Each worker's own endpoint answers on its own address.
  for (size_t i = 0; i < cluster.worker_http().size(); ++i) {
    EXPECT_THAT(cluster.worker_http()[i], ::testing::StartsWith(addresses[i] + ":"));
    ASSERT_OK_AND_ASSIGN(Exposition e, ScrapeStrict(cluster.worker_http()[i]));
    EXPECT_GT(e.Value("btrq_worker_tasks_total", {{"status", "ok"}}).value_or(0), 0);
  }
}

TEST(MultiHostTest, WorkersOnDistinctLoopbackAddressesShareTheJob) {
  ClusterOptions options;
  options.workers = {WorkerSpec{.source_address = "127.0.0.2", .http_host = "127.0.0.2"},
                     WorkerSpec{.source_address = "127.0.0.3", .http_host = "127.0.0.3"}};
  Cluster cluster(options);
  ASSERT_OK(cluster.Start());
  ExpectTasksSpread(cluster, {"127.0.0.2", "127.0.0.3"});
}

// Network namespaces joined by a bridge: one per worker, the rest of btrq on the bridge's
// address in the test's namespace. Needs CAP_NET_ADMIN and `ip`; skipped otherwise.
class NetnsLab {
 public:
  ~NetnsLab() {
    // Best-effort teardown: a namespace that is already gone needs no deleting.
    for (const std::string& ns : namespaces_) Run({"ip", "netns", "delete", ns}).IgnoreError();
    if (bridge_up_) Run({"ip", "link", "delete", bridge_}).IgnoreError();
  }

  // Makes the bridge (10.213.S.1/24) and `n` namespaces (10.213.S.2, .3, ...).
  Status Create(int n) {
    const int subnet = 20 + static_cast<int>(getpid() % 200);
    prefix_ = "10.213." + std::to_string(subnet) + ".";
    const std::string tag = std::to_string(getpid() % 100000);
    bridge_ = "btqbr" + tag;
    BTRQ_RETURN_IF_ERROR(Run({"ip", "link", "add", bridge_, "type", "bridge"}));
    bridge_up_ = true;
    BTRQ_RETURN_IF_ERROR(Run({"ip", "addr", "add", host() + "/24", "dev", bridge_}));
    BTRQ_RETURN_IF_ERROR(Run({"ip", "link", "set", bridge_, "up"}));
    for (int i = 0; i < n; ++i) {
      const std::string ns = "btqns" + tag + "_" + std::to_string(i);
      const std::string outer = "btqv" + tag + "o" + std::to_string(i);
      const std::string inner = "btqv" + tag + "i" + std::to_string(i);
      BTRQ_RETURN_IF_ERROR(Run({"ip", "netns", "add", ns}));
      namespaces_.push_back(ns);
      BTRQ_RETURN_IF_ERROR(Run({"ip", "link", "add", outer, "type", "veth", "peer", "name", inner}));
      BTRQ_RETURN_IF_ERROR(Run({"ip", "link", "set", inner, "netns", ns}));
      BTRQ_RETURN_IF_ERROR(Run({"ip", "link", "set", outer, "master", bridge_, "up"}));
      BTRQ_RETURN_IF_ERROR(
          Run({"ip", "netns", "exec", ns, "ip", "addr", "add", address(i) + "/24", "dev", inner}));
      BTRQ_RETURN_IF_ERROR(Run({"ip", "netns", "exec", ns, "ip", "link", "set", inner, "up"}));
      BTRQ_RETURN_IF_ERROR(Run({"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"}));
    }
    return Status::OK();
  }

  std::string host() const { return prefix_ + "1"; }
  std::string address(int i) const { return prefix_ + std::to_string(i + 2); }
  const std::string& ns(int i) const { return namespaces_[static_cast<size_t>(i)]; }

 private:
  static Status Run(const std::vector<std::string>& argv) {
    std::vector<std::string> full = argv;
    full[0] = "/usr/sbin/" + argv[0];
    BTRQ_ASSIGN_OR_RETURN(auto p, testing::Subprocess::Spawn(full));
    BTRQ_ASSIGN_OR_RETURN(int code, p->Wait(std::chrono::seconds(20)));
    if (code != 0) {
      std::string cmd;
      for (const std::string& a : argv) cmd += a + " ";
      return Status::PermissionDenied(cmd + "failed: " + p->Stderr());
    }
    return Status::OK();
  }

  std::string prefix_;
  std::string bridge_;
  bool bridge_up_ = false;
  std::vector<std::string> namespaces_;
};

TEST(MultiHostTest, WorkersInSeparateNetworkNamespacesShareTheJob) {
  if (geteuid() != 0 || access("/usr/sbin/ip", X_OK) != 0) {
    GTEST_SKIP() << "network namespaces need root and /usr/sbin/ip; the loopback-address "
                 << "test covers separate hosts";
  }
  NetnsLab lab;
  if (Status s = lab.Create(2); !s.ok()) {
    GTEST_SKIP() << "cannot make network namespaces here (" << s.message()
                 << "); the loopback-address test covers separate hosts";
  }
  ClusterOptions options;
  options.host = lab.host();
  options.workers.clear();
  for (int i = 0; i < 2; ++i) {
    options.workers.push_back(WorkerSpec{.prefix = {"/usr/sbin/ip", "netns", "exec", lab.ns(i)},
                                         .http_host = lab.address(i)});
  }
  Cluster cluster(options);
  ASSERT_OK(cluster.Start());
  ExpectTasksSpread(cluster, {lab.address(0), lab.address(1)});
}

}  // namespace
}  // namespace btrq::observability
