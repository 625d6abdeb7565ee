// A full disk, for real, under the broker's journal and under the sink's result store:
// the daemon runs in a private mount namespace on a small tmpfs (root only: unshare -m +
// mount) and the test fills that file system.
// - Broker: SubmitJob must fail with a clear error instead of acknowledging a job it
//   could not journal; once space is back, submissions succeed again. The same path
//   through the JournalEnv seam runs everywhere in tests/unit/broker (scheduler_test
//   FullDiskRefusesTheJobWithAClearError, journal_test
//   FullDiskFailsAcknowledgedRecordsAndKeepsTheRest).
// - Sink: results that cannot be committed are not acknowledged (and counted in
//   btrq_sink_commit_errors_total); the sink lives on, and once space is back the
//   worker's resend is stored and acknowledged, exactly once.
// Where the machine does not allow it the tests are skipped.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::faults {
namespace {

using ::testing::HasSubstr;
using Millis = std::chrono::milliseconds;

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult RunCli(const std::vector<std::string>& args) {
  CliResult run;
  auto cli = testing::Subprocess::Spawn(args);
  if (!cli.ok()) return run;
  auto code = (*cli)->Wait(Millis(30'000));
  (void)(*cli)->WaitForLine("(?!)", Millis(5'000), false);
  (void)(*cli)->WaitForLine("(?!)", Millis(5'000), true);
  run.code = code.ok() ? *code : -1;
  run.out = (*cli)->Stdout();
  run.err = (*cli)->Stderr();
  return run;
}

// Writes zeros to `path` until the file system is full. Returns the bytes written.
Result<size_t> FillUp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string block(4096, '\0');
  size_t written = 0;
  for (;;) {
    const size_t n = std::fwrite(block.data(), 1, block.size(), f);
    written += n;
    if (n < block.size()) break;
  }
  const int error = errno;
  std::fclose(f);
  if (error != ENOSPC) return Status::IoError("filling stopped with errno " + std::to_string(error));
  return written;
}

TEST(FullDiskTest, SubmitJobFailsWithAClearErrorWhenTheJournalDiskIsFull) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and util-linux's unshare to mount a tiny tmpfs; the "
                    "JournalEnv seam tests in tests/unit/broker cover the same path";
  }
  testing::TempDir dir;
  const std::string mnt = dir.File("journal");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  const std::string control = testing::FreeHostPort();
  // A BTrDB for the broker to expand the job against.
  const std::string btrdb = testing::FreeHostPort();
  auto lite = testing::Subprocess::Spawn({BTRQ_BTRDB_LITE_BINARY, "--listen", btrdb});
  ASSERT_OK(lite);
  ASSERT_OK((*lite)->WaitForLine("btrdb-lite: ready on", Millis(30'000)));
  auto broker = testing::Subprocess::Spawn(
      {"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
       "mount -t tmpfs -o size=1m btrq-full-disk \"$0\" && exec \"$@\"", mnt,
       BTRQ_BROKER_BINARY, "--data-dir", mnt, "--listen-control", control, "--listen-tasks",
       testing::FreeZmqEndpoint(), "--listen-http", testing::FreeHostPort(), "--btrdb",
       btrdb});
  ASSERT_OK(broker);
  auto ready = (*broker)->WaitForLine("btrq-broker: ready", Millis(30'000), true);
  if (!ready.ok()) {
    GTEST_SKIP() << "could not start the broker on a private tmpfs: " << (*broker)->Stderr();
  }
  // The tmpfs is visible through the broker's own root.
  const std::string journal_dir = "/proc/" + std::to_string((*broker)->pid()) + "/root" + mnt;
  const std::vector<std::string> submit = {BTRQ_CLI_BINARY, "--broker", control, "submit",
                                           "-q", "--collection", "c", "--analytic", "noop"};

  CliResult first = RunCli(submit);
  ASSERT_EQ(first.code, 0) << first.err;

  ASSERT_OK_AND_ASSIGN(size_t filled, FillUp(journal_dir + "/filler"));
  EXPECT_GT(filled, 0u);
  // The journal's last page may still hold a few records; past it, every submission is
  // refused. Each acknowledged job must be journaled, so none may go missing later.
  std::vector<std::string> acknowledged = {first.out.substr(0, first.out.find('\n'))};
  CliResult refused;
  for (int i = 0; i < 200; ++i) {
    CliResult r = RunCli(submit);
    if (r.code == 0) {
      acknowledged.push_back(r.out.substr(0, r.out.find('\n')));
      continue;
    }
    refused = r;
    break;
  }
  EXPECT_EQ(refused.code, 1) << "no submission failed on a full disk";
  EXPECT_THAT(refused.err, HasSubstr("journal is full")) << refused.err;
  EXPECT_EQ(refused.out, "") << "a job id was printed for a job that was not journaled";
  std::cout << "[ faults   ] " << acknowledged.size()
            << " jobs acknowledged before the full disk refused one: " << refused.err;

  // The broker lives on; with space back it accepts jobs again.
  ASSERT_EQ(::unlink((journal_dir + "/filler").c_str()), 0);
  CliResult again = RunCli(submit);
  EXPECT_EQ(again.code, 0) << again.err;
  CliResult jobs = RunCli({BTRQ_CLI_BINARY, "--broker", control, "jobs", "--all", "--json"});
  EXPECT_EQ(jobs.code, 0) << jobs.err;
  for (const std::string& id : acknowledged) {
    EXPECT_THAT(jobs.out, HasSubstr("\"id\":" + id + ",")) << "acknowledged job " << id;
  }

  ASSERT_OK((*broker)->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(int code, (*broker)->Wait(Millis(20'000)));
  EXPECT_EQ(code, 0) << (*broker)->Stderr();
}

// A worker's DEALER towards the sink: RESULT frames out, ACK frames in.
class ResultSender {
 public:
  explicit ResultSender(const std::string& endpoint)
      : dealer_(context_, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(endpoint);
  }

  void Send(const std::vector<TaskResult>& results) {
    const std::string frame = EncodeMessage(Message(ResultMsg{results}));
    dealer_.send(zmq::buffer(frame), zmq::send_flags::none);
  }

  // The keys ACKed within `timeout`, added to *acked; stops early once *acked has `want`.
  void CollectAcks(std::set<TaskKey>* acked, size_t want, Millis timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (acked->size() < want && std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, Millis(50));
      zmq::message_t msg;
      while (dealer_.recv(msg, zmq::recv_flags::dontwait)) {
        auto decoded = DecodeMessage(msg.to_string_view());
        ASSERT_OK(decoded);
        const auto* ack = std::get_if<AckMsg>(&*decoded);
        ASSERT_NE(ack, nullptr) << "the sink sends only ACKs";
        acked->insert(ack->keys.begin(), ack->keys.end());
      }
    }
  }

 private:
  zmq::context_t context_;
  zmq::socket_t dealer_;
};

std::vector<TaskResult> Results(JobId job, int first, int count) {
  std::vector<TaskResult> out;
  for (int i = first; i < first + count; ++i) {
    TaskResult r;
    r.task.key.job = job;
    r.task.key.stream.bytes[0] = static_cast<uint8_t>(i % 7);
    r.task.key.start = int64_t{i} * 1'000'000'000;
    r.task.attempt = 1;
    r.end = r.task.key.start + 1'000'000'000;
    r.worker_id = "full-disk-test";
    // A few hundred bytes per row, so that a batch needs new pages on disk.
    r.fields = {{"note", std::string(300, static_cast<char>('a' + i % 26))},
                {"count", int64_t{i}}};
    out.push_back(std::move(r));
  }
  return out;
}

// The value of an unlabelled counter in a /metrics text; -1 when absent.
double CounterValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + name.size() + 2));
}

TEST(FullDiskTest, TheSinkAcknowledgesNothingItCouldNotCommitAndStoresTheResendOnce) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and util-linux's unshare to mount a tiny tmpfs";
  }
  testing::TempDir dir;
  const std::string mnt = dir.File("sink");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  const std::string results = testing::FreeZmqEndpoint();
  const std::string control = testing::FreeHostPort();
  const std::string http = testing::FreeHostPort();
  auto sink = testing::Subprocess::Spawn(
      {"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
       "mount -t tmpfs -o size=2m btrq-full-disk \"$0\" && exec \"$@\"", mnt,
       BTRQ_SINK_BINARY, "--data-dir", mnt, "--listen", results, "--control-listen", control,
       "--http-listen", http});
  ASSERT_OK(sink);
  auto ready = (*sink)->WaitForLine("btrq-sink: ready", Millis(30'000), true);
  if (!ready.ok()) {
    GTEST_SKIP() << "could not start the sink on a private tmpfs: " << (*sink)->Stderr();
  }
  const std::string data_dir = "/proc/" + std::to_string((*sink)->pid()) + "/root" + mnt;
  constexpr JobId kJob = 5;
  ResultSender worker(results);

  const std::vector<TaskResult> before = Results(kJob, 0, 50);
  std::set<TaskKey> acked;
  worker.Send(before);
  worker.CollectAcks(&acked, before.size(), Millis(20'000));
  ASSERT_EQ(acked.size(), before.size()) << "results before the disk filled up";

  ASSERT_OK_AND_ASSIGN(size_t filled, FillUp(data_dir + "/filler"));
  EXPECT_GT(filled, 0u);
  // 2,000 rows of ~350 bytes need far more pages than the WAL holds: the commit fails.
  const std::vector<TaskResult> during = Results(kJob, 1000, 2000);
  worker.Send(during);
  httplib::Client metrics_client("http://" + http);
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + Millis(20'000);
  while (CounterValue(metrics, "btrq_sink_commit_errors_total") < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(20));
    auto got = metrics_client.Get("/metrics");
    metrics = got ? got->body : "";
  }
  EXPECT_GE(CounterValue(metrics, "btrq_sink_commit_errors_total"), 1) << metrics;
  std::set<TaskKey> acked_during;
  worker.CollectAcks(&acked_during, during.size(), Millis(200));
  EXPECT_TRUE(acked_during.empty()) << acked_during.size() << " results ACKed on a full disk";
  auto logged = (*sink)->WaitForLine("commit of .* failed, not acknowledged", Millis(20'000),
                                     /*from_stderr=*/true);
  EXPECT_TRUE(logged.ok()) << logged.status().ToString() << "\n" << (*sink)->Stderr();

  // Space is back; the worker resends what was not acknowledged, as after its timeout.
  ASSERT_EQ(::unlink((data_dir + "/filler").c_str()), 0);
  worker.Send(during);
  worker.CollectAcks(&acked_during, during.size(), Millis(20'000));
  EXPECT_EQ(acked_during.size(), during.size()) << "the resend after space came back";

  CliResult fetched = RunCli({BTRQ_CLI_BINARY, "--sink", control, "results",
                              std::to_string(kJob)});
  ASSERT_EQ(fetched.code, 0) << fetched.err;
  size_t lines = 0;
  for (char c : fetched.out) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, before.size() + during.size()) << "every acknowledged result, once";
  auto after = metrics_client.Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_EQ(CounterValue(after->body, "btrq_sink_results_total"),
            static_cast<double>(before.size() + during.size()));
  EXPECT_EQ(CounterValue(after->body, "btrq_sink_duplicates_total"), 0);

  ASSERT_OK((*sink)->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(int code, (*sink)->Wait(Millis(20'000)));
  EXPECT_EQ(code, 0) << (*sink)->Stderr();
}

}  // namespace
}  // namespace btrq::faults
