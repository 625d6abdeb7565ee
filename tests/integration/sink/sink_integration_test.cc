// The sink core in-process on free ports, driven by a DEALER test client as a worker
// would, and read back over gRPC and HTTP.

#include "sink/sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/codec.h"
#include "common/lease_token.h"
#include "common/zmq_util.h"
#include "results/result_proto.h"
#include "sink/result_store.h"
#include "tests/integration/sink/sink_client.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

#include <httplib.h>

namespace btrq::sink {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr int64_t kMaxMessageBytes = 64 * 1024;

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen = "tcp://127.0.0.1:*";
    options_.control_listen = "127.0.0.1:0";
    options_.http_listen = "127.0.0.1:0";
    options_.data_dir = dir_.File("sink");
    options_.commit_interval = 2'000'000;
    options_.max_message_bytes = kMaxMessageBytes;
    ASSERT_OK_AND_ASSIGN(sink_, Sink::Create(options_, SystemClock::Default()));
    runner_ = std::thread([this] { run_status_ = sink_->Run(); });
    ASSERT_OK_AND_ASSIGN(worker_, testing::SinkWorkerClient::Connect(sink_->results_endpoint()));
  }

  void TearDown() override {
    worker_.reset();
    if (sink_) sink_->Shutdown();
    if (runner_.joinable()) runner_.join();
    EXPECT_OK(run_status_);
  }

  std::string Metrics() {
    httplib::Client client("http://" + sink_->http_endpoint());
    auto res = client.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  }

  testing::TempDir dir_;
  SinkOptions options_;
  std::unique_ptr<Sink> sink_;
  std::thread runner_;
  Status run_status_;
  std::unique_ptr<testing::SinkWorkerClient> worker_;
};

TEST_F(SinkTest, AcksAResultOnlyOnceItIsDurable) {
  const std::vector<TaskResult> sent = {testing::MakeTaskResult(1, 1, 0),
                                        testing::MakeTaskResult(1, 2, 0)};
  ASSERT_OK(worker_->SendResults(sent));
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(std::chrono::seconds(10)));
  EXPECT_THAT(ack.keys, UnorderedElementsAreArray({sent[0].task.key, sent[1].task.key}));

  // The moment the ACK is here, another connection sees both results in the database.
  ResultStoreOptions store_options;
  store_options.path = ResultStorePath(options_.data_dir);
  store_options.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto store, ResultStore::Open(store_options, SystemClock::Default()));
  for (const TaskResult& r : sent) {
    ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(r.task.key));
    EXPECT_EQ(got.result.fields, r.fields);
    EXPECT_EQ(got.result.worker_id, r.worker_id);
  }
}

TEST_F(SinkTest, ADuplicateIsAckedAndCountedButNotStoredTwice) {
  const TaskResult first = testing::MakeTaskResult(2, 1, 0, "first");
  TaskResult again = first;
  again.worker_id = "again";
  again.task.attempt = 2;
  ASSERT_OK(worker_->SendResults({first}));
  ASSERT_OK_AND_ASSIGN(AckMsg ack1, worker_->ReceiveAck(std::chrono::seconds(10)));
  ASSERT_OK(worker_->SendResults({again}));
  ASSERT_OK_AND_ASSIGN(AckMsg ack2, worker_->ReceiveAck(std::chrono::seconds(10)));
  EXPECT_THAT(ack2.keys, ElementsAreArray({first.task.key}));

  auto control = testing::SinkControlClient::Connect(sink_->control_endpoint());
  ASSERT_OK_AND_ASSIGN(v1::SinkStats stats, control.GetStats());
  EXPECT_EQ(stats.results_stored(), 1u);
  EXPECT_EQ(stats.duplicates_dropped(), 1u);
  EXPECT_EQ(stats.jobs(), 1u);
  ASSERT_OK_AND_ASSIGN(std::vector<StoredResult> results, control.GetResults(2));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result.worker_id, "first");

  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("\nbtrq_sink_results_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nbtrq_sink_duplicates_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nbtrq_sink_batch_size_count 2\n"));
}

