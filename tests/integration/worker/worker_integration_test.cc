// The worker in-process against a fake broker ROUTER and a fake sink ROUTER (both written
// here with the codec), reading a small stream from btrdb-lite in-process: the worker
// side of the protocol contract, message by message.

#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "btrdb/client.h"
#include "lite/server.h"
#include "common/mutex.h"
#include "tests/integration/worker/fake_router.h"
#include "tests/support/status_matchers.h"

namespace btrq::worker {
namespace {

using ::btrq::testing::AckAll;
using ::btrq::testing::All;
using ::btrq::testing::CountOf;
using ::btrq::testing::CreditGranted;
using ::btrq::testing::FakeRouter;
using ::btrq::testing::MetricValue;
using ::btrq::testing::Received;
using ::btrq::testing::ResponderReset;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kWorkerId[] = "w-test";
constexpr int64_t kPeriod = 1'000'000;  // 1ms between points
constexpr int64_t kPoints = 1000;       // [0, 1s)

// Tasks of the `gate` analytic run until the test opens the gate, reading the stream
// again every few milliseconds so a cancellation stops them at a batch boundary.
class GateWorld {
 public:
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  bool is_open() {
    MutexLock lock(&mu_);
    return open_;
  }
  void WaitOpenFor(std::chrono::milliseconds d) {
    MutexLock lock(&mu_);
    if (!open_) cv_.WaitFor(&mu_, d);
  }
  void Enter() {
    MutexLock lock(&mu_);
    ++entered_;
    ++running_;
    max_running_ = std::max(max_running_, running_);
    cv_.SignalAll();
  }
  void Exit() {
    MutexLock lock(&mu_);
    --running_;
  }
  bool WaitEntered(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    MutexLock lock(&mu_);
    while (entered_ < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      cv_.WaitFor(&mu_, 20ms);
    }
    return true;
  }
  int max_running() {
    MutexLock lock(&mu_);
    return max_running_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ BTRQ_GUARDED_BY(mu_) = false;
  int entered_ BTRQ_GUARDED_BY(mu_) = 0;
  int running_ BTRQ_GUARDED_BY(mu_) = 0;
  int max_running_ BTRQ_GUARDED_BY(mu_) = 0;
};

class GateAnalytic final : public analytics::Analytic {
 public:
  explicit GateAnalytic(GateWorld* world) : world_(world) {}
  Result<Fields> Run(const TaskSpec& task, analytics::PointSource& source,
                     analytics::RunCounters* counters) const override {
    world_->Enter();
    Status status;
    while (!world_->is_open()) {
      status = source.ReadRaw(task.key.start, task.end, task.version,
                              [&](std::span<const btrdb::RawPoint> batch) {
                                counters->points_read += static_cast<int64_t>(batch.size());
                                return Status::OK();
                              });
      if (!status.ok()) break;
      world_->WaitOpenFor(5ms);
    }
    world_->Exit();
    if (!status.ok()) return status;
    return Fields{{"gated", int64_t{1}}};
  }

