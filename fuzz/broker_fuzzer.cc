// libFuzzer target for the broker's message handling: the real Dispatcher (over a
// Scheduler with a journal in a temporary directory and an in-memory stream catalog
// holding one long stream, job 1 over it submitted at start) on tcp://127.0.0.1, fed by
// two DEALERs with fixed identities ("fuzz-worker-0", "fuzz-worker-1"). Each input is a
// few frames (fuzz_harness.h), so sequences such as HELLO + CREDIT + DONE for a task the
// worker was sent, CREDIT floods or HELLOs that steal another identity's worker id are
// explored. After each input a third DEALER that never says HELLO sends a HEARTBEAT and
// must get REJECT "unknown worker" back within kLiveness: the loop is still serving.
// Beyond "no crash, leak or UB": the loop never stops on its own.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "broker/dispatcher.h"
#include "broker/journal.h"
#include "broker/scheduler.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/metrics.h"
#include "fuzz/fuzz_harness.h"
#include "tests/support/fake_stream_catalog.h"

namespace btrq {
namespace {

constexpr char kWho[] = "broker_fuzzer";
constexpr auto kLiveness = std::chrono::seconds(5);
constexpr int64_t kSecond = 1'000'000'000;

// The stream job 1 covers; the seeds use the same bytes (make_handler_corpus.cc).
Uuid FuzzStream() {
  Uuid u;
  u.bytes = {0x0f, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x45, 0x55,
             0x86, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0x01};
  return u;
}

class BrokerHarness {
 public:
  BrokerHarness() {
    dir_ = fuzz::MakeTempDir(kWho, "btrq-broker-fuzz");
    // A year of 1 s chunks: job 1 never runs out of tasks.
    catalog_.AddStream(FuzzStream(), 1'700'000'000 * kSecond,
                       1'700'000'000 * kSecond + 365LL * 86400 * kSecond, 7);

    broker::JournalOptions journal_options;
    journal_options.dir = dir_;
    journal_options.fsync = false;
    auto journal = fuzz::CheckOk(kWho, broker::Journal::Open(journal_options, clock_));
    broker::SchedulerOptions scheduler_options;
    scheduler_options.window_per_job = 64;
    scheduler_options.seed = 1;
    auto scheduler = fuzz::CheckOk(
        kWho, broker::Scheduler::Create(scheduler_options, clock_, &catalog_, std::move(journal)));
    broker::JobSpec spec;
    spec.name = "fuzz";
    spec.streams = {FuzzStream()};
    spec.chunk = kSecond;
    spec.analytic = "quality";
    fuzz::CheckOk(kWho, scheduler->SubmitJob(spec, [](const Status&) {}).status());

    broker::DispatcherOptions options;
    options.listen = "tcp://127.0.0.1:0";
    options.limits.max_frame_bytes = 32 * 1024;
    dispatcher_ = fuzz::CheckOk(kWho, broker::Dispatcher::Create(options, clock_,
                                                                 std::move(scheduler),
                                                                 &registry_));
    loop_ = std::thread([this] {
      const Status s = dispatcher_->Run();
      if (!fuzz::Exiting().load()) fuzz::Die(kWho, "Dispatcher::Run returned: " + s.ToString());
    });

    for (int i = 0; i < 2; ++i) {
      workers_.push_back(Dealer("fuzz-worker-" + std::to_string(i)));
    }
    probe_ = Dealer("fuzz-probe");
    probe_frame_ = EncodeMessage(Message(HeartbeatMsg{}));
  }


  void RunOne(const uint8_t* data, size_t size) {
    for (const fuzz::Piece& p : fuzz::SplitInput(data, size)) {
      zmq::socket_t& s = workers_[p.sender];
      if (p.delimiter) {
        fuzz::SendFrames(s, {std::string_view(), p.body});
      } else {
        fuzz::SendFrames(s, {p.body});
      }
    }
    CheckAlive();
    // What the broker sent the fuzzing workers (TASKs, REJECTs, heartbeats): dropped.
    fuzz::DrainAll(workers_);
  }

 private:
  zmq::socket_t Dealer(const std::string& identity) {
    return fuzz::ConnectDealer(kWho, context_, identity, dispatcher_->endpoint());
  }

  void CheckAlive() {
    fuzz::SendFrames(probe_, {probe_frame_});
    const auto deadline = std::chrono::steady_clock::now() + kLiveness;
    std::vector<zmq::message_t> frames;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fuzz::Receive(probe_, std::chrono::milliseconds(100), &frames)) continue;
      Result<Message> m = DecodeMessage(fuzz::Body(frames));
      if (m.ok() && std::holds_alternative<RejectMsg>(*m)) return;
      fuzz::Die(kWho, "the probe got something other than REJECT");
    }
    fuzz::Die(kWho, "the dispatcher did not answer the probe's HEARTBEAT within 5 s");
  }

  Clock* const clock_ = SystemClock::Default();
  std::string dir_;
  testing::FakeStreamCatalog catalog_;
  metrics::Registry registry_;
  std::unique_ptr<broker::Dispatcher> dispatcher_;
  std::thread loop_;
  zmq::context_t context_;
  std::vector<zmq::socket_t> workers_;
  zmq::socket_t probe_;
  std::string probe_frame_;
};

}  // namespace
}  // namespace btrq

BTRQ_FUZZ_ENTRY_POINTS(BrokerHarness)
