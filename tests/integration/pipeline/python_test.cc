// The `python` analytic end to end: real btrdb-lite, broker, sink and workers whose
// worker.python.modules allows a test module; results checked against the generator's
// manifest, failures against the dead letters.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "tests/integration/pipeline/cluster.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::Json;

constexpr char kCollection[] = "staging/sensors";

constexpr char kModule[] = R"py(
import os
import numpy as np

def counts(times, values, task):
    in_chunk = (times >= task.start) & (times < task.end)
    ok = bool(np.all(np.diff(times) >= 0)) and bool(np.all(in_chunk))
    return {"count": int(values.size), "in_order": ok, "rate": task.params.get("rate", -1)}

def seed_shaped(values):
    # Written for the BTrDB Python client's Stream.values(): (RawPoint, version) pairs.
    return {"count": len(values), "first": values[0][0].time if values else -1}

def at(task):
    return (task.params["at_stream"], int(task.params["at_start"]))

def crash_first_attempt(times, values, task):
    if task.attempt == 1 and (task.stream, task.start) == at(task):
        os._exit(9)
    return int(values.size)

def fails_one(times, values, task):
    if (task.stream, task.start) == at(task):
        raise ValueError("no good chunk at %d" % task.start)
    return int(values.size)
)py";

int64_t Int(const Json& v) { return static_cast<int64_t>(v.AsNumber()); }

std::vector<std::string> WithWait(std::vector<std::string> args) {
  args.push_back("--wait");
  return args;
}

class PythonPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
      GTEST_SKIP() << "/usr/bin/python3 with numpy is needed (Debian python3-numpy)";
    }
    ASSERT_OK(WriteFileAtomically(dir_.File("userfns.py"), kModule));
    cluster_ = std::make_unique<Cluster>(dir_.path() + "/cluster");
    ASSERT_OK(cluster_->StartBtrdb());
    ASSERT_OK(cluster_->Generate({"--streams", "3", "--duration", "2d", "--rate", "2"}));
    for (const Json& stream : cluster_->manifest()["streams"].elements()) {
      for (const Json& chunk : stream["chunks"].elements()) {
        truth_count_[{stream["uuid"].AsString(), Int(chunk["start"])}] = Int(chunk["count"]);
      }
    }
    ASSERT_OK(cluster_->StartBroker());
    ASSERT_OK(cluster_->StartSink());
    for (int i = 0; i < 2; ++i) {
      ASSERT_OK(cluster_->StartWorker({"worker.threads=2", "worker.python.modules=userfns",
                                       "worker.python.path=" + dir_.path()})
                    .status());
    }
  }

  void TearDown() override {
    if (!cluster_) return;
    EXPECT_OK(cluster_->StopAll());
    if (HasFailure() || std::getenv("BTRQ_PIPELINE_LOGS") != nullptr) {
      std::fprintf(stderr, "%s", cluster_->Logs().c_str());
    }
  }

  std::vector<std::string> Job(const std::string& function,
                               std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--collection", kCollection,  "--analytic", "python",
                                     "--chunk",      "12h",         "--param",
                                     "function=userfns:" + function};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Every chunk has exactly one result whose `count` is the manifest's.
  void ExpectCountsEqualTruth(JobId job, const std::string& field) {
    ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
    EXPECT_EQ(results.size(), truth_count_.size());
    std::map<std::pair<std::string, int64_t>, int> seen;
    for (const Json& r : results) {
      const std::pair<std::string, int64_t> key{r["stream"].AsString(), Int(r["start"])};
      ++seen[key];
      ASSERT_TRUE(truth_count_.count(key)) << key.first << " @ " << key.second;
      EXPECT_EQ(Int(r[field]), truth_count_[key]) << key.first << " @ " << key.second;
    }
    for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.first << " @ " << key.second;
  }

  // Params naming one chunk: stream 0's second.
  std::vector<std::string> AtOneChunk() const {
    const Json& stream = cluster_->manifest()["streams"][0];
    return {"--param", "at_stream=" + stream["uuid"].AsString(), "--param",
            "at_start=" + ChunkStart()};
  }
  std::string ChunkStart() const {
    return std::to_string(Int(cluster_->manifest()["streams"][0]["chunks"][1]["start"]));
  }

  ::btrq::testing::TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
  std::map<std::pair<std::string, int64_t>, int64_t> truth_count_;
};

