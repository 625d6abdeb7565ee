// The whole pipeline as real processes: btrdb-lite loaded by `btrdb-lite generate`, the
// broker, the sink and workers, driven through the `btrq` CLI. The generator's manifest
// is the ground truth: `quality` results must equal it exactly, whatever happens to the
// workers on the way (kill -9, SIGTERM), and the job's counts must account for every task.
//
// Data: 4 streams (voltage, current, frequency kinds; one clean) x 2 days x 2 Hz, so a
// 12 h job has 16 tasks. Slow tasks come from btrdb-lite's injected call delay or from
// `exec` scripts that sleep.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/pipeline/cluster.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::Json;

constexpr char kCollection[] = "staging/sensors";
constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;

// The integer fields of `quality` and the doubles that must match bit for bit.
constexpr const char* kIntFields[] = {"count",      "duplicates",    "unique",
                                      "expected",   "gaps",          "nonfinite",
                                      "out_of_range", "longest_stuck", "stuck_runs"};
constexpr const char* kDoubleFields[] = {"completeness", "score", "missing_seconds", "min",
                                         "max"};

int64_t Int(const Json& v) { return static_cast<int64_t>(v.AsNumber()); }

using ChunkKey = std::pair<std::string, int64_t>;  // stream UUID text, chunk start

// Every chunk of the manifest by (stream, start).
std::map<ChunkKey, const Json*> TruthChunks(const Json& manifest) {
  std::map<ChunkKey, const Json*> out;
  for (const Json& stream : manifest["streams"].elements()) {
    for (const Json& chunk : stream["chunks"].elements()) {
      out[{stream["uuid"].AsString(), Int(chunk["start"])}] = &chunk;
    }
  }
  return out;
}

// Exactly one result per manifest chunk, and each equals the truth field by field.
void ExpectResultsEqualTruth(const std::vector<Json>& results, const Json& manifest) {
  const std::map<ChunkKey, const Json*> truth = TruthChunks(manifest);
  ASSERT_FALSE(truth.empty());
  EXPECT_EQ(results.size(), truth.size());
  std::set<ChunkKey> seen;
  for (const Json& r : results) {
    const ChunkKey key{r["stream"].AsString(), Int(r["start"])};
    const std::string where = key.first + " @ " + std::to_string(key.second);
    EXPECT_TRUE(seen.insert(key).second) << "two results for " << where;
    auto it = truth.find(key);
    ASSERT_NE(it, truth.end()) << "a result for a chunk the manifest does not have: " << where;
    const Json& t = *it->second;
    EXPECT_EQ(Int(r["end"]), Int(t["end"])) << where;
    EXPECT_EQ(r["status"].AsString(), "done") << where;
    for (const char* f : kIntFields) {
      ASSERT_TRUE(r[f].is_number()) << where << ": no " << f;
      EXPECT_EQ(Int(r[f]), Int(t[f])) << where << ": " << f;
      EXPECT_EQ(r[f].AsNumber(), static_cast<double>(Int(r[f]))) << where << ": " << f;
    }
    for (const char* f : kDoubleFields) {
      ASSERT_TRUE(r[f].is_number()) << where << ": no " << f;
      EXPECT_EQ(r[f].AsNumber(), t[f].AsNumber()) << where << ": " << f;
    }
  }
}

// A finished job whose every task is done.
void ExpectAllDone(const Json& job, size_t tasks) {
  EXPECT_EQ(job["state"].AsString(), "done");
  const Json& c = job["counts"];
  EXPECT_TRUE(c["total_final"].AsBool());
  EXPECT_EQ(Int(c["total"]), static_cast<int64_t>(tasks));
  EXPECT_EQ(Int(c["done"]), static_cast<int64_t>(tasks));
  EXPECT_EQ(Int(c["dead"]), 0);
  EXPECT_EQ(Int(c["cancelled"]), 0);
  EXPECT_EQ(Int(c["pending"]), 0);
  EXPECT_EQ(Int(c["in_flight"]), 0);
}

std::vector<std::string> QualityJob() {
  return {"--collection", kCollection, "--analytic", "quality", "--chunk", "12h"};
}

bool Running(const Json& job) {
  return job["state"].AsString() == "running" && job["counts"]["total_final"].AsBool();
}