 private:
  GateWorld* world_;
};

Uuid StreamUuid() {
  Uuid u;
  for (size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<uint8_t>(0x30 + i);
  u.bytes[6] = 0x40 | (u.bytes[6] & 0x0f);
  u.bytes[8] = 0x80 | (u.bytes[8] & 0x3f);
  return u;
}

TaskSpec MakeTask(JobId job, int64_t start, int64_t end, std::string analytic,
                  Fields params = {}) {
  TaskSpec t;
  t.key.job = job;
  t.key.stream = StreamUuid();
  t.key.start = start;
  t.attempt = 1;
  t.end = end;
  t.analytic = std::move(analytic);
  t.params = std::move(params);
  t.stream_earliest = 0;
  t.stream_latest = (kPoints - 1) * kPeriod;
  return t;
}

std::optional<DoneItem> FindDone(const std::vector<Received>& log, const TaskKey& key) {
  for (const DoneMsg& done : All<DoneMsg>(log)) {
    for (const DoneItem& item : done.items) {
      if (item.task.key == key) return item;
    }
  }
  return std::nullopt;
}

size_t DoneItems(const std::vector<Received>& log) {
  size_t n = 0;
  for (const DoneMsg& done : All<DoneMsg>(log)) n += done.items.size();
  return n;
}


std::vector<TaskResult> ResultsFor(const std::vector<Received>& log, const TaskKey& key) {
  std::vector<TaskResult> out;
  for (const ResultMsg& m : All<ResultMsg>(log)) {
    for (const TaskResult& r : m.results) {
      if (r.task.key == key) out.push_back(r);
    }
  }
  return out;
}

std::set<TaskKey> ResultKeys(const std::vector<Received>& log) {
  std::set<TaskKey> out;
  for (const ResultMsg& m : All<ResultMsg>(log)) {
    for (const TaskResult& r : m.results) out.insert(r.task.key);
  }
  return out;
}

class WorkerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lite::ServerOptions lite_options;
    lite_options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(btrdb_, lite::Server::Start(lite_options));
    btrdb::ConnectOptions connect;
    connect.endpoints = {btrdb_->address()};
    ASSERT_OK_AND_ASSIGN(auto client, btrdb::Client::Connect(connect));
    ASSERT_OK(client->Create(StreamUuid(), "test/worker", {{"name", "s"}}, {}));
    std::vector<btrdb::RawPoint> points;
    for (int64_t i = 0; i < kPoints; ++i) points.push_back({i * kPeriod, static_cast<double>(i)});
    ASSERT_OK_AND_ASSIGN(version_, client->Insert(StreamUuid(), points));

    ASSERT_OK(analytics::RegisterBuiltins(&registry_));
    ASSERT_OK(registry_.Register("gate", [this](const Fields&) {
      return Result<std::unique_ptr<analytics::Analytic>>(std::make_unique<GateAnalytic>(&gate_));
    }));

    ASSERT_OK(broker_.Start());
    ASSERT_OK(sink_.Start());
    broker_.SetAutoHeartbeat(25ms);
    sink_.SetResponder(AckAll);

    config_.worker.broker = broker_.endpoint();
    config_.worker.sink = sink_.endpoint();
    config_.worker.threads = 2;
    config_.worker.credit = 0;  // threads * 2
    config_.worker.heartbeat_interval = 50'000'000;
    config_.worker.http_listen = "127.0.0.1:0";
    config_.btrdb.endpoints = btrdb_->address();
    config_.liveness = 10;  // 500ms of silence
    config_.resend_initial = 200'000'000;
    config_.resend_max = 400'000'000;
    config_.worker_id = kWorkerId;
  }

  void TearDown() override {
    gate_.Open();
    StopWorker();
    broker_.Stop();
    sink_.Stop();
    if (btrdb_) btrdb_->Shutdown();
  }

  void StartWorker() {
    ASSERT_OK_AND_ASSIGN(worker_, Worker::Create(config_, SystemClock::Default(),
                                                 WorkerDeps{&registry_, nullptr}));
    run_ = std::async(std::launch::async, [w = worker_.get()] { return w->Run(); });
    ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<CreditMsg>(log) >= 1; }))
        << "no HELLO + CREDIT from the worker";
  }

  // Waits for Run to return; its status (DeadlineExceeded "Run did not return" when it
  // did not).
  Status AwaitExit(std::chrono::seconds timeout = 10s) {
    if (run_.wait_for(timeout) != std::future_status::ready) {
      return Status::DeadlineExceeded("Run did not return");
    }
    return run_.get();
  }

  // Hands back whatever is left and waits for Run to return.
  void StopWorker() {
    if (!worker_) return;
    if (run_.valid()) {
      worker_->Shutdown();
      worker_->Shutdown();
      EXPECT_EQ(run_.wait_for(20s), std::future_status::ready);
      if (run_.valid()) run_.get().IgnoreError();  // each test checks Run()'s result itself
    }
    worker_.reset();
  }

  void SendTasks(std::vector<TaskSpec> tasks) {
    broker_.Send(FakeRouter::kLastPeer, Message(TaskMsg{std::move(tasks)}));
  }

  // Waits for `n` more worker HEARTBEATs than the broker has now.
  bool AwaitHeartbeats(size_t n) {
    const size_t seen = CountOf<HeartbeatMsg>(broker_.Log());
    return broker_.WaitUntil(
        [&](const auto& log) { return CountOf<HeartbeatMsg>(log) >= seen + n; });
  }

  std::unique_ptr<lite::Server> btrdb_;
  uint64_t version_ = 0;
  analytics::Registry registry_;
  GateWorld gate_;
  FakeRouter broker_;
  FakeRouter sink_;
  WorkerConfig config_;
  std::unique_ptr<Worker> worker_;
  std::future<Status> run_;
};

