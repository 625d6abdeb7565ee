#include "cluster/cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/readiness.h"
#include "common/zap.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::cluster {
namespace {

using ::testing::HasSubstr;

// Stand-in daemons: each prints its arguments and its ready line, then sleeps until
// signalled. `exec` makes the sleep the process, so signals reach it directly.
std::string Script(const std::string& ready_line, bool on_stdout) {
  return "#!/bin/sh\necho \"args: $*\" >&2\necho \"" + ready_line + "\"" +
         (on_stdout ? "" : " >&2") + "\nexec sleep 600\n";
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_.btrdb_lite = Write("btrdb-lite", "#!/bin/sh\necho \"args: $*\" >&2\n"
                                          "echo \"" + BtrdbLiteReadyLine("") + "$2\"\n"
                                          "exec sleep 600\n");
    bin_.broker = Write("btrq-broker", Script(BrokerReadyLine("c", "t", "h"), false));
    bin_.sink = Write("btrq-sink", Script(SinkReadyLine("r", "c", "h"), false));
    bin_.worker = Write("btrq-worker", Script(WorkerReadyLine("w", 1, "b", "s"), false));
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = bin_dir_.File(name);
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0755);
    return path;
  }

  ClusterOptions Options() {
    ClusterOptions o;
    o.dir = run_dir_.File("run");
    o.binaries = bin_;
    o.workers = {WorkerSpec{}, WorkerSpec{}};
    o.ready_timeout = std::chrono::seconds(20);
    return o;
  }

  testing::TempDir bin_dir_;
  testing::TempDir run_dir_;
  Binaries bin_;
};

// The state letter of /proc/PID/stat: 'S' sleeping, 'T' stopped, ...
char ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() ? '?' : text[paren + 2];
}

// Polls ProcState until it is `want` or 10 s passed; the last state seen.
char WaitForState(pid_t pid, char want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char state = ProcState(pid);
  while (state != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    state = ProcState(pid);
  }
  return state;
}