std::function<bool(const Json&)> DoneAtLeast(int64_t n) {
  return [n](const Json& job) { return Int(job["counts"]["done"]) >= n; };
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(dir_.path());
    ASSERT_OK(cluster_->StartBtrdb());
    ASSERT_OK(cluster_->Generate({"--streams", "4", "--duration", "2d", "--rate", "2"}));
    tasks_ = TruthChunks(cluster_->manifest()).size();
    ASSERT_EQ(tasks_, 16u);
  }

  void TearDown() override {
    if (!cluster_) return;
    EXPECT_OK(cluster_->StopAll());
    // The processes' logs when something went wrong (or when asked for).
    if (HasFailure() || std::getenv("BTRQ_PIPELINE_LOGS") != nullptr) {
      std::fprintf(stderr, "%s", cluster_->Logs().c_str());
    }
  }

  // An sh script in the temp dir; returns the `command` param that runs it.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << "#!/bin/sh\n" << body;
    return "command=/bin/sh " + path;
  }

  const Json& Stream(int i) const { return cluster_->manifest()["streams"][i]; }

  testing::TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
  size_t tasks_ = 0;
};

TEST_F(PipelineTest, QualityResultsEqualTheGeneratorsTruthExactly) {
  ASSERT_OK(cluster_->StartServices(2));
  std::vector<std::string> args = QualityJob();
  args.push_back("--wait");
  ASSERT_OK_AND_ASSIGN(const JobId job, cluster_->Submit(args));

  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(job));
  ExpectAllDone(info, tasks_);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  ExpectResultsEqualTruth(results, cluster_->manifest());

  // One job over mixed kinds: each stream got its own bounds from its annotations, so the
  // injected spikes are out of range everywhere.
  std::map<std::string, std::string> kind_of;  // stream UUID -> kind
  for (const Json& s : cluster_->manifest()["streams"].elements()) {
    kind_of[s["uuid"].AsString()] = s["kind"].AsString();
  }
  std::set<std::string> kinds_out_of_range;
  for (const Json& r : results) {
    if (Int(r["out_of_range"]) > 0) kinds_out_of_range.insert(kind_of[r["stream"].AsString()]);
  }
  EXPECT_THAT(kinds_out_of_range,
              ::testing::UnorderedElementsAre("voltage", "current", "frequency"));
}

TEST_F(PipelineTest, KillDashNineOfAWorkerMidJobStillEndsWithTheTruth) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  ASSERT_OK_AND_ASSIGN(const JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(cluster_->WaitForJob(job, Running).status());
  // Every BTrDB call now takes 100 ms longer: the victim works through its tasks slowly.
  ASSERT_OK(cluster_->SetBtrdbDelay(100));
  ASSERT_OK_AND_ASSIGN(testing::Subprocess* victim, cluster_->StartWorker());
  ASSERT_OK(cluster_->WaitForJob(job, DoneAtLeast(2)).status());
  ASSERT_OK(victim->Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(const int code, victim->Wait(kStopGrace));
  EXPECT_EQ(code, 128 + SIGKILL);
  ASSERT_OK_AND_ASSIGN(const Json at_kill, cluster_->Job(job));
  ASSERT_LT(Int(at_kill["counts"]["done"]), static_cast<int64_t>(tasks_))
      << "the job ended before the kill: nothing was tested";

  ASSERT_OK(cluster_->SetBtrdbDelay(0));
  ASSERT_OK(cluster_->StartWorker().status());
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->WaitForJobEnd(job));
  ExpectAllDone(info, tasks_);
  // The victim's leases expired and went out again.
  EXPECT_GE(Int(info["counts"]["retried"]), 1);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  ExpectResultsEqualTruth(results, cluster_->manifest());
}

TEST_F(PipelineTest, SigtermDrainsAWorkerWithoutLosingAnything) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  ASSERT_OK_AND_ASSIGN(const JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK(cluster_->WaitForJob(job, Running).status());
  ASSERT_OK(cluster_->SetBtrdbDelay(100));
  ASSERT_OK_AND_ASSIGN(testing::Subprocess* victim, cluster_->StartWorker());
  ASSERT_OK(cluster_->WaitForJob(job, DoneAtLeast(2)).status());
  ASSERT_OK(victim->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(const int code, victim->Wait(kStopGrace));
  EXPECT_EQ(code, 0) << victim->Stderr();
  EXPECT_OK(victim->WaitForLine("btrq-worker: drained; bye", kStartTimeout, true).status());
  ASSERT_OK_AND_ASSIGN(const Json at_exit, cluster_->Job(job));
  ASSERT_LT(Int(at_exit["counts"]["done"]), static_cast<int64_t>(tasks_))
      << "the job ended before the drain: nothing was tested";
  EXPECT_EQ(Int(at_exit["counts"]["in_flight"]), 0) << "the drained worker kept leases";

  ASSERT_OK(cluster_->SetBtrdbDelay(0));
  ASSERT_OK(cluster_->StartWorker().status());
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->WaitForJobEnd(job));
  ExpectAllDone(info, tasks_);
  // A drain finishes what it holds: nothing had to be retried.
  EXPECT_EQ(Int(info["counts"]["retried"]), 0);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  ExpectResultsEqualTruth(results, cluster_->manifest());
}