TEST_F(PythonPipelineTest, NumpyFunctionSeesEveryPointOfItsChunkInOrder) {
  std::vector<std::string> args = Job("counts", {"--wait"});
  ASSERT_OK_AND_ASSIGN(const JobId job, cluster_->Submit(args));
  ExpectCountsEqualTruth(job, "count");
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  for (const Json& r : results) {
    EXPECT_EQ(Int(r["in_order"]), 1);
    EXPECT_GT(Int(r["rate"]), 0);  // the stream's pinned rate reached task.params
  }
}

TEST_F(PythonPipelineTest, AFunctionWrittenForTheBtrdbClientRunsUnchanged) {
  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit(Job("seed_shaped", {"--param", "input=points", "--wait"})));
  ExpectCountsEqualTruth(job, "count");
}

TEST_F(PythonPipelineTest, ACrashedInterpreterIsReplacedAndItsTaskRetried) {
  ASSERT_OK_AND_ASSIGN(
      const JobId job,
      cluster_->Submit(Job("crash_first_attempt", WithWait(AtOneChunk()))));
  ASSERT_OK_AND_ASSIGN(const Json info, cluster_->Job(job));
  EXPECT_EQ(info["state"].AsString(), "done");
  EXPECT_EQ(Int(info["counts"]["dead"]), 0);
  EXPECT_EQ(Int(info["counts"]["retried"]), 1);
  ExpectCountsEqualTruth(job, "value");
}

TEST_F(PythonPipelineTest, AnExceptionDeadLettersItsTaskWithTheTraceback) {
  ASSERT_OK_AND_ASSIGN(
      const JobId job,
      cluster_->Submit(Job("fails_one", WithWait(AtOneChunk())),
                       /*expected_exit=*/2));
  ASSERT_OK_AND_ASSIGN(const Json show, cluster_->CliJson({"show", std::to_string(job)}));
  ASSERT_EQ(show["dead_letters"].size(), 1u);
  const std::string error = show["dead_letters"][0]["error"].AsString();
  EXPECT_THAT(error, HasSubstr("ValueError: no good chunk at " + ChunkStart()));
  EXPECT_THAT(error, HasSubstr("userfns.py"));
  EXPECT_EQ(Int(show["job"]["counts"]["done"]), static_cast<int64_t>(truth_count_.size()) - 1);
}

TEST_F(PythonPipelineTest, AModuleNoWorkerAllowsIsRefusedAtSubmit) {
  std::vector<std::string> args = {"--collection", kCollection, "--analytic", "python",
                                   "--param",      "function=os:system"};
  const CliRun run = cluster_->Cli([&] {
    std::vector<std::string> full = {"submit"};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }());
  EXPECT_NE(run.code, 0);
  EXPECT_THAT(run.err, HasSubstr("no connected worker allows the python module 'os'"));
}

TEST_F(PythonPipelineTest, AWorkerWhosePythonCannotStartOffersNoPython) {
  ASSERT_OK(cluster_->StartWorker({"worker.python.modules=userfns",
                                   "worker.python.interpreter=/nonexistent/python3"})
                .status());
  ASSERT_OK_AND_ASSIGN(const Json workers, cluster_->Workers());
  ASSERT_EQ(workers.size(), 3u);
  int offering = 0;
  for (const Json& w : workers.elements()) {
    for (const Json& a : w["analytics"].elements()) offering += a.AsString() == "python";
  }
  EXPECT_EQ(offering, 2);
}

}  // namespace
}  // namespace btrq::pipeline