TEST_F(WorkerIntegrationTest, SaysHelloThenGivesItsCreditOnConnect) {
  StartWorker();
  const std::vector<Received> log = broker_.Log();
  ASSERT_GE(log.size(), 2u);
  const auto* hello = std::get_if<HelloMsg>(&log[0].message);
  ASSERT_NE(hello, nullptr) << "the first message is HELLO";
  // The ROUTER names the connection; a worker choosing its own routing id could take
  // over another's (issue #14).
  EXPECT_NE(log[0].identity, kWorkerId) << "the worker sets no routing id of its own";
  EXPECT_EQ(hello->worker_id, kWorkerId);
  EXPECT_EQ(hello->pid, static_cast<int64_t>(getpid()));
  EXPECT_EQ(hello->threads, 2u);
  EXPECT_THAT(hello->analytics, Contains("count"));
  EXPECT_THAT(hello->analytics, Contains("gate"));
  const auto* credit = std::get_if<CreditMsg>(&log[1].message);
  ASSERT_NE(credit, nullptr) << "CREDIT follows HELLO";
  EXPECT_EQ(credit->credit, 4u) << "credit 0 means threads * 2";

  // The CREDIT can reach the broker before Run() flags readiness and sets its gauges:
  // poll until both show, or the deadline passes.
  httplib::Client http("http://" + worker_->http_endpoint());
  int ready_status = 0;
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    auto ready = http.Get("/readyz");
    ready_status = ready ? ready->status : 0;
    auto got = http.Get("/metrics");
    metrics = got ? got->body : "";
    if (ready_status == 200 &&
        metrics.find("btrq_worker_credit_outstanding 4") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(ready_status, 200);
  EXPECT_THAT(metrics, HasSubstr("btrq_worker_tasks_total{status=\"ok\"}"));
  EXPECT_THAT(metrics, HasSubstr("btrq_task_duration_seconds_bucket"));
  EXPECT_THAT(metrics, HasSubstr("btrq_worker_credit_outstanding 4"));
}

TEST_F(WorkerIntegrationTest, SendsTheResultFirstAndDoneOnlyAfterTheSinksAck) {
  sink_.SetResponder(nullptr);  // the test ACKs by hand
  StartWorker();
  TaskSpec task = MakeTask(1, 0, 500 * kPeriod, "count");
  task.lease_token = "the broker's token";
  SendTasks({task});

  ASSERT_TRUE(sink_.WaitUntil([&](const auto& log) { return !ResultsFor(log, task.key).empty(); }));
  const TaskResult result = ResultsFor(sink_.Log(), task.key).front();
  EXPECT_EQ(result.task, (TaskRef{task.key, task.attempt}));
  EXPECT_EQ(result.lease_token, task.lease_token) << "the sink checks the lease token";
  EXPECT_EQ(result.end, task.end);
  EXPECT_EQ(result.version, version_);
  EXPECT_EQ(result.worker_id, kWorkerId);
  EXPECT_EQ(result.points_read, 500);
  EXPECT_GT(result.duration_ns, 0);
  ASSERT_EQ(result.fields.size(), 1u);
  EXPECT_EQ(result.fields[0].first, "count");
  EXPECT_EQ(result.fields[0].second, FieldValue(int64_t{500}));

  // Without an ACK the task stays leased: named in heartbeats, never DONE.
  ASSERT_TRUE(AwaitHeartbeats(3));
  EXPECT_FALSE(FindDone(broker_.Log(), task.key).has_value());
  EXPECT_THAT(All<HeartbeatMsg>(broker_.Log()).back().awaiting_ack,
              Contains(TaskRef{task.key, task.attempt}));
  EXPECT_EQ(CreditGranted(broker_.Log()), 5u)
      << "the slot's credit comes back when the analytic ends; only back-pressure withholds it";

  sink_.Send(FakeRouter::kLastPeer,
             Message(AckMsg{{task.key}, {AckReceipt{task.attempt, "the sink's receipt"}}}));
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, task.key).has_value(); }));
  const DoneItem done = *FindDone(broker_.Log(), task.key);
  EXPECT_EQ(done.error, ErrorClass::kNone);
  EXPECT_EQ(done.task.attempt, task.attempt);
  EXPECT_EQ(done.receipt, "the sink's receipt") << "the broker counts DONE ok with it";
}