// kill -9 of the broker or the sink mid-job, then a restart on the same data and
// endpoints: the job still ends with every task done once and the undisturbed results.
class ServiceKillTest : public PipelineTest,
                        public ::testing::WithParamInterface<const char*> {};

TEST_P(ServiceKillTest, KillDashNineAndRestartStillEndsWithTheTruth) {
  const std::string victim = GetParam();
  ASSERT_OK(cluster_->StartServices(2));
  // Slow BTrDB before the job exists: with the workers already waiting, a delay set
  // only once the job runs can come after most of it is done.
  ASSERT_OK(cluster_->SetBtrdbDelay(200));
  ASSERT_OK_AND_ASSIGN(const JobId job, cluster_->Submit(QualityJob()));
  ASSERT_OK_AND_ASSIGN(const Json before, cluster_->WaitForJob(job, DoneAtLeast(2)));
  ASSERT_LT(Int(before["counts"]["done"]), static_cast<int64_t>(tasks_) - 4)
      << "the job is too far along for the kill to hit it mid-job";
  testing::Subprocess* p = victim == "broker" ? cluster_->broker() : cluster_->sink();
  ASSERT_OK(p->Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(const int code, p->Wait(kStopGrace));
  EXPECT_EQ(code, 128 + SIGKILL);
  ASSERT_OK(cluster_->SetBtrdbDelay(0));
  if (victim == "broker") {
    ASSERT_OK(cluster_->RestartBroker());
  } else {
    ASSERT_OK(cluster_->RestartSink());
  }

  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->WaitForJobEnd(job));
  ExpectAllDone(info, tasks_);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  ExpectResultsEqualTruth(results, cluster_->manifest());
  // The workers came through it: every one still runs.
  for (const auto& worker : cluster_->workers()) EXPECT_TRUE(worker->Running());
}

INSTANTIATE_TEST_SUITE_P(BrokerAndSink, ServiceKillTest, ::testing::Values("broker", "sink"));