TEST_F(SinkTest, HostileFramesAreCountedAndTheNextValidResultIsServed) {
  ASSERT_OK(worker_->SendFrames({std::string("\xc1\xff\x00garbage", 10)}));
  ASSERT_OK(worker_->SendFrames({std::string(kMaxMessageBytes + 1, '\x90')}));
  ASSERT_OK(worker_->SendFrames({EncodeMessage(Message(HelloMsg{"w", "h", 1, 1, {}}))}));
  ASSERT_OK(worker_->SendFrames({"", "", EncodeMessage(Message(ResultMsg{}))}));
  ASSERT_OK(worker_->SendFrames({std::string()}));
  ResultMsg job_zero;
  job_zero.results.push_back(testing::MakeTaskResult(1, 1, 0));
  job_zero.results[0].task.key.job = 0;
  ASSERT_OK(worker_->SendFrames({EncodeMessage(Message(job_zero))}));

  const TaskResult good = testing::MakeTaskResult(3, 1, 0);
  ASSERT_OK(worker_->SendResults({good}));
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(std::chrono::seconds(10)));
  EXPECT_THAT(ack.keys, ElementsAreArray({good.task.key}));

  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"too_large\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"wrong_type\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"envelope\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"malformed\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("btrq_bad_messages_total{reason=\"bad_field\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nbtrq_sink_results_total 1\n"));
}

TEST_F(SinkTest, GetResultsStreamsAJobInKeyOrderAcrossPages) {
  std::vector<TaskResult> sent;
  for (int i = 0; i < 1200; ++i) {
    sent.push_back(testing::MakeTaskResult(4, static_cast<uint8_t>(i % 7), 1000 - i));
  }
  sent.push_back(testing::MakeTaskResult(5, 1, 0));  // another job, not returned
  std::set<TaskKey> acked;
  for (size_t i = 0; i < sent.size(); i += 100) {
    std::vector<TaskResult> chunk(sent.begin() + static_cast<ptrdiff_t>(i),
                                  sent.begin() + static_cast<ptrdiff_t>(std::min(i + 100, sent.size())));
    ASSERT_OK(worker_->SendResults(chunk));
  }
  while (acked.size() < sent.size()) {
    ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(std::chrono::seconds(10)));
    acked.insert(ack.keys.begin(), ack.keys.end());
  }

  auto control = testing::SinkControlClient::Connect(sink_->control_endpoint());
  ASSERT_OK_AND_ASSIGN(std::vector<StoredResult> results, control.GetResults(4));
  std::vector<TaskKey> got;
  for (const StoredResult& r : results) got.push_back(r.result.task.key);
  std::vector<TaskKey> want;
  for (size_t i = 0; i + 1 < sent.size(); ++i) want.push_back(sent[i].task.key);
  std::sort(want.begin(), want.end(), [](const TaskKey& a, const TaskKey& b) {
    return std::tie(a.stream, a.start) < std::tie(b.stream, b.start);
  });
  EXPECT_EQ(got, want);
  EXPECT_GT(control.batches_received(), 1u);

  ASSERT_OK_AND_ASSIGN(std::vector<StoredResult> first, control.GetResults(4, /*limit=*/3));
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[2].result.task.key, want[2]);
}

