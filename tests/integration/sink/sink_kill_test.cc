// The real btrq-sink binary, killed with SIGKILL while results arrive and restarted:
// every result it ACKed is still there, exactly once.

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/sink/sink_client.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::sink {
namespace {

constexpr JobId kJob = 11;
constexpr auto kAckTimeout = std::chrono::seconds(20);

class SinkKillTest : public ::testing::Test {
 protected:
  // Starts btrq-sink and waits for its ready line.
  std::unique_ptr<testing::Subprocess> StartSink() {
    auto child = testing::Subprocess::Spawn(
        {BTRQ_SINK_BINARY, "--data-dir", dir_.File("data"), "--listen", results_,
         "--control-listen", control_, "--http-listen", http_});
    EXPECT_OK(child);
    if (!child.ok()) return nullptr;
    auto ready = (*child)->WaitForLine("btrq-sink: ready", std::chrono::seconds(20),
                                       /*from_stderr=*/true);
    EXPECT_TRUE(ready.ok()) << ready.status().ToString() << "\n" << (*child)->Stderr();
    return ready.ok() ? std::move(*child) : nullptr;
  }

  // Sends `results` in RESULT frames of `per_frame`.
  void SendAll(testing::SinkWorkerClient* worker, const std::vector<TaskResult>& results,
               size_t per_frame) {
    for (size_t i = 0; i < results.size(); i += per_frame) {
      const auto end = results.begin() + static_cast<ptrdiff_t>(std::min(i + per_frame,
                                                                         results.size()));
      ASSERT_OK(worker->SendResults(
          std::vector<TaskResult>(results.begin() + static_cast<ptrdiff_t>(i), end)));
    }
  }

  testing::TempDir dir_;
  const std::string results_ = testing::FreeZmqEndpoint();
  const std::string control_ = testing::FreeHostPort();
  const std::string http_ = testing::FreeHostPort();
};

TEST_F(SinkKillTest, EveryAckedResultSurvivesKill9ExactlyOnce) {
  std::vector<TaskResult> all;
  for (int i = 0; i < 2000; ++i) {
    all.push_back(testing::MakeTaskResult(kJob, static_cast<uint8_t>(i % 5), i * 1000));
  }
  const std::vector<TaskResult> first(all.begin(), all.begin() + 1000);
  const std::vector<TaskResult> second(all.begin() + 1000, all.end());

  auto sink = StartSink();
  ASSERT_NE(sink, nullptr);
  std::set<TaskKey> acked;
  {
    ASSERT_OK_AND_ASSIGN(auto worker, testing::SinkWorkerClient::Connect(results_));
    SendAll(worker.get(), first, 50);
    while (acked.size() < first.size()) {
      ASSERT_OK_AND_ASSIGN(AckMsg ack, worker->ReceiveAck(kAckTimeout));
      acked.insert(ack.keys.begin(), ack.keys.end());
    }
    // A second wave, and the kill while its commits are under way: some of it is ACKed,
    // the rest is lost in flight and must be resent.
    SendAll(worker.get(), second, 10);
    ASSERT_OK_AND_ASSIGN(AckMsg ack, worker->ReceiveAck(kAckTimeout));
    acked.insert(ack.keys.begin(), ack.keys.end());
    ASSERT_OK(sink->Kill(SIGKILL));
    // ACKs that were already on their way count as ACKed too.
    while (true) {
      auto more = worker->ReceiveAck(std::chrono::milliseconds(200));
      if (!more.ok()) break;
      acked.insert(more->keys.begin(), more->keys.end());
    }
  }
  ASSERT_OK_AND_ASSIGN(int killed, sink->Wait(std::chrono::seconds(10)));
  EXPECT_EQ(killed, 128 + SIGKILL);

  sink = StartSink();
  ASSERT_NE(sink, nullptr);
  auto control = testing::SinkControlClient::Connect(control_);
  ASSERT_OK_AND_ASSIGN(std::vector<StoredResult> stored, control.GetResults(kJob));
  std::set<TaskKey> stored_keys;
  for (const StoredResult& r : stored) {
    EXPECT_TRUE(stored_keys.insert(r.result.task.key).second)
        << "stored twice: " << r.result.task.key.ToString();
  }
  for (const TaskKey& key : acked) {
    EXPECT_TRUE(stored_keys.count(key)) << "ACKed but lost: " << key.ToString();
  }

  // Workers resend whatever they hold un-ACKed; everything ends stored exactly once.
  {
    ASSERT_OK_AND_ASSIGN(auto worker, testing::SinkWorkerClient::Connect(results_));
    std::vector<TaskResult> resend;
    for (const TaskResult& r : all) {
      if (!acked.count(r.task.key)) resend.push_back(r);
    }
    resend.push_back(all.front());  // and one that was ACKed already
    SendAll(worker.get(), resend, 100);
    std::set<TaskKey> acked_again;
    while (acked_again.size() < resend.size()) {
      ASSERT_OK_AND_ASSIGN(AckMsg ack, worker->ReceiveAck(kAckTimeout));
      acked_again.insert(ack.keys.begin(), ack.keys.end());
    }
  }
  ASSERT_OK_AND_ASSIGN(v1::SinkStats stats, control.GetStats());
  EXPECT_EQ(stats.results_stored(), all.size());
  EXPECT_GE(stats.duplicates_dropped(), 1u);

  // SIGTERM is a clean stop.
  ASSERT_OK(sink->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(int code, sink->Wait(std::chrono::seconds(10)));
  EXPECT_EQ(code, 0);
}

// Outsider scenario (issue #14): the store's file zeroed (a bad restore, a disk fault).
// The sink must not start, and must say which file is damaged; it said only "PRAGMA
// cache_size=-65536: file is not a database".
TEST_F(SinkKillTest, AZeroFilledStoreRefusesToStartNamingTheFile) {
  std::filesystem::create_directories(dir_.File("data"));
  const std::string store = dir_.File("data") + "/results.db";
  {
    std::ofstream out(store, std::ios::binary);
    out << std::string(64 * 1024, '\0');
  }
  ASSERT_OK_AND_ASSIGN(auto child, testing::Subprocess::Spawn(
                                       {BTRQ_SINK_BINARY, "--data-dir", dir_.File("data"),
                                        "--listen", results_, "--control-listen", control_,
                                        "--http-listen", http_}));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(std::chrono::seconds(20)));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(child->Stderr(), ::testing::HasSubstr(store));
  EXPECT_THAT(child->Stderr(), ::testing::HasSubstr("not a SQLite database"));
  EXPECT_EQ(std::filesystem::file_size(store), 64u * 1024);  // left alone
}

}  // namespace
}  // namespace btrq::sink
