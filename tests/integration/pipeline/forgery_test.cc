// Hostile peers against a real deployment (issue #14, "nothing forged"): a peer that
// forges results for the next job, a peer that says DONE "ok" without storing anything,
// and exec jobs that no worker allows. The cluster library gives the broker and the sink
// a lease secret per deployment; workers run exec only for /bin/sh.

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/zmq_util.h"
#include "tests/integration/pipeline/cluster.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::Json;

constexpr char kCollection[] = "staging/sensors";

int64_t Int(const Json& v) { return static_cast<int64_t>(v.AsNumber()); }

// A raw DEALER that speaks the wire protocol as any peer on the network could.
class Peer {
 public:
  explicit Peer(const std::string& endpoint) {
    SocketOptions o;
    o.linger_ms = 0;
    auto made = MakeSocket(context_, zmq::socket_type::dealer, o);
    EXPECT_OK(made);
    socket_ = std::move(made).value();
    EXPECT_OK(Connect(socket_, endpoint));
  }
  void Send(const Message& m) {
    const std::string body = EncodeMessage(m);
    EXPECT_OK(SendMultipart(socket_, std::vector<std::string_view>{body}, false));
  }
  // The next message of type T within `timeout`; nullopt if none came.
  template <typename T>
  std::optional<T> Next(milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::vector<zmq::message_t> frames;
    while (std::chrono::steady_clock::now() < until) {
      Result<bool> ready = PollIn(socket_, milliseconds(50));
      if (!ready.ok() || !*ready || !RecvMultipart(socket_, 4, &frames).ok()) continue;
      Result<Message> m = DecodeMessage(frames.back().to_string_view(), CodecLimits());
      if (m.ok() && std::holds_alternative<T>(*m)) return std::get<T>(*m);
    }
    return std::nullopt;
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

class ForgeryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(dir_.path());
    ASSERT_OK(cluster_->StartBtrdb());
    ASSERT_OK(cluster_->Generate({"--streams", "2", "--duration", "1d", "--rate", "1"}));
  }
  void TearDown() override {
    if (!cluster_) return;
    EXPECT_OK(cluster_->StopAll());
    if (HasFailure()) std::fprintf(stderr, "%s", cluster_->Logs().c_str());
  }

  const Json& FirstChunk() const { return cluster_->manifest()["streams"][0]["chunks"][0]; }
  TaskKey FirstKey(JobId job) const {
    TaskKey key;
    key.job = job;
    key.stream = Uuid::Parse(cluster_->manifest()["streams"][0]["uuid"].AsString()).value();
    key.start = Int(FirstChunk()["start"]);
    return key;
  }

  testing::TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
};

// Issue #14: a result forged in advance for the next job id became that job's result,
// and the real one was dropped as a duplicate.
TEST_F(ForgeryTest, AResultForgedForTheNextJobIsNotItsResult) {
  ASSERT_OK(cluster_->StartServices(1));
  Peer forger(cluster_->deployment().sink_results());
  TaskResult forged;
  forged.task = {FirstKey(1), 1};
  forged.end = Int(FirstChunk()["end"]);
  forged.worker_id = "forger";
  forged.fields = {{"count", int64_t{999999}}};
  forger.Send(Message(ResultMsg{{forged}}));
  // Without a lease token the sink neither stores nor acknowledges it.
  EXPECT_FALSE(forger.Next<AckMsg>(milliseconds(1000)).has_value());

  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit({"--collection", kCollection, "--analytic", "count",
                                         "--chunk", "12h", "--wait"}));
  ASSERT_EQ(job, 1u);
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  bool seen = false;
  for (const Json& r : results) {
    if (r["stream"].AsString() != forged.task.key.stream.ToString() ||
        Int(r["start"]) != forged.task.key.start) {
      continue;
    }
    seen = true;
    EXPECT_EQ(Int(r["count"]), Int(FirstChunk()["count"]));
  }
  EXPECT_TRUE(seen);
}

