#include "broker/dispatcher.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr auto kDeadline = seconds(10);
constexpr int64_t kChunk = 10;
constexpr char kLeaseSecret[] = "a secret the broker and the sink share";

HelloMsg Hello(const std::string& worker) {
  HelloMsg hello;
  hello.worker_id = worker;
  hello.host = "h";
  hello.threads = 2;
  hello.analytics = {"quality"};
  return hello;
}

// A Dispatcher on 127.0.0.1 over a Scheduler without a journal holding one job of 8
// tasks, its loop on a thread of its own, and DEALERs to talk to it.
class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t i = 1; i <= 2; ++i) catalog_.AddStream(TestUuid(i), 0, 4 * kChunk - 1);
    SchedulerOptions scheduler_options = Options();
    scheduler_options.window_per_job = 64;
    scheduler_options.seed = 1;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler,
                         Scheduler::Create(scheduler_options, &clock_, &catalog_, nullptr));
    JobSpec spec;
    spec.name = "job";
    spec.collection = "c";
    spec.chunk = kChunk;
    spec.analytic = "quality";
    spec.max_attempts = 3;
    spec.task_timeout = std::chrono::nanoseconds(seconds(30)).count();
    ASSERT_OK(scheduler->SubmitJob(spec, [](const Status&) {}).status());

    DispatcherOptions options;
    options.listen = "tcp://127.0.0.1:0";
    options.limits.max_frame_bytes = 64 * 1024;
    ASSERT_OK_AND_ASSIGN(options.lease_signer, LeaseSigner::Create(kLeaseSecret));
    ASSERT_OK_AND_ASSIGN(
        dispatcher_, Dispatcher::Create(options, &clock_, std::move(scheduler), &registry_));
    loop_ = std::thread([this] { run_status_ = dispatcher_->Run(); });
  }

  virtual SchedulerOptions Options() { return SchedulerOptions(); }

  void TearDown() override {
    if (dispatcher_) dispatcher_->Stop();
    if (loop_.joinable()) loop_.join();
    EXPECT_OK(run_status_);
  }

  zmq::socket_t Dealer(const std::string& identity) {
    SocketOptions options;
    options.routing_id = identity;
    options.linger_ms = 0;
    auto dealer = MakeSocket(context_, zmq::socket_type::dealer, options);
    EXPECT_OK(dealer);
    EXPECT_OK(Connect(*dealer, dispatcher_->endpoint()));
    return std::move(dealer).value();
  }

  static void Send(zmq::socket_t& dealer, const Message& message) {
    const std::string body = EncodeMessage(message);
    EXPECT_OK(SendMultipart(dealer, std::vector<std::string_view>{body}, false));
  }

  // The first message of type T the dealer receives within the deadline.
  template <typename T>
  static std::optional<T> Await(zmq::socket_t& dealer) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    std::vector<zmq::message_t> frames;
    while (std::chrono::steady_clock::now() < until) {
      Result<bool> ready = PollIn(dealer, milliseconds(100));
      if (!ready.ok() || !*ready) continue;
      Result<bool> got = RecvMultipart(dealer, 4, &frames);
      if (!got.ok() || !*got) continue;
      Result<Message> decoded = DecodeMessage(frames.back().to_string_view(), CodecLimits());
      if (decoded.ok() && std::holds_alternative<T>(*decoded)) return std::get<T>(*decoded);
    }
    ADD_FAILURE() << "no such message within the deadline";
    return std::nullopt;
  }

  // Waits until the registry's text has `needle`.
  bool AwaitMetric(const std::string& needle) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (registry_.Render().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  // The job's counts, read on the loop.
  JobCounts Counts() {
    std::promise<JobCounts> counts;
    EXPECT_TRUE(dispatcher_->Post([&counts](Dispatcher& d) {
      Result<JobInfo> info = d.scheduler().GetJob(1);
      counts.set_value(info.ok() ? info->counts : JobCounts());
    }));
    return counts.get_future().get();
  }

  // HELLO and one credit as `worker` on `dealer`: the task it gets, if any.
  std::optional<TaskRef> TakeOneTask(zmq::socket_t& dealer, const std::string& worker) {
    Send(dealer, Message(Hello(worker)));
    Send(dealer, Message(CreditMsg{1}));
    std::optional<TaskMsg> tasks = Await<TaskMsg>(dealer);
    if (!tasks.has_value() || tasks->tasks.empty()) return std::nullopt;
    return TaskRef{tasks->tasks[0].key, tasks->tasks[0].attempt};
  }

  // Waits until the job's `field` count reaches `n`; false at the deadline.
  bool AwaitCount(uint64_t JobCounts::*field, uint64_t n) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (Counts().*field < n) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  // A DONE "ok" of `ref` with the sink's receipt for `worker`.
  static DoneMsg ReceiptedDone(const TaskRef& ref, const std::string& worker) {
    DoneItem item;
    item.task = ref;
    item.receipt = LeaseSigner::Create(kLeaseSecret).value().Receipt(ref, worker);
    return DoneMsg{{item}};
  }

  SystemClock clock_;
  FakeStreamCatalog catalog_;
  metrics::Registry registry_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread loop_;
  Status run_status_;
  zmq::context_t context_;
};