TEST_F(PipelineTest, PoisonTasksDeadLetterWhileTheRestCompletes) {
  ASSERT_OK(cluster_->StartServices(2));
  // Two poisoned chunks: one hangs (a timeout, transient: retried until max_attempts),
  // one fails (exit 3, permanent: dead-lettered at once). Every other chunk succeeds.
  const std::string hang_stream = Stream(1)["uuid"].AsString();
  const int64_t hang_start = Int(Stream(1)["chunks"][0]["start"]);
  const std::string fail_stream = Stream(2)["uuid"].AsString();
  const int64_t fail_start = Int(Stream(2)["chunks"][1]["start"]);
  const std::string command = Script(
      "poison.sh", "read -r context\ncase \"$context\" in\n  *'\"stream\":\"" + hang_stream +
                       "\",\"start\":" + std::to_string(hang_start) +
                       ",'*) exec sleep 30 ;;\n  *'\"stream\":\"" + fail_stream +
                       "\",\"start\":" + std::to_string(fail_start) +
                       ",'*) echo 'poisoned chunk' >&2; exit 3 ;;\nesac\necho '{\"ok\": 1}'\n");
  ASSERT_OK_AND_ASSIGN(
      const JobId job,
      cluster_->Submit({"--collection", kCollection, "--analytic", "exec", "--chunk", "12h",
                        "--param", command, "--param", "timeout=1s", "--max-attempts", "3",
                        "--wait"},
                       /*expected_exit=*/2));

  ASSERT_OK_AND_ASSIGN(const Json show, cluster_->CliJson({"show", std::to_string(job)}));
  EXPECT_EQ(show["job"]["state"].AsString(), "done_with_failures");
  const Json& c = show["job"]["counts"];
  EXPECT_EQ(Int(c["total"]), static_cast<int64_t>(tasks_));
  EXPECT_EQ(Int(c["done"]), static_cast<int64_t>(tasks_) - 2);
  EXPECT_EQ(Int(c["dead"]), 2);
  EXPECT_EQ(Int(c["retried"]), 2);  // the hanging chunk's attempts 2 and 3
  ASSERT_EQ(show["dead_letters"].size(), 2u);
  std::map<ChunkKey, const Json*> dead;
  for (const Json& d : show["dead_letters"].elements()) {
    dead[{d["stream"].AsString(), Int(d["start_ns"])}] = &d;
  }
  ASSERT_TRUE(dead.count({hang_stream, hang_start}));
  const Json& hang = *dead[{hang_stream, hang_start}];
  EXPECT_EQ(Int(hang["attempt"]), 3);
  EXPECT_THAT(hang["error"].AsString(), HasSubstr("timed out"));
  EXPECT_THAT(hang["error"].AsString(), HasSubstr("attempt 3 of 3"));
  ASSERT_TRUE(dead.count({fail_stream, fail_start}));
  const Json& fail = *dead[{fail_stream, fail_start}];
  EXPECT_EQ(Int(fail["attempt"]), 1);
  EXPECT_THAT(fail["error"].AsString(), HasSubstr("poisoned chunk"));

  // The human-readable `show` lists them too.
  const CliRun text = cluster_->Cli({"show", std::to_string(job)});
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr(fail_stream));
  EXPECT_THAT(text.out, HasSubstr("poisoned chunk"));
  EXPECT_THAT(text.out, HasSubstr(hang_stream));

  // Results for every other chunk, none for the poisoned ones.
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  EXPECT_EQ(results.size(), tasks_ - 2);
  std::set<ChunkKey> keys;
  for (const Json& r : results) {
    const ChunkKey key{r["stream"].AsString(), Int(r["start"])};
    EXPECT_TRUE(keys.insert(key).second);
    EXPECT_FALSE(dead.count(key)) << key.first << " @ " << key.second;
    EXPECT_EQ(Int(r["ok"]), 1);
  }
}

TEST_F(PipelineTest, CancelMidJobStopsTheWorkersAndAccountsForEveryTask) {
  ASSERT_OK(cluster_->StartServices(2));  // 2 threads each: credit 4 each
  const int64_t total_credit = 8;
  const std::string command = Script("slow.sh", "read -r context\nsleep 0.2\necho '{\"ok\": 1}'\n");
  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit({"--collection", kCollection, "--analytic", "exec",
                                         "--chunk", "1h", "--param", command}));
  ASSERT_OK(cluster_->WaitForJob(job, DoneAtLeast(4)).status());

  const CliRun cancel = cluster_->Cli({"cancel", std::to_string(job)});
  ASSERT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("cancelled"));
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(job));
  EXPECT_EQ(info["state"].AsString(), "cancelled");
  const Json& c = info["counts"];
  const int64_t total = Int(c["total"]);
  const int64_t done = Int(c["done"]);
  EXPECT_TRUE(c["total_final"].AsBool());
  EXPECT_EQ(total, 4 * 48);  // 4 streams x 48 hours
  EXPECT_GE(done, 4);
  EXPECT_GT(Int(c["cancelled"]), 0);
  EXPECT_EQ(Int(c["in_flight"]), 0);
  EXPECT_EQ(done + Int(c["dead"]) + Int(c["cancelled"]), total);

  // Both workers held leases of the job, so both were told.
  const std::string told = "job " + std::to_string(job) + " cancelled";
  for (const auto& worker : cluster_->workers()) {
    EXPECT_OK(worker->WaitForLine(told, kStartTimeout, true).status());
  }
  // The workers are free again: a later job runs to the end on them.
  ASSERT_OK(cluster_->Submit({"--collection", kCollection, "--analytic", "noop", "--wait"})
                .status());

  // No task was done after the cancel, and results exist only for tasks that were done
  // or in flight (at most the workers' total credit) when it came.
  ASSERT_OK_AND_ASSIGN(const Json after, cluster_->Job(job));
  EXPECT_EQ(after["state"].AsString(), "cancelled");
  EXPECT_EQ(Int(after["counts"]["done"]), done);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  EXPECT_GE(static_cast<int64_t>(results.size()), done);
  EXPECT_LE(static_cast<int64_t>(results.size()), done + total_credit);
  std::set<ChunkKey> keys;
  for (const Json& r : results) {
    EXPECT_TRUE(keys.insert({r["stream"].AsString(), Int(r["start"])}).second);
    EXPECT_EQ(Int(r["start"]) % kHourNs, 0);
  }
}