TEST_F(WorkerIntegrationTest, ResendsAResultTheSinkIgnored) {
  std::atomic<int> seen{0};
  const ResponderReset reset({&sink_});
  sink_.SetResponder([&](const Received& r) -> std::vector<Message> {
    if (!std::holds_alternative<ResultMsg>(r.message)) return {};
    if (seen++ == 0) return {};  // the first RESULT frame is lost
    return AckAll(r);
  });
  StartWorker();
  const TaskSpec task = MakeTask(1, 0, 100 * kPeriod, "count");
  SendTasks({task});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, task.key).has_value(); }));
  EXPECT_EQ(FindDone(broker_.Log(), task.key)->error, ErrorClass::kNone);
  EXPECT_GE(ResultsFor(sink_.Log(), task.key).size(), 2u) << "sent, then resent";
  EXPECT_GE(MetricValue(worker_->MetricsText(), "btrq_worker_results_resent_total"), 1);
}

TEST_F(WorkerIntegrationTest, NeverHoldsMoreTasksThanItsCredit) {
  constexpr int kTasks = 12;
  const uint32_t capacity = 4;
  std::atomic<int> sent{0};
  std::atomic<int64_t> granted{0};
  std::atomic<int> violations{0};
  const ResponderReset reset({&broker_});
  // A broker that dispatches as soon as it has credit, and checks that the worker never
  // hands out more credit than it has slots.
  broker_.SetResponder([&](const Received& r) -> std::vector<Message> {
    const auto* c = std::get_if<CreditMsg>(&r.message);
    if (c == nullptr) return {};
    granted += c->credit;
    if (granted - sent > static_cast<int64_t>(capacity)) ++violations;
    TaskMsg tasks;
    while (sent < granted && sent < kTasks) {
      tasks.tasks.push_back(MakeTask(2, int64_t{sent} * kPeriod, (int64_t{sent} + 1) * kPeriod,
                                     "gate"));
      ++sent;
    }
    if (tasks.tasks.empty()) return {};
    return {Message(std::move(tasks))};
  });
  StartWorker();

  // Both threads busy, two tasks queued: the worker has no slot, so it gives no credit.
  ASSERT_TRUE(gate_.WaitEntered(2));
  ASSERT_TRUE(AwaitHeartbeats(3));
  EXPECT_EQ(CountOf<CreditMsg>(broker_.Log()), 1u);
  // Heartbeats tell the started tasks from the queued ones (HEARTBEAT `q`).
  const HeartbeatMsg last = All<HeartbeatMsg>(broker_.Log()).back();
  EXPECT_EQ(last.running.size(), 2u);
  EXPECT_EQ(last.queued.size(), capacity - 2);

  gate_.Open();
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return DoneItems(log) >= kTasks; }));
  EXPECT_EQ(violations.load(), 0);
  EXPECT_LE(gate_.max_running(), 2) << "no more running than threads";
  for (int i = 0; i < kTasks; ++i) {
    const TaskSpec t = MakeTask(2, int64_t{i} * kPeriod, (int64_t{i} + 1) * kPeriod, "gate");
    const auto d = FindDone(broker_.Log(), t.key);
    ASSERT_TRUE(d.has_value()) << "task " << i;
    EXPECT_EQ(d->error, ErrorClass::kNone);
  }
}