TEST_F(DispatcherTest, BindsAPickedPort) {
  EXPECT_THAT(dispatcher_->endpoint(), ::testing::StartsWith("tcp://127.0.0.1:"));
  EXPECT_THAT(dispatcher_->endpoint(), ::testing::Not(::testing::EndsWith(":0")));
}

TEST_F(DispatcherTest, HelloAndCreditGetTasksWithinTheCredit) {
  zmq::socket_t worker = Dealer("w1");
  Send(worker, Message(Hello("w1")));
  Send(worker, Message(CreditMsg{2}));
  std::optional<TaskMsg> tasks = Await<TaskMsg>(worker);
  ASSERT_TRUE(tasks.has_value());
  EXPECT_GE(tasks->tasks.size(), 1u);
  EXPECT_LE(tasks->tasks.size(), 2u);
}

TEST_F(DispatcherTest, AMessageBeforeHelloIsRejectedAndCounted) {
  zmq::socket_t stranger = Dealer("stranger");
  Send(stranger, Message(HeartbeatMsg{}));
  std::optional<RejectMsg> reject = Await<RejectMsg>(stranger);
  ASSERT_TRUE(reject.has_value());
  EXPECT_EQ(reject->reason, "unknown worker");
  EXPECT_THAT(registry_.Render(),
              HasSubstr("btrq_bad_messages_total{reason=\"unknown_worker\"} 1"));
}

TEST_F(DispatcherTest, AnotherProtocolVersionIsRejectedAndCounted) {
  zmq::socket_t worker = Dealer("w1");
  // CREDIT 5 as protocol version 3: [3, 2, {"n": 5}].
  const std::string body("\x93\x03\x02\x81\xa1n\x05", 7);
  ASSERT_OK(SendMultipart(worker, std::vector<std::string_view>{body}, false));
  std::optional<RejectMsg> reject = Await<RejectMsg>(worker);
  ASSERT_TRUE(reject.has_value());
  EXPECT_THAT(reject->reason, HasSubstr("protocol version mismatch"));
  EXPECT_THAT(registry_.Render(), HasSubstr("btrq_bad_messages_total{reason=\"bad_version\"} 1"));
}

TEST_F(DispatcherTest, ABrokerMessageFromAWorkerIsTheWrongType) {
  zmq::socket_t worker = Dealer("w1");
  Send(worker, Message(Hello("w1")));
  Send(worker, Message(DrainMsg{}));
  // Nothing is sent back: wait for the counter, within the deadline.
  EXPECT_TRUE(AwaitMetric("btrq_bad_messages_total{reason=\"wrong_type\"} 1"))
      << registry_.Render();
}

TEST_F(DispatcherTest, ARefusedTaskIsDeadLetteredWithTheWorkersReason) {
  zmq::socket_t worker = Dealer("w1");
  Send(worker, Message(Hello("w1")));
  Send(worker, Message(CreditMsg{1}));
  std::optional<TaskMsg> tasks = Await<TaskMsg>(worker);
  ASSERT_TRUE(tasks.has_value());
  ASSERT_EQ(tasks->tasks.size(), 1u);
  const TaskSpec& t = tasks->tasks[0];
  Send(worker, Message(RefuseMsg{{{{t.key, t.attempt}, "limits: params too big"}}}));
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  std::vector<DeadLetter> dead;
  while (dead.empty() && std::chrono::steady_clock::now() < until) {
    std::promise<std::vector<DeadLetter>> got;
    ASSERT_TRUE(dispatcher_->Post([&got](Dispatcher& d) {
      got.set_value(d.scheduler().DeadLetters(1).value_or(std::vector<DeadLetter>{}));
    }));
    dead = got.get_future().get();
    if (dead.empty()) std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, t.key);
  EXPECT_THAT(dead[0].error, HasSubstr("refused by worker w1: limits: params too big"));
}