TEST_F(SinkTest, ReadyzAndLivezAnswerWhileServing) {
  httplib::Client client("http://" + sink_->http_endpoint());
  // Run() may not have flagged readiness yet: a real worker also waits for /readyz.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = client.Get("/readyz");
    status = res ? res->status : 0;
    if (status == 200) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(status, 200);
  auto live = client.Get("/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
}

// The sink with a lease secret: results are stored only with the broker's lease token,
// and ACKs carry the receipts the broker asks of a DONE "ok" (issue #14).
class SinkLeaseTest : public SinkTest {
 protected:
  void SetUp() override {
    const std::string secret = dir_.File("btrq.lease");
    ASSERT_OK(WriteNewLeaseSecret(secret, false));
    ASSERT_OK_AND_ASSIGN(signer_, LeaseSigner::FromFile(secret, "test"));
    options_.lease_secret_file = secret;
    SinkTest::SetUp();
  }

  TaskResult Leased(JobId job, std::string worker) {
    TaskResult r = testing::MakeTaskResult(job, 1, 0, worker);
    r.lease_token = signer_->Token(r.task, worker);
    return r;
  }

  Result<StoredResult> Stored(const TaskKey& key) {
    ResultStoreOptions o;
    o.path = ResultStorePath(options_.data_dir);
    o.read_only = true;
    BTRQ_ASSIGN_OR_RETURN(auto store, ResultStore::Open(o, SystemClock::Default()));
    return store->Get(key);
  }

  std::optional<LeaseSigner> signer_;
};

// Issue #14: a result forged in advance for the next job id became that job's result,
// and the real one was dropped as a duplicate.
TEST_F(SinkLeaseTest, AResultForgedInAdvanceIsRefusedAndTheRealOneStored) {
  TaskResult forged = testing::MakeTaskResult(12, 1, 0, "forger");
  forged.fields = {{"score", 0.0}};
  TaskResult wrong_token = forged;
  wrong_token.lease_token = signer_->Token(forged.task, "someone-else");
  ASSERT_OK(worker_->SendResults({forged, wrong_token}));

  const TaskResult real = Leased(12, "w1");
  ASSERT_OK(worker_->SendResults({real}));
  // Frames of one connection are handled in order: the forged ones went first.
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(std::chrono::seconds(10)));
  EXPECT_THAT(ack.keys, ElementsAre(real.task.key));
  ASSERT_OK_AND_ASSIGN(StoredResult stored, Stored(real.task.key));
  EXPECT_EQ(stored.result.worker_id, "w1");
  EXPECT_EQ(stored.result.fields, real.fields);
  EXPECT_THAT(Metrics(), HasSubstr("btrq_bad_messages_total{reason=\"bad_lease_token\"} 2"));
}

TEST_F(SinkLeaseTest, TheAckCarriesAReceiptForTheAttemptStored) {
  TaskResult first = Leased(3, "w1");
  ASSERT_OK(worker_->SendResults({first}));
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(std::chrono::seconds(10)));
  ASSERT_EQ(ack.receipts.size(), 1u);
  EXPECT_EQ(ack.receipts[0].attempt, first.task.attempt);
  EXPECT_TRUE(signer_->VerifyReceipt(first.task, "w1", ack.receipts[0].mac));

  // A later attempt's result (a duplicate) gets its own receipt: the key is stored.
  TaskResult retry = Leased(3, "w2");
  retry.task.attempt = first.task.attempt + 1;
  retry.lease_token = signer_->Token(retry.task, "w2");
  ASSERT_OK(worker_->SendResults({retry}));
  ASSERT_OK_AND_ASSIGN(ack, worker_->ReceiveAck(std::chrono::seconds(10)));
  ASSERT_EQ(ack.receipts.size(), 1u);
  EXPECT_TRUE(signer_->VerifyReceipt(retry.task, "w2", ack.receipts[0].mac));
  EXPECT_FALSE(signer_->VerifyReceipt(first.task, "w2", ack.receipts[0].mac));
}

TEST(SinkGate, BeyondLoopbackWithoutProtectionDoesNotStart) {
  testing::TempDir dir;
  SinkOptions options;
  options.listen = "tcp://0.0.0.0:*";
  options.control_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir.File("sink");
  const Result<std::unique_ptr<Sink>> refused = Sink::Create(options, SystemClock::Default());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("sink.listen"));
  EXPECT_THAT(refused.status().message(), HasSubstr("sink.insecure"));
  options.insecure = true;
  EXPECT_OK(Sink::Create(options, SystemClock::Default()).status());
}

}  // namespace
}  // namespace btrq::sink