// The value of an unlabelled (or exactly labelled) metric in Prometheus text, or -1.
double MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

// What "holds" means: the worker runs or queues at most `credit` tasks. The broker's
// in_flight counts leases, which also cover tasks whose result waits for the sink's ACK
// (DONE follows the ACK, while the slot's credit returns as soon as the task ends); those
// are bounded by worker.max_unacked_results, so in_flight <= credit + max_unacked_results.
TEST_F(PipelineTest, ASlowWorkerNeverHoldsMoreThanItsCredit) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  const int port = testing::FreePort();
  constexpr int64_t kCredit = 2;
  constexpr int64_t kMaxUnacked = 1;
  ASSERT_OK_AND_ASSIGN(testing::Subprocess* worker,
                       cluster_->StartWorker({"worker.threads=1", "worker.credit=2",
                                              "worker.max_unacked_results=1",
                                              "worker.http_listen=127.0.0.1:" +
                                                  std::to_string(port)}));
  const std::string command =
      Script("slow.sh", "read -r context\nsleep 0.25\necho '{\"ok\": 1}'\n");
  // 4 streams x 2 hours: 8 tasks of 250 ms on one thread.
  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit({"--collection", kCollection, "--analytic", "exec",
                                         "--chunk", "1h", "--start", "2024-01-01T00:00:00Z",
                                         "--end", "2024-01-01T02:00:00Z", "--param", command}));

  httplib::Client http("127.0.0.1", port);
  int64_t max_active = 0;
  int samples = 0;
  const auto deadline = std::chrono::steady_clock::now() + kJobTimeout;
  while (true) {
    ASSERT_OK_AND_ASSIGN(const Json workers, cluster_->Workers());
    ASSERT_EQ(workers.size(), 1u);
    EXPECT_LE(Int(workers[0]["in_flight"]), kCredit + kMaxUnacked);
    EXPECT_GE(Int(workers[0]["credit"]), 0);
    EXPECT_LE(Int(workers[0]["credit"]), kCredit);

    const httplib::Result metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics) << "worker /metrics unreachable";
    const std::string& text = metrics->body;
    const double active = MetricValue(text, "btrq_worker_tasks_active");
    const double outstanding = MetricValue(text, "btrq_worker_credit_outstanding");
    ASSERT_GE(active, 0) << text;
    ASSERT_GE(outstanding, 0) << text;
    // One snapshot of the worker's ledger: tasks held plus credit not yet used.
    EXPECT_LE(active + outstanding, kCredit);
    EXPECT_EQ(MetricValue(text, "btrq_bad_messages_total{reason=\"over_credit\"}"), 0)
        << "the broker sent a task beyond the credit";
    max_active = std::max(max_active, static_cast<int64_t>(active));
    ++samples;

    ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(job));
    if (info["state"].AsString() == "done") break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the job did not finish";
  }
  // The bound was reached, not just respected: the broker kept the worker's credit used.
  EXPECT_EQ(max_active, kCredit) << samples << " samples";
  EXPECT_TRUE(worker->Running());
}

TEST_F(PipelineTest, BadJobSpecsGetAClearErrorAndExitCode) {
  ASSERT_OK(cluster_->StartServices(0));
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--collection", kCollection, "--analytic", "nosuch"}, 1, "unknown analytic 'nosuch'"},
      {{"--collection", kCollection, "--analytic", "quality", "--param", "rate=-1"}, 1,
       "quality: param 'rate'"},
      {{"--collection", kCollection, "--analytic", "quality", "--chunk", "0s"}, 64,
       "--chunk: must be longer than zero"},
      {{"--collection", kCollection, "--analytic", "quality", "--start", "2024-01-02",
        "--end", "2024-01-01"},
       64, "start"},
      {{"--collection", kCollection, "--analytic", "quality", "--start", "yesterday"}, 64,
       "--start: bad timestamp \"yesterday\""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "submit");
    const CliRun run = cluster_->Cli(args);
    EXPECT_EQ(run.code, c.code) << args[4] << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.message));
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  ASSERT_OK_AND_ASSIGN(const Json jobs, cluster_->CliJson({"jobs", "--all"}));
  EXPECT_EQ(jobs["jobs"].size(), 0u) << "a refused spec became a job";

  // A collection that matches no stream is accepted, then fails with the reason.
  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit({"--collection", "staging/nothing", "--analytic",
                                         "quality", "--wait"},
                                        /*expected_exit=*/3));
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(job));
  EXPECT_EQ(info["state"].AsString(), "failed");
  EXPECT_THAT(info["error"].AsString(),
              HasSubstr("collection 'staging/nothing' matches no stream"));
}