TEST_F(WorkerIntegrationTest, StopsReturningCreditWhileTooManyResultsAreUnacknowledged) {
  config_.worker.threads = 1;
  config_.worker.credit = 2;
  config_.worker.max_unacked_results = 1;
  std::atomic<bool> acking{false};
  sink_.SetResponder([&](const Received& r) -> std::vector<Message> {
    if (!acking) return {};
    return AckAll(r);
  });
  std::atomic<int> sent{0};
  std::atomic<int64_t> granted{0};
  constexpr int kTasks = 8;
  const ResponderReset reset({&broker_, &sink_});
  broker_.SetResponder([&](const Received& r) -> std::vector<Message> {
    const auto* c = std::get_if<CreditMsg>(&r.message);
    if (c == nullptr) return {};
    granted += c->credit;
    TaskMsg tasks;
    while (sent < granted && sent < kTasks) {
      tasks.tasks.push_back(MakeTask(3, int64_t{sent} * kPeriod, (int64_t{sent} + 1) * kPeriod,
                                     "noop"));
      ++sent;
    }
    if (tasks.tasks.empty()) return {};
    return {Message(std::move(tasks))};
  });
  StartWorker();

  // Every dispatched task has finished and its result reached the sink; heartbeats
  // after that show the worker holding them, and no credit came for more.
  ASSERT_TRUE(sink_.WaitUntil([&](const auto& log) {
    return static_cast<int>(ResultKeys(log).size()) == sent.load() && sent >= 2;
  }));
  ASSERT_TRUE(AwaitHeartbeats(4));
  const int dispatched = sent.load();
  EXPECT_LE(dispatched, 3) << "at most max_unacked_results + credit results held";
  EXPECT_EQ(granted.load(), dispatched);
  EXPECT_EQ(All<HeartbeatMsg>(broker_.Log()).back().awaiting_ack.size(),
            static_cast<size_t>(dispatched));
  EXPECT_EQ(DoneItems(broker_.Log()), 0u);
  EXPECT_EQ(MetricValue(worker_->MetricsText(), "btrq_worker_unacked_results"), dispatched);

  // The sink comes back: the resent results are ACKed, DONE follows and work flows again.
  acking = true;
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return DoneItems(log) >= kTasks; }));
  EXPECT_EQ(sent.load(), kTasks);
}

TEST_F(WorkerIntegrationTest, CancelAbandonsTheJobsTasksAndReturnsTheirCredit) {
  StartWorker();
  const TaskSpec doomed = MakeTask(7, 0, 100 * kPeriod, "gate");
  SendTasks({doomed});
  ASSERT_TRUE(gate_.WaitEntered(1));
  broker_.Send(FakeRouter::kLastPeer, Message(CancelMsg{7}));
  // The slot comes back as credit (4 at first, 1 used by the cancelled task).
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CreditGranted(log) >= 5; }));

  const TaskSpec next = MakeTask(8, 0, 100 * kPeriod, "noop");
  SendTasks({next});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, next.key).has_value(); }));
  EXPECT_FALSE(FindDone(broker_.Log(), doomed.key).has_value()) << "no DONE for a cancelled task";
  EXPECT_THAT(ResultsFor(sink_.Log(), doomed.key), IsEmpty()) << "and no result";
  EXPECT_GE(MetricValue(worker_->MetricsText(), "btrq_worker_tasks_total{status=\"cancelled\"}"),
            1);
}

