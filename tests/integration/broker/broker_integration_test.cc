// The broker in-process on free ports with a temporary data dir, btrdb-lite in-process
// as its BTrDB, scripted fake workers on the ZeroMQ side and the generated gRPC stub on
// the control side: jobs expand into aligned chunks, credit bounds dispatch, failures
// retry and dead-letter, cancel and retry work, hostile frames are counted, /metrics
// parses, and a restart on the same data dir keeps what was done.

#include "broker/broker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "btrdb/client.h"
#include "lite/server.h"
#include "common/codec.h"
#include "tests/integration/broker/fake_worker.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "btrq/v1/control.grpc.pb.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>

namespace btrq::broker {
namespace {

using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAreArray;

constexpr int64_t kSecond = 1'000'000'000;
// A multiple of the 1 s chunk, so chunk starts are T0 + k seconds.
constexpr int64_t kT0 = int64_t{1'700'000'000} * kSecond;
constexpr milliseconds kWait(10'000);
constexpr int64_t kMaxMessageBytes = 64 * 1024;

Uuid MakeUuid(uint8_t n) {
  Uuid u;
  for (size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<uint8_t>(n * 16 + i);
  u.bytes[6] = 0x40 | (u.bytes[6] & 0x0f);
  u.bytes[8] = 0x80 | (u.bytes[8] & 0x3f);
  return u;
}

using ChunkOf = std::tuple<Uuid, int64_t, int64_t>;  // stream, start, end

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lite::ServerOptions lite_options;
    lite_options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(lite_, lite::Server::Start(lite_options));
    btrdb::ConnectOptions connect;
    connect.endpoints = {lite_->address()};
    ASSERT_OK_AND_ASSIGN(btrdb_, btrdb::Client::Connect(connect));

    config_.btrdb.endpoints = lite_->address();
    config_.btrdb.call_timeout = 5 * kSecond;
    BrokerOptions& b = config_.broker;
    b.control_listen = "127.0.0.1:0";
    b.tasks_listen = "tcp://127.0.0.1:*";
    b.http_listen = "127.0.0.1:0";
    b.data_dir = dir_.File("broker");
    b.heartbeat_interval = 100'000'000;  // 100ms: a silent worker is dead after 300ms
    b.liveness = 3;
    b.retry_backoff = 10'000'000;
    b.retry_backoff_max = 50'000'000;
    b.journal_sync = 1'000'000;
    b.max_message_bytes = kMaxMessageBytes;
  }

  void TearDown() override {
    StopBroker();
    btrdb_.reset();
    if (lite_) lite_->Shutdown();
  }

  void StartBroker() {
    ASSERT_OK_AND_ASSIGN(broker_, Broker::Create(config_, SystemClock::Default()));
    runner_ = std::thread([this] { run_status_ = broker_->Run(); });
    stub_ = v1::Broker::NewStub(
        grpc::CreateChannel(broker_->control_endpoint(), grpc::InsecureChannelCredentials()));
  }

  void StopBroker() {
    if (!broker_) return;
    broker_->Shutdown();
    runner_.join();
    EXPECT_OK(run_status_);
    broker_.reset();
  }

  // A stream in `collection` with points at kT0 + each offset (ns).
  Uuid AddStream(uint8_t n, const std::string& collection, const std::vector<int64_t>& offsets,
                 const btrdb::KeyOptValues& annotations = {}) {
    const Uuid u = MakeUuid(n);
    EXPECT_OK(btrdb_->Create(u, collection, {{"name", "s" + std::to_string(n)}}, annotations));
    std::vector<btrdb::RawPoint> points;
    for (int64_t off : offsets) points.push_back({kT0 + off, 1.0});
    EXPECT_OK(btrdb_->Insert(u, points));
    return u;
  }

  // A stream with one point in each of `chunks` consecutive 1 s chunks from kT0.
  Uuid AddChunkedStream(uint8_t n, const std::string& collection, int chunks) {
    std::vector<int64_t> offsets;
    for (int i = 0; i < chunks; ++i) offsets.push_back(i * kSecond + kSecond / 2);
    return AddStream(n, collection, offsets);
  }

  static v1::JobSpec Spec(const std::string& collection, bool prefix = false) {
    v1::JobSpec spec;
    spec.set_name("test job");
    spec.set_collection(collection);
    spec.set_collection_prefix(prefix);
    spec.set_chunk_ns(kSecond);
    spec.set_analytic("noop");
    return spec;
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + kWait);
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  grpc::Status Submit(const v1::JobSpec& spec, uint64_t* id) {
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitJobResponse response;
    grpc::Status s = stub_->SubmitJob(Context().get(), request, &response);
    *id = response.job_id();
    return s;
  }

  uint64_t SubmitOk(const v1::JobSpec& spec) {
    uint64_t id = 0;
    const grpc::Status s = Submit(spec, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  v1::Job GetJob(uint64_t id) {
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::Job job;
    const grpc::Status s = stub_->GetJob(Context().get(), request, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }

  // Polls GetJob until `done` holds or the deadline passes; returns the last answer.
  v1::Job WaitForJob(uint64_t id, const std::function<bool(const v1::Job&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    v1::Job job = GetJob(id);
    while (!done(job) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
      job = GetJob(id);
    }
    EXPECT_TRUE(done(job)) << job.DebugString();
    return job;
  }
  v1::Job WaitForState(uint64_t id, v1::JobState state) {
    return WaitForJob(id, [state](const v1::Job& j) { return j.state() == state; });
  }

  std::string Http(const std::string& path, int* status = nullptr) {
    httplib::Client client("http://" + broker_->http_endpoint());
    auto res = client.Get(path);
    if (status != nullptr) *status = res ? res->status : 0;
    return res ? res->body : "";
  }

  // Waits until /metrics contains `needle`; returns the last text seen.
  std::string WaitForMetrics(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    std::string text = Http("/metrics");
    while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
      text = Http("/metrics");
    }
    EXPECT_THAT(text, HasSubstr(needle));
    return text;
  }

  std::unique_ptr<testing::FakeWorker> Worker(const std::string& id) {
    auto w = testing::FakeWorker::Connect(broker_->tasks_endpoint(), id);
    EXPECT_OK(w);
    return w.ok() ? std::move(w).value() : nullptr;
  }

  // Two BROKER_HEARTBEATs: everything the broker decided before is on the wire.
  static void Settle(testing::FakeWorker& w) {
    ASSERT_OK(w.Next<BrokerHeartbeatMsg>(kWait));
    ASSERT_OK(w.Next<BrokerHeartbeatMsg>(kWait));
  }

  static std::vector<ChunkOf> Chunks(const std::vector<TaskSpec>& tasks) {
    std::vector<ChunkOf> out;
    for (const TaskSpec& t : tasks) out.emplace_back(t.key.stream, t.key.start, t.end);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<lite::Server> lite_;
  std::unique_ptr<btrdb::Client> btrdb_;
  BtrqConfig config_;
  std::unique_ptr<Broker> broker_;
  std::thread runner_;
  Status run_status_;
  std::unique_ptr<v1::Broker::Stub> stub_;
};

TEST_F(BrokerTest, SubmittedJobExpandsIntoAlignedChunksAndFinishesOnDone) {
  // a: points in chunks 1, 2 and 4 (3 is empty but inside the extent); b: chunk 3 only.
  const Uuid a = AddStream(1, "grid/site1", {kSecond + kSecond / 2, 2 * kSecond + 200,
                                             4 * kSecond + 100},
                           {{"rate", "50"}});
  const Uuid b = AddStream(2, "grid/site2", {3 * kSecond, 3 * kSecond + kSecond / 2});
  AddStream(3, "other/site", {kSecond});
  StartBroker();

  const uint64_t id = SubmitOk(Spec("grid/", /*prefix=*/true));
  EXPECT_EQ(id, 1u);
  auto w = Worker("w1");
  ASSERT_OK(w->Hello(100));
  ASSERT_OK(w->WaitForTasks(5, kWait));
  Settle(*w);

  const std::vector<ChunkOf> expected = {
      {a, kT0 + 1 * kSecond, kT0 + 2 * kSecond}, {a, kT0 + 2 * kSecond, kT0 + 3 * kSecond},
      {a, kT0 + 3 * kSecond, kT0 + 4 * kSecond}, {a, kT0 + 4 * kSecond, kT0 + 5 * kSecond},
      {b, kT0 + 3 * kSecond, kT0 + 4 * kSecond}};
  EXPECT_THAT(Chunks(w->tasks()), UnorderedElementsAreArray(expected));
  ASSERT_OK_AND_ASSIGN(uint64_t version_a, btrdb_->Version(a));
  ASSERT_OK_AND_ASSIGN(uint64_t version_b, btrdb_->Version(b));
  for (const TaskSpec& t : w->tasks()) {
    EXPECT_EQ(t.key.job, id);
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(t.analytic, "noop");
    if (t.key.stream == a) {
      EXPECT_EQ(t.version, version_a);
      EXPECT_EQ(t.stream_earliest, kT0 + kSecond + kSecond / 2);
      EXPECT_EQ(t.stream_latest, kT0 + 4 * kSecond + 100);
      // The stream's `rate` annotation reaches the analytic as a param.
      EXPECT_THAT(t.params, Contains(Pair("rate", FieldValue(50.0))));
    } else {
      EXPECT_EQ(t.version, version_b);
      EXPECT_TRUE(t.params.empty());
    }
  }

  // Watch while the job finishes: the stream ends after the final state.
  std::vector<v1::Job> watched;
  grpc::Status watch_status;
  std::thread watcher([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    v1::WatchJobRequest request;
    request.set_job_id(id);
    request.set_interval_ns(20'000'000);
    auto reader = stub_->WatchJob(&context, request);
    v1::Job job;
    while (reader->Read(&job)) watched.push_back(job);
    watch_status = reader->Finish();
  });
  ASSERT_OK(w->Done(w->tasks()));
  const v1::Job job = WaitForState(id, v1::DONE);
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_FALSE(watched.empty());
  EXPECT_EQ(watched.back().state(), v1::DONE);
  EXPECT_EQ(job.counts().total(), 5u);
  EXPECT_TRUE(job.counts().total_final());
  EXPECT_EQ(job.counts().done(), 5u);
  EXPECT_EQ(job.counts().pending(), 0u);
  EXPECT_EQ(job.eta_seconds(), 0);
  EXPECT_GT(job.finished_at(), 0);
}

TEST_F(BrokerTest, BadSpecsAreRefusedWithClearErrors) {
  AddChunkedStream(1, "grid/a", 2);
  StartBroker();
  struct Case {
    std::string what;
    std::function<void(v1::JobSpec*)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown analytic", [](v1::JobSpec* s) { s->set_analytic("nope"); },
       "unknown analytic 'nope'"},
      {"bad params",
       [](v1::JobSpec* s) {
         v1::Field* f = s->add_params();
         f->set_name("bogus");
         f->mutable_value()->set_int_value(1);
       },
       "bogus"},
      {"negative chunk", [](v1::JobSpec* s) { s->set_chunk_ns(-5); }, "chunk must be positive"},
      {"start not before end",
       [](v1::JobSpec* s) {
         s->set_has_start(true);
         s->set_start(kT0 + 10);
         s->set_has_end(true);
         s->set_end(kT0 + 10);
       },
       "is not before end"},
      {"no streams", [](v1::JobSpec* s) { s->clear_collection(); }, "give a collection"},
      {"short uuid", [](v1::JobSpec* s) { s->add_streams("abc"); }, "16-byte UUID"},
  };
  for (const Case& c : cases) {
    v1::JobSpec spec = Spec("grid/a");
    c.edit(&spec);
    uint64_t id = 0;
    const grpc::Status s = Submit(spec, &id);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.what;
  }
  // Nothing was journaled.
  v1::ListJobsRequest request;
  request.set_include_finished(true);
  v1::ListJobsResponse response;
  ASSERT_TRUE(stub_->ListJobs(Context().get(), request, &response).ok());
  EXPECT_EQ(response.jobs_size(), 0);
}

TEST_F(BrokerTest, AJobWhoseStreamsDoNotExistFails) {
  StartBroker();
  const uint64_t none = SubmitOk(Spec("nothing/here", /*prefix=*/true));
  const v1::Job failed = WaitForState(none, v1::FAILED);
  EXPECT_THAT(failed.error(), HasSubstr("collection 'nothing/here' (prefix) matches no stream"));

  v1::JobSpec explicit_spec = Spec("");
  const Uuid missing = MakeUuid(9);
  explicit_spec.add_streams(std::string(missing.AsBytes()));
  const uint64_t id = SubmitOk(explicit_spec);
  const v1::Job job = WaitForState(id, v1::FAILED);
  EXPECT_THAT(job.error(), HasSubstr("stream " + missing.ToString() + " does not exist"));
}

// Submitting does not ask BTrDB: a job submitted while it is away is accepted (durable),
// says what it waits for, and expands once BTrDB is back.
TEST_F(BrokerTest, AJobSubmittedWhileBtrdbIsAwayIsAcceptedAndExpandsOnceItIsBack) {
  StartBroker();
  const std::string address = lite_->address();
  btrdb_.reset();
  lite_->Shutdown();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  ASSERT_NE(id, 0u);
  const v1::Job waiting = WaitForJob(id, [](const v1::Job& j) {
    return j.error().find("waiting for BTrDB") != std::string::npos;
  });
  EXPECT_NE(waiting.state(), v1::FAILED);

  // BTrDB is back (a new one on the same address, given the stream).
  lite::ServerOptions lite_options;
  lite_options.listen = address;
  ASSERT_OK_AND_ASSIGN(lite_, lite::Server::Start(lite_options));
  btrdb::ConnectOptions connect;
  connect.endpoints = {lite_->address()};
  ASSERT_OK_AND_ASSIGN(btrdb_, btrdb::Client::Connect(connect));
  AddChunkedStream(1, "grid/a", 2);
  const v1::Job expanded = WaitForJob(id, [](const v1::Job& j) {
    return j.counts().total_final() && j.counts().total() == 2;
  });
  EXPECT_EQ(expanded.state(), v1::RUNNING);
  EXPECT_EQ(expanded.error(), "");
}

TEST_F(BrokerTest, AWorkerNeverGetsMoreTasksThanItsCredit) {
  AddChunkedStream(1, "grid/a", 10);
  StartBroker();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  auto w = Worker("w1");
  ASSERT_OK(w->Hello(3));
  ASSERT_OK(w->WaitForTasks(3, kWait));
  Settle(*w);
  EXPECT_EQ(w->tasks().size(), 3u);

  ASSERT_OK(w->Done(w->tasks()));
  ASSERT_OK(w->Send(Message(CreditMsg{2})));
  ASSERT_OK(w->WaitForTasks(5, kWait));
  Settle(*w);
  EXPECT_EQ(w->tasks().size(), 5u);

  v1::BrokerStats stats;
  ASSERT_TRUE(stub_->GetStats(Context().get(), v1::GetStatsRequest(), &stats).ok());
  EXPECT_EQ(stats.credit_outstanding(), 0u);
  EXPECT_EQ(stats.in_flight(), 2u);
  EXPECT_EQ(stats.workers(), 1u);
  EXPECT_EQ(stats.tasks_done_total(), 3u);

  ASSERT_OK(w->Done(w->held()));
  ASSERT_OK(w->Send(Message(CreditMsg{100})));
  ASSERT_OK(w->WaitForTasks(10, kWait));
  ASSERT_OK(w->Done(w->held()));
  EXPECT_EQ(WaitForState(id, v1::DONE).counts().done(), 10u);
}

TEST_F(BrokerTest, ASilentWorkersTasksGoToAnotherWorkerWithTheNextAttempt) {
  AddChunkedStream(1, "grid/a", 2);
  StartBroker();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  auto silent = Worker("silent");
  silent->set_heartbeat_every(milliseconds(0));
  ASSERT_OK(silent->Hello(10));
  ASSERT_OK(silent->WaitForTasks(2, kWait));

  auto alive = Worker("alive");
  ASSERT_OK(alive->Hello(10));
  ASSERT_OK(alive->WaitForTasks(2, kWait));
  EXPECT_THAT(Chunks(alive->tasks()), UnorderedElementsAreArray(Chunks(silent->tasks())));
  for (const TaskSpec& t : alive->tasks()) EXPECT_EQ(t.attempt, 2u);

  v1::ListWorkersResponse workers;
  ASSERT_TRUE(stub_->ListWorkers(Context().get(), v1::ListWorkersRequest(), &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).id(), "alive");
  EXPECT_EQ(workers.workers(0).in_flight(), 2u);

  ASSERT_OK(alive->Done(alive->tasks()));
  const v1::Job job = WaitForState(id, v1::DONE);
  EXPECT_EQ(job.counts().retried(), 2u);
  EXPECT_EQ(job.counts().done(), 2u);
}

TEST_F(BrokerTest, APoisonTaskIsDeadLetteredWhileTheRestCompletesAndRetryRequeuesIt) {
  AddChunkedStream(1, "grid/a", 3);
  StartBroker();
  v1::JobSpec spec = Spec("grid/a");
  spec.set_max_attempts(2);
  const uint64_t id = SubmitOk(spec);
  auto w = Worker("w1");
  ASSERT_OK(w->Hello(10));
  ASSERT_OK(w->WaitForTasks(3, kWait));
  const TaskSpec poison = w->tasks()[0];
  ASSERT_OK(w->Done({w->tasks()[1], w->tasks()[2]}));
  ASSERT_OK(w->Done({poison}, ErrorClass::kTransient, "BTrDB timeout"));

  ASSERT_OK(w->WaitForTasks(4, kWait));
  const TaskSpec second = w->tasks()[3];
  EXPECT_EQ(second.key, poison.key);
  EXPECT_EQ(second.attempt, 2u);
  ASSERT_OK(w->Done({second}, ErrorClass::kTransient, "BTrDB timeout"));

  const v1::Job failed = WaitForState(id, v1::DONE_WITH_FAILURES);
  EXPECT_EQ(failed.counts().done(), 2u);
  EXPECT_EQ(failed.counts().dead(), 1u);
  v1::ListDeadLettersRequest request;
  request.set_job_id(id);
  v1::ListDeadLettersResponse dead;
  ASSERT_TRUE(stub_->ListDeadLetters(Context().get(), request, &dead).ok());
  ASSERT_EQ(dead.dead_size(), 1);
  EXPECT_EQ(dead.dead(0).key().start(), poison.key.start);
  EXPECT_EQ(dead.dead(0).key().stream(), std::string(poison.key.stream.AsBytes()));
  EXPECT_EQ(dead.dead(0).end(), poison.end);
  EXPECT_EQ(dead.dead(0).attempt(), 2u);
  EXPECT_THAT(dead.dead(0).error(), HasSubstr("BTrDB timeout"));

  v1::RetryJobRequest retry;
  retry.set_job_id(id);
  v1::Job retried;
  ASSERT_TRUE(stub_->RetryJob(Context().get(), retry, &retried).ok());
  EXPECT_EQ(retried.state(), v1::RUNNING);
  ASSERT_OK(w->WaitForTasks(5, kWait));
  const TaskSpec third = w->tasks()[4];
  EXPECT_EQ(third.key, poison.key);
  EXPECT_EQ(third.attempt, 1u);
  ASSERT_OK(w->Done({third}));
  const v1::Job done = WaitForState(id, v1::DONE);
  EXPECT_EQ(done.counts().done(), 3u);
  EXPECT_EQ(done.counts().dead(), 0u);
}

TEST_F(BrokerTest, CancelMidJobSendsCancelAndEndsTheJobCancelled) {
  AddChunkedStream(1, "grid/a", 6);
  StartBroker();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  auto w = Worker("w1");
  ASSERT_OK(w->Hello(2));
  ASSERT_OK(w->WaitForTasks(2, kWait));

  v1::CancelJobRequest request;
  request.set_job_id(id);
  v1::Job cancelled;
  ASSERT_TRUE(stub_->CancelJob(Context().get(), request, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  ASSERT_OK_AND_ASSIGN(CancelMsg notice, w->Next<CancelMsg>(kWait));
  EXPECT_EQ(notice.job, id);
  const v1::Job job = GetJob(id);
  EXPECT_EQ(job.state(), v1::CANCELLED);
  EXPECT_EQ(job.counts().cancelled(), 6u);
  EXPECT_EQ(job.counts().done(), 0u);

  // A second cancel is refused: the job has finished.
  v1::Job again;
  EXPECT_EQ(stub_->CancelJob(Context().get(), request, &again).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(BrokerTest, HostileFramesAreCountedAndTheNextValidMessageIsServed) {
  AddChunkedStream(1, "grid/a", 2);
  StartBroker();
  auto w = Worker("w1");
  w->set_heartbeat_every(milliseconds(0));  // nothing but what is sent below
  ASSERT_OK(w->SendFrames({std::string("\xc1garbage", 8)}));                 // malformed
  ASSERT_OK(w->SendFrames({std::string(kMaxMessageBytes + 1, '\x90')}));     // too_large
  ASSERT_OK(w->SendFrames({EncodeMessage(Message(AckMsg{}))}));             // wrong_type
  ASSERT_OK(w->SendFrames({"x", "y", EncodeMessage(Message(ByeMsg{}))}));    // envelope
  ASSERT_OK(w->SendFrames({std::string("\x93\x07\x01\x80", 4)}));            // bad_version
  ASSERT_OK_AND_ASSIGN(RejectMsg version, w->Next<RejectMsg>(kWait));
  EXPECT_THAT(version.reason, HasSubstr("protocol version mismatch"));
  ASSERT_OK(w->Send(Message(CreditMsg{5})));                                 // before HELLO
  ASSERT_OK_AND_ASSIGN(RejectMsg unknown, w->Next<RejectMsg>(kWait));
  EXPECT_EQ(unknown.reason, "unknown worker");

  const uint64_t id = SubmitOk(Spec("grid/a"));
  ASSERT_OK(w->Hello(5));
  w->set_heartbeat_every(milliseconds(50));
  ASSERT_OK(w->WaitForTasks(2, kWait));
  // A DONE for a task never dispatched is refused and counted; the real ones count.
  TaskSpec forged = w->tasks()[0];
  forged.attempt = 7;
  ASSERT_OK(w->Done({forged}));
  ASSERT_OK(w->Done(w->tasks()));
  EXPECT_EQ(WaitForState(id, v1::DONE).counts().done(), 2u);

  const std::string metrics = WaitForMetrics("btrq_bad_messages_total{reason=\"stale_done\"} 1\n");
  for (const char* reason : {"malformed", "too_large", "wrong_type", "envelope", "bad_version",
                             "unknown_worker"}) {
    EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"" + std::string(reason) +
                                   "\"} 1\n"));
  }
}

TEST_F(BrokerTest, MetricsParseAndShowQueueDepth) {
  AddChunkedStream(1, "grid/a", 4);
  StartBroker();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  const std::string text =
      WaitForMetrics("btrq_queue_depth{job_id=\"" + std::to_string(id) + "\"} 4\n");
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfNa]+$)");
  std::istringstream lines(text);
  std::string line;
  size_t samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10u);
  for (const char* needle :
       {"btrq_queue_depth_all 4\n", "btrq_tasks_inflight 0\n", "btrq_workers 0\n",
        "btrq_credit_outstanding 0\n", "btrq_oldest_ready_task_age_seconds ",
        "btrq_tasks_total{status=\"done\"} 0\n", "btrq_journal_fsync_seconds_count ",
        "btrq_build_info{version=", "btrq_bad_messages_total{reason=\"malformed\"} 0\n"}) {
    EXPECT_THAT(text, HasSubstr(needle));
  }
  int status = 0;
  EXPECT_EQ(Http("/livez", &status), "ok\n");
  EXPECT_EQ(status, 200);
  Http("/readyz", &status);
  EXPECT_EQ(status, 200);
}

TEST_F(BrokerTest, ARestartOnTheSameDataDirKeepsJobsAndDoesNotRedoDoneTasks) {
  AddChunkedStream(1, "grid/a", 3);
  StartBroker();
  const uint64_t id = SubmitOk(Spec("grid/a"));
  std::vector<TaskSpec> first;
  {
    auto w = Worker("w1");
    ASSERT_OK(w->Hello(3));
    ASSERT_OK(w->WaitForTasks(3, kWait));
    first = w->tasks();
    ASSERT_OK(w->Done({first[0], first[1]}));
    WaitForJob(id, [](const v1::Job& j) { return j.counts().done() == 2; });
  }
  StopBroker();

  StartBroker();
  const v1::Job resumed = GetJob(id);
  EXPECT_EQ(resumed.state(), v1::RUNNING);
  EXPECT_EQ(resumed.counts().done(), 2u);
  EXPECT_EQ(resumed.counts().total(), 3u);
  auto w = Worker("w2");
  ASSERT_OK(w->Hello(10));
  ASSERT_OK(w->WaitForTasks(1, kWait));
  Settle(*w);
  ASSERT_EQ(w->tasks().size(), 1u);
  EXPECT_EQ(w->tasks()[0].key, first[2].key);
  EXPECT_EQ(w->tasks()[0].attempt, 1u);  // the attempt the restart interrupted is not charged
  ASSERT_OK(w->Done(w->tasks()));
  EXPECT_EQ(WaitForState(id, v1::DONE).counts().done(), 3u);
  EXPECT_EQ(SubmitOk(Spec("grid/a")), id + 1);
}

TEST_F(BrokerTest, DrainWorkerSendsDrainAndStopsDispatching) {
  StartBroker();
  auto w = Worker("w1");
  ASSERT_OK(w->Hello(10));
  // HELLO is processed once the broker heartbeats this worker.
  ASSERT_OK(w->Next<BrokerHeartbeatMsg>(kWait));
  v1::DrainWorkerRequest request;
  request.set_worker_id("w1");
  v1::DrainWorkerResponse response;
  ASSERT_TRUE(stub_->DrainWorker(Context().get(), request, &response).ok());
  ASSERT_OK(w->Next<DrainMsg>(kWait));
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(stub_->ListWorkers(Context().get(), v1::ListWorkersRequest(), &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_TRUE(workers.workers(0).draining());
  request.set_worker_id("nobody");
  EXPECT_EQ(stub_->DrainWorker(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(BrokerTest, TheControlApiWantsTheTokenWhenOneIsSet) {
  config_.broker.control_token = "s3cret";
  StartBroker();
  v1::BrokerStats stats;
  grpc::Status missing = stub_->GetStats(Context().get(), v1::GetStatsRequest(), &stats);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("requires a token"));
  grpc::Status wrong = stub_->GetStats(Context("nope").get(), v1::GetStatsRequest(), &stats);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), HasSubstr("wrong bearer token"));
  EXPECT_TRUE(stub_->GetStats(Context("s3cret").get(), v1::GetStatsRequest(), &stats).ok());
}

TEST_F(BrokerTest, ShutdownMakesRunReturnOk) {
  StartBroker();
  // Ready once Run() has started on the runner thread, which may lag under load.
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (Http("/readyz", &status), status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(status, 200);
  broker_->Shutdown();
  runner_.join();
  EXPECT_OK(run_status_);
  broker_.reset();
}

}  // namespace
}  // namespace btrq::broker