TEST_F(PipelineTest, TagFiltersWithoutAValueSelectStreamsThatHaveTheTag) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  // Every generated stream has a `unit` tag; none has `phase`. No worker yet, so the job
  // stays running and shows its whole spec (a finished one keeps only a summary).
  ASSERT_OK_AND_ASSIGN(const JobId all,
                       cluster_->Submit({"--collection", kCollection, "--tag", "unit",
                                         "--analytic", "noop"}));
  ASSERT_OK_AND_ASSIGN(const Json running, cluster_->WaitForJob(all, Running));
  EXPECT_EQ(Int(running["counts"]["total"]), static_cast<int64_t>(tasks_));
  EXPECT_TRUE(running["spec"]["tags"].Has("unit"));
  EXPECT_TRUE(running["spec"]["tags"]["unit"].is_null());
  ASSERT_OK(cluster_->StartWorker().status());
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->WaitForJobEnd(all));
  ExpectAllDone(info, tasks_);

  const std::string unit = Stream(1)["unit"].AsString();
  ASSERT_OK_AND_ASSIGN(const JobId some,
                       cluster_->Submit({"--collection", kCollection, "--tag", "unit=" + unit,
                                         "--tag", "name", "--analytic", "noop", "--wait"}));
  ASSERT_OK_AND_ASSIGN(const Json some_info, cluster_->Job(some));
  int64_t chunks_with_unit = 0;
  for (const Json& s : cluster_->manifest()["streams"].elements()) {
    if (s["unit"].AsString() == unit) chunks_with_unit += static_cast<int64_t>(s["chunks"].size());
  }
  EXPECT_GT(chunks_with_unit, 0);
  EXPECT_LT(chunks_with_unit, static_cast<int64_t>(tasks_));
  EXPECT_EQ(Int(some_info["counts"]["done"]), chunks_with_unit);

  ASSERT_OK_AND_ASSIGN(const JobId none,
                       cluster_->Submit({"--collection", kCollection, "--tag", "phase",
                                         "--analytic", "noop", "--wait"},
                                        /*expected_exit=*/3));
  ASSERT_OK_AND_ASSIGN(const Json none_info, cluster_->Job(none));
  EXPECT_EQ(none_info["state"].AsString(), "failed");
  EXPECT_THAT(none_info["error"].AsString(), HasSubstr("with the given filters matches no stream"));
}

TEST_F(PipelineTest, ASecondRunInTheSameDirectoryContinuesWhereTheFirstStopped) {
  ASSERT_OK(cluster_->StartServices(2));
  std::vector<std::string> args = QualityJob();
  args.push_back("--wait");
  ASSERT_OK_AND_ASSIGN(const JobId first, cluster_->Submit(args));
  const CliRun first_results = cluster_->Cli({"results", std::to_string(first)});
  ASSERT_EQ(first_results.code, 0) << first_results.err;
  ASSERT_OK(cluster_->StopAll());  // every process exits 0 on SIGTERM

  // Everything again over the same directory: btrdb-lite, broker and sink recover.
  cluster_ = std::make_unique<Cluster>(dir_.path());
  ASSERT_OK(cluster_->StartBtrdb());
  ASSERT_OK(cluster_->LoadManifest());
  ASSERT_OK(cluster_->StartServices(2));

  ASSERT_OK_AND_ASSIGN(const Json old_info, cluster_->Job(first));
  ExpectAllDone(old_info, tasks_);
  const CliRun again = cluster_->Cli({"results", std::to_string(first)});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, first_results.out);

  ASSERT_OK_AND_ASSIGN(const JobId second, cluster_->Submit(args));
  EXPECT_EQ(second, first + 1);
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(second));
  ExpectAllDone(info, tasks_);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(second));
  ExpectResultsEqualTruth(results, cluster_->manifest());
  ASSERT_OK_AND_ASSIGN(const Json jobs, cluster_->CliJson({"jobs", "--all"}));
  EXPECT_EQ(jobs["jobs"].size(), 2u);
}

}  // namespace
}  // namespace btrq::pipeline