TEST_F(WorkerIntegrationTest, AnUnknownWorkerRejectMakesItSayHelloAgain) {
  StartWorker();
  broker_.Send(FakeRouter::kLastPeer, Message(RejectMsg{"unknown worker"}));
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<HelloMsg>(log) >= 2; }));
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<CreditMsg>(log) >= 2; }));
  const std::vector<Received> log = broker_.Log();
  size_t second_hello = 0;
  for (size_t i = 0, hellos = 0; i < log.size(); ++i) {
    if (std::holds_alternative<HelloMsg>(log[i].message) && ++hellos == 2) second_hello = i;
  }
  // The first CREDIT after the new HELLO grants every slot afresh. (A HEARTBEAT from
  // before a reconnect may still be queued between the two at a busy ROUTER.)
  const CreditMsg* credit = nullptr;
  for (size_t i = second_hello + 1; i < log.size() && credit == nullptr; ++i) {
    credit = std::get_if<CreditMsg>(&log[i].message);
  }
  ASSERT_NE(credit, nullptr) << "a CREDIT after the new HELLO";
  EXPECT_EQ(credit->credit, 4u) << "all slots are free";
}

TEST_F(WorkerIntegrationTest, AProtocolVersionRejectEndsTheWorker) {
  StartWorker();
  broker_.Send(FakeRouter::kLastPeer, Message(RejectMsg{"bad version: protocol 2 required"}));
  const Status exit = AwaitExit();
  EXPECT_EQ(exit.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(exit.message(), HasSubstr("version"));
}

TEST_F(WorkerIntegrationTest, ABtrdbOutageFailsTheTaskTransiently) {
  StartWorker();
  btrdb_->Shutdown();
  const TaskSpec task = MakeTask(4, 0, 100 * kPeriod, "count");
  SendTasks({task});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, task.key).has_value(); },
                                30s));
  const DoneItem done = *FindDone(broker_.Log(), task.key);
  EXPECT_EQ(done.error, ErrorClass::kTransient);
  EXPECT_THAT(done.message, Not(IsEmpty()));
  EXPECT_THAT(ResultsFor(sink_.Log(), task.key), IsEmpty());
}

TEST_F(WorkerIntegrationTest, BadParamsFailTheTaskPermanently) {
  StartWorker();
  const TaskSpec task = MakeTask(5, 0, 100 * kPeriod, "count", {{"bogus", int64_t{1}}});
  SendTasks({task});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, task.key).has_value(); }));
  const DoneItem done = *FindDone(broker_.Log(), task.key);
  EXPECT_EQ(done.error, ErrorClass::kPermanent);
  EXPECT_THAT(done.message, HasSubstr("bogus"));
}

TEST_F(WorkerIntegrationTest, DrainFinishesDeliversSaysDoneThenByeAndReturns) {
  StartWorker();
  const TaskSpec task = MakeTask(6, 0, 1000 * kPeriod, "count");
  SendTasks({task});
  broker_.Send(FakeRouter::kLastPeer, Message(DrainMsg{}));
  const Status exit = AwaitExit();
  EXPECT_OK(exit);
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<ByeMsg>(log) == 1; }));
  const std::vector<Received> log = broker_.Log();
  const auto done = FindDone(log, task.key);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->error, ErrorClass::kNone);
  EXPECT_TRUE(std::holds_alternative<ByeMsg>(log.back().message)) << "BYE comes last";
  EXPECT_EQ(CreditGranted(log), 4u) << "no credit once draining";
}

TEST_F(WorkerIntegrationTest, ASecondShutdownHandsBackUnfinishedTasks) {
  StartWorker();
  const TaskSpec task = MakeTask(9, 0, 100 * kPeriod, "gate");
  SendTasks({task});
  ASSERT_TRUE(gate_.WaitEntered(1));
  worker_->Shutdown();  // drain: the gate never opens
  ASSERT_TRUE(AwaitHeartbeats(2));
  worker_->Shutdown();  // hand back
  const Status exit = AwaitExit();
  EXPECT_OK(exit);
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<ByeMsg>(log) == 1; }));
  EXPECT_FALSE(FindDone(broker_.Log(), task.key).has_value()) << "the lease is handed back";
}