TEST_F(ClusterTest, CreateWritesAConfigThatLoadsBackWithDistinctEndpoints) {
  ClusterOptions o = Options();
  o.config.broker.liveness = 7;
  o.config.worker.threads = 3;
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  BtrqConfig loaded;
  ASSERT_OK(LoadConfig(cluster->config_path(), Env::FromMap({}), {}, &loaded));
  EXPECT_EQ(RenderConfig(loaded), RenderConfig(cluster->config()));
  EXPECT_EQ(loaded.broker.liveness, 7u);
  EXPECT_EQ(loaded.worker.threads, 3u);
  EXPECT_EQ(loaded.worker.broker, cluster->broker_tasks());
  EXPECT_EQ(loaded.control.sink, cluster->sink_control());
  EXPECT_EQ(loaded.broker.data_dir, cluster->dir() + "/broker");
  const std::vector<std::string> endpoints = {
      cluster->btrdb_endpoint(), cluster->broker_control(), cluster->broker_http(),
      cluster->broker_tasks().substr(6), cluster->sink_results().substr(6),
      cluster->sink_control(), cluster->sink_http()};
  EXPECT_EQ(std::set<std::string>(endpoints.begin(), endpoints.end()).size(), endpoints.size());
  for (const std::string& e : endpoints) EXPECT_THAT(e, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ(cluster->process(Role::kBroker), nullptr);  // nothing started yet
}

// The btrdb-lite stand-in's argument line: it prints its ready line on stdout, which the
// start waits for, and its arguments on stderr, which may be read a moment later.
std::string BtrdbArgs(Cluster& cluster) {
  Result<std::string> line =
      cluster.process(Role::kBtrdb)->WaitForLine("args: ", std::chrono::seconds(10), true);
  return line.ok() ? *line : line.status().ToString();
}

TEST_F(ClusterTest, RefusesInlineSecretsWhichRenderingWouldRedact) {
  ClusterOptions o = Options();
  o.config.control.token = "s3cret";
  EXPECT_EQ(Cluster::Create(std::move(o)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClusterTest, StartAllStartsEveryProcessWithTheConfig) {
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(Options()));
  ASSERT_OK(cluster->StartAll());
  EXPECT_EQ(cluster->workers(), 2u);
  for (Role role : {Role::kBtrdb, Role::kBroker, Role::kSink}) {
    EXPECT_TRUE(cluster->Running(role)) << RoleName(role);
  }
  EXPECT_TRUE(cluster->Running(Role::kWorker, 1));
  EXPECT_FALSE(cluster->Running(Role::kWorker, 2));
  EXPECT_THAT(cluster->process(Role::kBroker)->Stderr(),
              HasSubstr("args: --config " + cluster->config_path()));
  EXPECT_THAT(BtrdbArgs(*cluster),
              HasSubstr("args: --listen " + cluster->btrdb_endpoint() + " --data-dir " +
                        cluster->dir() + "/btrdb --log-level warn"));
}

TEST_F(ClusterTest, WorkerSpecBecomesSetsAndAPrefix) {
  ClusterOptions o = Options();
  o.workers = {WorkerSpec{.prefix = {"/usr/bin/env", "BTRQ_TEST_PREFIX=1"},
                          .source_address = "127.0.0.2",
                          .http_host = "127.0.0.1",
                          .sets = {"worker.credit=2"}}};
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  ASSERT_OK(cluster->StartAll());
  const std::string args = cluster->process(Role::kWorker, 0)->Stderr();
  const std::string tasks_port = cluster->broker_tasks().substr(cluster->broker_tasks().rfind(':'));
  EXPECT_THAT(args, HasSubstr("--set worker.broker=tcp://127.0.0.2:0;127.0.0.1" + tasks_port));
  EXPECT_THAT(args, HasSubstr("--set worker.http_listen=" + cluster->worker_http(0)));
  EXPECT_THAT(args, HasSubstr("--set worker.credit=2"));
  EXPECT_THAT(cluster->worker_http(0), ::testing::StartsWith("127.0.0.1:"));
}

TEST_F(ClusterTest, SecureGivesEachProcessItsOwnCurveKeyAndListsAuthorizedWorkers) {
  ClusterOptions o = Options();
  o.secure = true;
  o.workers = {WorkerSpec{.env = {"BTRQ_TEST_ENV=1"}}, WorkerSpec{.authorized = false}};
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  ASSERT_OK(cluster->StartAll());
  BtrqConfig loaded;
  ASSERT_OK(LoadConfig(cluster->config_path(), Env::FromMap({}), {}, &loaded));
  EXPECT_TRUE(loaded.curve.enabled);

  std::set<std::string> public_keys;
  const std::vector<std::pair<Role, size_t>> daemons = {
      {Role::kBroker, 0}, {Role::kSink, 0}, {Role::kWorker, 0}, {Role::kWorker, 1}};
  for (const auto& [role, index] : daemons) {
    ASSERT_OK_AND_ASSIGN(CurveKeyPair keys, cluster->CurveKeys(role, index));
    public_keys.insert(keys.public_key);
    const std::string name = role == Role::kWorker ? "worker-" + std::to_string(index + 1)
                                                   : std::string(RoleName(role));
    EXPECT_THAT(cluster->process(role, index)->Stderr(),
                HasSubstr("--set curve.secret_key_file=" + cluster->dir() + "/keys/" + name +
                          ".key"));
  }
  EXPECT_EQ(public_keys.size(), 4u);  // one pair per process
  ASSERT_OK_AND_ASSIGN(CurveKeyPair broker, cluster->CurveKeys(Role::kBroker));
  ASSERT_OK_AND_ASSIGN(CurveKeyPair sink, cluster->CurveKeys(Role::kSink));
  EXPECT_EQ(loaded.curve.broker_public_key, broker.public_key);
  EXPECT_EQ(loaded.curve.sink_public_key, sink.public_key);
  EXPECT_EQ(cluster->CurveKeys(Role::kBtrdb).status().code(), StatusCode::kFailedPrecondition);

  // Only the authorized worker is listed.
  ASSERT_OK_AND_ASSIGN(CurveKeyPair listed, cluster->CurveKeys(Role::kWorker, 0));
  ASSERT_OK_AND_ASSIGN(CurveKeyBytes listed_bytes, CurveKeyFromZ85(listed.public_key));
  ASSERT_OK_AND_ASSIGN(std::vector<CurveKeyBytes> authorized,
                       LoadAuthorizedKeys(loaded.curve.authorized_keys_file));
  EXPECT_THAT(authorized, ::testing::ElementsAre(listed_bytes));

  // One control token for broker, sink and CLI, readable by its owner alone.
  EXPECT_FALSE(loaded.control.token_file.empty());
  EXPECT_EQ(loaded.broker.control_token_file, loaded.control.token_file);
  EXPECT_EQ(loaded.sink.control_token_file, loaded.control.token_file);
  struct stat st {};
  ASSERT_EQ(::stat(loaded.control.token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_OK_AND_ASSIGN(std::string id, cluster->WorkerId(0));
  EXPECT_EQ(id, "w");
  std::ifstream environ("/proc/" + std::to_string(cluster->process(Role::kWorker, 0)->pid()) +
                        "/environ");
  const std::string env((std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
  EXPECT_THAT(env, HasSubstr("BTRQ_TEST_ENV=1"));
}

TEST_F(ClusterTest, BtrdbTlsServesWithTheCertificateAndDemandsTheApiKey) {
  ClusterOptions o = Options();
  o.btrdb_tls_cert = "/etc/c.pem";
  o.btrdb_tls_key = "/etc/k.pem";
  o.config.btrdb.api_key_file = "/etc/api-key";
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  ASSERT_OK(cluster->Start(Role::kBtrdb));
  EXPECT_THAT(BtrdbArgs(*cluster),
              HasSubstr("--tls-cert /etc/c.pem --tls-key /etc/k.pem --api-key-file /etc/api-key"));
  EXPECT_EQ(cluster->CurveKeys(Role::kBroker).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ClusterTest, KillPauseResumeAndRestartOneProcess) {
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(Options()));
  ASSERT_OK(cluster->StartAll());
  const pid_t first = cluster->process(Role::kWorker, 1)->pid();

  ASSERT_OK(cluster->Pause(Role::kWorker, 1));
  EXPECT_EQ(WaitForState(first, 'T'), 'T');
  ASSERT_OK(cluster->Resume(Role::kWorker, 1));
  EXPECT_NE(WaitForState(first, 'S'), 'T');

  ASSERT_OK(cluster->Kill(Role::kWorker, 1));
  EXPECT_FALSE(cluster->Running(Role::kWorker, 1));
  EXPECT_EQ(cluster->process(Role::kWorker, 1), nullptr);
  EXPECT_EQ(cluster->Kill(Role::kWorker, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(cluster->Running(Role::kWorker, 0));  // the others are untouched

  ASSERT_OK(cluster->Start(Role::kWorker, 1));
  EXPECT_NE(cluster->process(Role::kWorker, 1)->pid(), first);
  EXPECT_EQ(cluster->Start(Role::kWorker, 1).code(), StatusCode::kFailedPrecondition);

  const pid_t broker = cluster->process(Role::kBroker)->pid();
  ASSERT_OK(cluster->Restart(Role::kBroker));
  EXPECT_NE(cluster->process(Role::kBroker)->pid(), broker);
  // Both runs of each restarted process are in the logs.
  EXPECT_THAT(cluster->LogTail(5), HasSubstr("==== worker-2 (run 2)"));
  EXPECT_THAT(cluster->LogTail(5), HasSubstr("==== broker (run 1)"));
}

TEST_F(ClusterTest, StopAllGoesTierByTierAndReportsWhatHadExited) {
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(Options()));
  ASSERT_OK(cluster->StartAll());
  ASSERT_OK(cluster->Kill(Role::kSink));
  ASSERT_OK(cluster->Start(Role::kSink));
  ASSERT_OK(cluster->Signal(Role::kWorker, 0, SIGKILL));
  ASSERT_OK(cluster->process(Role::kWorker, 0)->Wait(std::chrono::seconds(10)).status());
  const StopReport report = cluster->StopAll(std::chrono::seconds(10));
  EXPECT_OK(report.status);
  std::vector<std::string> names;
  for (const StoppedProcess& p : report.processes) names.push_back(p.name);
  EXPECT_THAT(names, ::testing::ElementsAre("worker-1", "worker-2", "broker", "sink", "btrdb-lite"));
  EXPECT_TRUE(report.processes[0].had_exited);
  EXPECT_EQ(report.processes[0].exit_code, 128 + SIGKILL);
  EXPECT_FALSE(report.processes[1].had_exited);
  EXPECT_EQ(report.processes[1].exit_code, 128 + SIGTERM);  // sleep dies of SIGTERM
  EXPECT_FALSE(report.processes[1].killed);
  EXPECT_FALSE(cluster->Running(Role::kBtrdb));
  EXPECT_TRUE(cluster->StopAll(std::chrono::seconds(1)).processes.empty());
}

TEST_F(ClusterTest, ADaemonThatExitsEarlyFailsWithItsOutput) {
  bin_.broker = Write("btrq-broker", "#!/bin/sh\necho 'cannot bind: in use' >&2\nexit 3\n");
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(Options()));
  const Status s = cluster->StartAll();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("broker exited with code 3 before it was ready"));
  EXPECT_THAT(s.message(), HasSubstr("--- last lines of broker's output ---\ncannot bind: in use\n---"));
}

TEST_F(ClusterTest, ADaemonThatNeverGetsReadyTimesOut) {
  bin_.sink = Write("btrq-sink", "#!/bin/sh\necho 'starting' >&2\nexec sleep 600\n");
  ClusterOptions o = Options();
  o.ready_timeout = std::chrono::milliseconds(300);
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  const Status s = cluster->StartAll();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("sink was not ready within 0 s"));
  EXPECT_THAT(s.message(), HasSubstr("starting"));
}

TEST_F(ClusterTest, ACancelledWaitStopsWaiting) {
  bin_.sink = Write("btrq-sink", "#!/bin/sh\nexec sleep 600\n");
  ClusterOptions o = Options();
  int polls = 0;
  o.cancelled = [&polls] { return ++polls > 3; };
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  EXPECT_EQ(cluster->StartAll().code(), StatusCode::kCancelled);
}

TEST_F(ClusterTest, LogFilesKeepEachProcessOutput) {
  ClusterOptions o = Options();
  o.log_files = true;
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(std::move(o)));
  ASSERT_OK(cluster->StartAll());
  EXPECT_EQ(cluster->process(Role::kBroker)->log_path(), cluster->dir() + "/logs/broker.log");
  EXPECT_THAT(cluster->process(Role::kWorker, 1)->Stdout(), HasSubstr("btrq-worker: ready"));
}

TEST_F(ClusterTest, HelpersRunToTheirEnd) {
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Create(Options()));
  ASSERT_OK(cluster->RunHelper("true", {"/bin/sh", "-c", "echo fine"}, std::chrono::seconds(10)));
  const Status s =
      cluster->RunHelper("gen", {"/bin/sh", "-c", "echo 'bad seed' >&2; exit 2"}, std::chrono::seconds(10));
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("gen exited with code 2"));
  EXPECT_THAT(s.message(), HasSubstr("bad seed"));
}

}  // namespace
}  // namespace btrq::cluster