TEST_F(DispatcherTest, AHelloOverItsBoundsIsRejected) {
  zmq::socket_t worker = Dealer("w1");
  HelloMsg hello = Hello("w1");
  for (int i = 0; i < 1000; ++i) hello.analytics.push_back("a" + std::to_string(i));
  Send(worker, Message(hello));
  std::optional<RejectMsg> reject = Await<RejectMsg>(worker);
  ASSERT_TRUE(reject.has_value());
  EXPECT_THAT(reject->reason, HasSubstr("the limit is 256"));
}

TEST_F(DispatcherTest, CommandsRunOnTheLoopAndDrainingAStrangerIsNotFound) {
  std::promise<Status> drained;
  ASSERT_TRUE(
      dispatcher_->Post([&drained](Dispatcher& d) { drained.set_value(d.DrainWorker("nobody")); }));
  std::future<Status> answer = drained.get_future();
  ASSERT_EQ(answer.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(answer.get().code(), StatusCode::kNotFound);
}

TEST_F(DispatcherTest, AfterStopNoCommandIsTaken) {
  dispatcher_->Stop();
  loop_.join();
  EXPECT_FALSE(dispatcher_->Post([](Dispatcher&) {}));
}

// Issue #14: a HELLO from another peer took over an existing worker id (and its leases).
TEST_F(DispatcherTest, AHelloCannotTakeOverALiveWorkersId) {
  zmq::socket_t worker = Dealer("w1");
  Send(worker, Message(Hello("w1")));
  Send(worker, Message(CreditMsg{1}));
  ASSERT_TRUE(Await<TaskMsg>(worker).has_value());

  zmq::socket_t forger = Dealer("forger");
  Send(forger, Message(Hello("w1")));
  std::optional<RejectMsg> reject = Await<RejectMsg>(forger);
  ASSERT_TRUE(reject.has_value());
  EXPECT_THAT(reject->reason, HasSubstr("held by another live connection"));
  EXPECT_TRUE(AwaitMetric("btrq_bad_messages_total{reason=\"worker_id_in_use\"} 1"));
  Send(forger, Message(CreditMsg{8}));  // still nobody to the broker
  reject = Await<RejectMsg>(forger);
  ASSERT_TRUE(reject.has_value());
  EXPECT_EQ(reject->reason, "unknown worker");

  // A second connection under the worker's own routing id takes nothing over either.
  zmq::socket_t same_id = Dealer("w1");
  Send(same_id, Message(Hello("w1")));
  Send(same_id, Message(CreditMsg{8}));
  // The real worker still holds its id: its next credit brings it a task.
  Send(worker, Message(CreditMsg{1}));
  ASSERT_TRUE(Await<TaskMsg>(worker).has_value());
}

TEST_F(DispatcherTest, AWorkerThatReconnectsGetsItsIdBack) {
  {
    zmq::socket_t first = Dealer("first-connection");
    Send(first, Message(Hello("w1")));
    Send(first, Message(CreditMsg{1}));
    ASSERT_TRUE(Await<TaskMsg>(first).has_value());
  }  // closed: the broker's next send to it fails
  zmq::socket_t second = Dealer("second-connection");
  // Until the broker has seen the first connection go, it answers REJECT; the worker
  // says HELLO again, as btrq-worker does.
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  bool taken = false;
  while (!taken && std::chrono::steady_clock::now() < until) {
    Send(second, Message(Hello("w1")));
    Send(second, Message(CreditMsg{1}));
    std::vector<zmq::message_t> frames;
    while (!taken) {
      Result<bool> ready = PollIn(second, milliseconds(200));
      if (!ready.ok() || !*ready) break;
      if (!RecvMultipart(second, 4, &frames).ok()) break;
      Result<Message> m = DecodeMessage(frames.back().to_string_view(), CodecLimits());
      taken = m.ok() && std::holds_alternative<TaskMsg>(*m);
    }
  }
  EXPECT_TRUE(taken);
}

// Issue #14: a peer could send DONE "ok" with no result stored in the sink.
TEST_F(DispatcherTest, DoneOkCountsOnlyWithTheSinksReceipt) {
  ASSERT_OK_AND_ASSIGN(LeaseSigner signer, LeaseSigner::Create(kLeaseSecret));
  zmq::socket_t worker = Dealer("w1");
  Send(worker, Message(Hello("w1")));
  Send(worker, Message(CreditMsg{1}));
  std::optional<TaskMsg> tasks = Await<TaskMsg>(worker);
  ASSERT_TRUE(tasks.has_value());
  const TaskSpec& task = tasks->tasks.at(0);
  const TaskRef ref{task.key, task.attempt};
  EXPECT_TRUE(signer.VerifyToken(ref, "w1", task.lease_token));

  DoneItem forged;
  forged.task = ref;
  Send(worker, Message(DoneMsg{{forged}}));
  forged.receipt = signer.Token(ref, "w1");  // a lease token is no receipt
  Send(worker, Message(DoneMsg{{forged}}));
  EXPECT_TRUE(AwaitMetric("btrq_bad_messages_total{reason=\"bad_receipt\"} 2"));
  EXPECT_EQ(Counts().done, 0u);

  DoneItem stored = forged;
  stored.receipt = signer.Receipt(ref, "w1");
  Send(worker, Message(DoneMsg{{stored}}));
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (Counts().done == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(Counts().done, 1u);
}

// Outsider scenario (issue #14): a REFUSE naming another worker's task is stale, like a
// forged DONE: no dead letter, and the holder's lease and its DONE still count.
TEST_F(DispatcherTest, AForgedRefuseOfAnotherWorkersTaskChangesNothing) {
  zmq::socket_t holder = Dealer("w1");
  const std::optional<TaskRef> ref = TakeOneTask(holder, "w1");
  ASSERT_TRUE(ref.has_value());
  zmq::socket_t forger = Dealer("w2");
  Send(forger, Message(Hello("w2")));
  Send(forger, Message(RefuseMsg{{{*ref, "forged"}}}));
  EXPECT_TRUE(AwaitMetric("btrq_bad_messages_total{reason=\"stale_done\"} 1"));
  EXPECT_EQ(Counts().dead, 0u);
  EXPECT_EQ(Counts().in_flight, 1u);
  Send(holder, Message(ReceiptedDone(*ref, "w1")));
  EXPECT_TRUE(AwaitCount(&JobCounts::done, 1));
  EXPECT_EQ(Counts().dead, 0u);
}

// Workers silent for 300 ms are declared dead.
class DispatcherLivenessTest : public DispatcherTest {
 protected:
  SchedulerOptions Options() override {
    SchedulerOptions options;
    options.heartbeat_interval = milliseconds(100);
    options.liveness = 3;
    return options;
  }
};

// Issue #14: a worker declared dead for silence (it was only paused) sent the DONE of a
// result the sink had stored; the broker dropped it ("before HELLO") and the worker never
// sent it again. A receipted DONE ends its task whatever its worker's state.
TEST_F(DispatcherLivenessTest, AReceiptedDoneFromAWorkerDeclaredDeadEndsItsTask) {
  zmq::socket_t worker = Dealer("w1");
  const std::optional<TaskRef> ref = TakeOneTask(worker, "w1");
  ASSERT_TRUE(ref.has_value());
  // Silent: no heartbeat until the broker declares it dead and requeues its task.
  ASSERT_TRUE(AwaitCount(&JobCounts::retried, 1));
  Send(worker, Message(ReceiptedDone(*ref, "w1")));
  EXPECT_TRUE(Await<RejectMsg>(worker).has_value());  // so it says HELLO again
  EXPECT_TRUE(AwaitCount(&JobCounts::done, 1));
  EXPECT_EQ(Counts().dead, 0u);
}

// Only a receipted DONE from the identity the dead worker had: a stranger's is refused.
TEST_F(DispatcherLivenessTest, ADoneFromAStrangerForADeadWorkersTaskDoesNotCount) {
  zmq::socket_t worker = Dealer("w1");
  const std::optional<TaskRef> ref = TakeOneTask(worker, "w1");
  ASSERT_TRUE(ref.has_value());
  ASSERT_TRUE(AwaitCount(&JobCounts::retried, 1));
  zmq::socket_t stranger = Dealer("x9");
  Send(stranger, Message(ReceiptedDone(*ref, "x9")));
  EXPECT_TRUE(Await<RejectMsg>(stranger).has_value());
  EXPECT_EQ(Counts().done, 0u);
}

TEST(DispatcherCreateTest, CurveWithoutZapIsRefused) {
  SystemClock clock;
  FakeStreamCatalog catalog;
  metrics::Registry registry;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler,
                       Scheduler::Create(SchedulerOptions(), &clock, &catalog, nullptr));
  DispatcherOptions options;
  options.listen = "tcp://127.0.0.1:0";
  options.curve = CurveServerKeys{};
  auto dispatcher = Dispatcher::Create(options, &clock, std::move(scheduler), &registry);
  ASSERT_FALSE(dispatcher.ok());
  EXPECT_EQ(dispatcher.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq::broker