TEST_F(WorkerIntegrationTest, ADrainThatOutlivesItsDeadlineHandsBack) {
  config_.drain_timeout = 200'000'000;
  StartWorker();
  const TaskSpec task = MakeTask(11, 0, 100 * kPeriod, "gate");
  SendTasks({task});
  ASSERT_TRUE(gate_.WaitEntered(1));
  broker_.Send(FakeRouter::kLastPeer, Message(DrainMsg{}));  // the gate never opens
  const Status exit = AwaitExit();
  EXPECT_OK(exit);
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<ByeMsg>(log) == 1; }));
  EXPECT_FALSE(FindDone(broker_.Log(), task.key).has_value());
  EXPECT_EQ(CreditGranted(broker_.Log()), 4u);
}

TEST_F(WorkerIntegrationTest, ASilentSinkGetsANewConnectionAndEveryResultAgain) {
  sink_.SetResponder(nullptr);  // never ACKs, never speaks
  StartWorker();
  const TaskSpec task = MakeTask(12, 0, 10 * kPeriod, "noop");
  SendTasks({task});
  ASSERT_TRUE(sink_.WaitUntil([&](const auto& log) { return !ResultsFor(log, task.key).empty(); }));
  // Nothing from the sink for liveness * heartbeat_interval (500ms) with a result pending.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  const std::string series = "btrq_worker_reconnects_total{peer=\"sink\"}";
  while (MetricValue(worker_->MetricsText(), series) < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    sink_.WaitUntil([](const auto&) { return false; }, 20ms);
  }
  EXPECT_GE(MetricValue(worker_->MetricsText(), series), 1);
  // The new connection carries the result again, and an ACK on it completes the task.
  const size_t sent = ResultsFor(sink_.Log(), task.key).size();
  ASSERT_TRUE(sink_.WaitUntil([&](const auto& log) { return ResultsFor(log, task.key).size() > sent; }));
  sink_.Send(FakeRouter::kLastPeer, Message(AckMsg{{task.key}}));
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, task.key).has_value(); }));
}

TEST_F(WorkerIntegrationTest, ASilentBrokerGetsANewConnectionAndHello) {
  broker_.SetAutoHeartbeat(0ms);
  StartWorker();
  ASSERT_TRUE(broker_.WaitUntil([](const auto& log) { return CountOf<HelloMsg>(log) >= 2; }));
  EXPECT_GE(MetricValue(worker_->MetricsText(), "btrq_worker_reconnects_total{peer=\"broker\"}"),
            1);
}

TEST_F(WorkerIntegrationTest, MalformedFramesAreDroppedAndCounted) {
  StartWorker();
  // One task through first: then both peers' ROUTERs know the worker's connection (a
  // ROUTER drops frames for a peer whose handshake it has not finished).
  const TaskSpec first = MakeTask(10, 0, 10 * kPeriod, "noop");
  SendTasks({first});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, first.key).has_value(); }));

  broker_.SendFrames(FakeRouter::kLastPeer, {std::string("\xc1garbage", 8)});
  broker_.SendFrames(FakeRouter::kLastPeer, {"two", "frames"});
  broker_.Send(FakeRouter::kLastPeer, Message(ResultMsg{}));  // a sink's message from the broker
  sink_.SendFrames(FakeRouter::kLastPeer, {std::string("\x93\x02\x63\x80", 4)});  // unknown type 99
  const char* const reasons[] = {"malformed", "envelope", "wrong_type", "unknown_type"};
  const auto counted = [&](const char* reason) {
    return MetricValue(worker_->MetricsText(),
                       std::string("btrq_bad_messages_total{reason=\"") + reason + "\"}");
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         !std::all_of(std::begin(reasons), std::end(reasons),
                      [&](const char* r) { return counted(r) >= 1; })) {
    sink_.WaitUntil([](const auto&) { return false; }, 5ms);  // a re-check interval
  }
  for (const char* reason : reasons) EXPECT_EQ(counted(reason), 1) << reason;

  // The worker goes on: the next task is done as well.
  const TaskSpec next = MakeTask(10, 10 * kPeriod, 20 * kPeriod, "noop");
  SendTasks({next});
  ASSERT_TRUE(broker_.WaitUntil([&](const auto& log) { return FindDone(log, next.key).has_value(); }));
}

}  // namespace
}  // namespace btrq::worker