// Issue #14: a peer could say DONE "ok" for a task with no result stored.
TEST_F(ForgeryTest, DoneOkWithoutAStoredResultDoesNotCount) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  // The forger is the only worker when the job starts: it gets tasks and answers each
  // with DONE "ok" at once, storing nothing.
  Peer forger(cluster_->deployment().broker_tasks());
  HelloMsg hello;
  hello.worker_id = "forger";
  hello.host = "nowhere";
  hello.threads = 1;
  hello.analytics = {"count"};
  forger.Send(Message(hello));
  forger.Send(Message(CreditMsg{4}));
  ASSERT_OK_AND_ASSIGN(const JobId job,
                       cluster_->Submit({"--collection", kCollection, "--analytic", "count",
                                         "--chunk", "12h", "--task-timeout", "2s"}));
  std::optional<TaskMsg> tasks = forger.Next<TaskMsg>(kStartTimeout);
  ASSERT_TRUE(tasks.has_value());
  DoneMsg done;
  for (const TaskSpec& t : tasks->tasks) done.items.push_back({{t.key, t.attempt}});
  forger.Send(Message(done));
  // The forger then goes silent; a real worker finishes the job, every task with a result.
  ASSERT_OK(cluster_->StartWorker().status());
  ASSERT_OK_AND_ASSIGN(const Json end, cluster_->WaitForJobEnd(job));
  EXPECT_EQ(end["state"].AsString(), "done");
  ASSERT_OK_AND_ASSIGN(const std::vector<Json> results, cluster_->Results(job));
  EXPECT_EQ(static_cast<int64_t>(results.size()), Int(end["counts"]["total"]));
  EXPECT_EQ(Int(end["counts"]["done"]), Int(end["counts"]["total"]));
}

// Issue #14: `exec` ran any command (`sh -c id`) for anyone who could reach the API.
TEST_F(ForgeryTest, ExecIsRefusedAtSubmitUnlessAConnectedWorkerAllowsIt) {
  ASSERT_OK(cluster_->StartBroker());
  ASSERT_OK(cluster_->StartSink());
  const std::vector<std::string> id_job = {"submit", "--collection", kCollection, "--analytic",
                                           "exec", "--chunk", "12h", "--param",
                                           "command=/usr/bin/id"};
  CliRun refused = cluster_->Cli(id_job);
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.err, HasSubstr("no connected worker allows exec of '/usr/bin/id'"));

  ASSERT_OK(cluster_->StartWorker().status());  // allows /bin/sh only
  refused = cluster_->Cli(id_job);
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.err, HasSubstr("no connected worker allows exec of '/usr/bin/id'"));
  refused = cluster_->Cli({"submit", "--collection", kCollection, "--analytic", "exec",
                           "--chunk", "12h", "--param", "command=sh -c id"});
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.err, HasSubstr("absolute path"));

  // A job the first worker allows: its tasks wait for `release`, so the worker holds
  // its credit's worth and no more.
  const std::string release = dir_.File("release");
  const std::string script = dir_.File("hold.sh");
  std::ofstream(script) << "read -r ctx\nwhile [ ! -e '" << release
                        << "' ]; do sleep 0.05; done\ncat >/dev/null\necho '{\"ok\": 1}'\n";
  ASSERT_OK_AND_ASSIGN(const JobId id,
                       cluster_->Submit({"--collection", kCollection, "--analytic", "exec",
                                         "--chunk", "1h", "--max-attempts", "1", "--param",
                                         "command=/bin/sh " + script}));
  ASSERT_OK(cluster_->WaitForJob(id, [](const Json& j) {
    return Int(j["counts"]["in_flight"]) > 0;
  }).status());
  // The rest go to a worker whose list lacks /bin/sh: it dead-letters each, naming it.
  ASSERT_OK_AND_ASSIGN(const Json workers, cluster_->Workers());
  const std::string first = workers.elements().at(0)["id"].AsString();
  ASSERT_EQ(cluster_->Cli({"drain", first}).code, 0);
  ASSERT_OK(cluster_->StartWorker({"worker.exec.commands=/usr/bin/*"}).status());
  ASSERT_OK(cluster_->WaitForJob(id, [](const Json& j) {
    return Int(j["counts"]["dead"]) > 0 && Int(j["counts"]["pending"]) == 0;
  }).status());
  std::ofstream(release) << "go\n";
  ASSERT_OK_AND_ASSIGN(const Json end, cluster_->WaitForJobEnd(id));
  EXPECT_EQ(end["state"].AsString(), "done_with_failures");
  EXPECT_EQ(Int(end["counts"]["done"]) + Int(end["counts"]["dead"]),
            Int(end["counts"]["total"]));
  const CliRun show = cluster_->Cli({"show", std::to_string(id)});
  EXPECT_THAT(show.out, HasSubstr("'/bin/sh' is not allowed by this worker's "
                                  "worker.exec.commands"));
}

}  // namespace
}  // namespace btrq::pipeline
