// The sink with a lease secret: results are stored only with the broker's lease token,
// and ACKs carry the receipts the broker asks of a DONE "ok" (issue #14).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/lease_token.h"
#include "sink/result_store.h"
#include "sink/sink.h"
#include "tests/integration/sink/sink_client.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

#include <httplib.h>

namespace btrq::sink {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kAckTimeout = std::chrono::seconds(10);

class SinkLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string secret = dir_.File("btrq.lease");
    ASSERT_OK(WriteNewLeaseSecret(secret, false));
    ASSERT_OK_AND_ASSIGN(signer_, LeaseSigner::FromFile(secret, "test"));
    options_.listen = "tcp://127.0.0.1:*";
    options_.control_listen = "127.0.0.1:0";
    options_.http_listen = "127.0.0.1:0";
    options_.data_dir = dir_.File("sink");
    options_.lease_secret_file = secret;
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

  std::string Metrics() {
    httplib::Client client("http://" + sink_->http_endpoint());
    auto res = client.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  }

  testing::TempDir dir_;
  std::optional<LeaseSigner> signer_;
  SinkOptions options_;
  std::unique_ptr<Sink> sink_;
  std::thread runner_;
  Status run_status_;
  std::unique_ptr<testing::SinkWorkerClient> worker_;
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
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(kAckTimeout));
  EXPECT_THAT(ack.keys, ElementsAre(real.task.key));
  ASSERT_OK_AND_ASSIGN(StoredResult stored, Stored(real.task.key));
  EXPECT_EQ(stored.result.worker_id, "w1");
  EXPECT_EQ(stored.result.fields, real.fields);
  EXPECT_THAT(Metrics(), HasSubstr("btrq_bad_messages_total{reason=\"bad_lease_token\"} 2"));
}

TEST_F(SinkLeaseTest, TheAckCarriesAReceiptForTheAttemptStored) {
  TaskResult first = Leased(3, "w1");
  ASSERT_OK(worker_->SendResults({first}));
  ASSERT_OK_AND_ASSIGN(AckMsg ack, worker_->ReceiveAck(kAckTimeout));
  ASSERT_EQ(ack.receipts.size(), 1u);
  EXPECT_EQ(ack.receipts[0].attempt, first.task.attempt);
  EXPECT_TRUE(signer_->VerifyReceipt(first.task, "w1", ack.receipts[0].mac));

  // A later attempt's result (a duplicate) gets its own receipt: the key is stored.
  TaskResult retry = Leased(3, "w2");
  retry.task.attempt = first.task.attempt + 1;
  retry.lease_token = signer_->Token(retry.task, "w2");
  ASSERT_OK(worker_->SendResults({retry}));
  ASSERT_OK_AND_ASSIGN(ack, worker_->ReceiveAck(kAckTimeout));
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
