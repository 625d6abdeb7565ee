// libFuzzer target for the sink's message handling: the real Sink (Sink::Create with a
// data dir on tmpfs, every endpoint on 127.0.0.1 port 0, a 100 us group commit) fed by
// two DEALERs ("fuzz-worker-0", "fuzz-worker-1"). Each input is a few frames
// (fuzz_harness.h): RESULT batches, duplicates, results under other identities, frames of
// other types, malformed ones. After each input a third DEALER sends a valid RESULT and
// must get the ACK for its key within kLiveness: the ROUTER loop and the store still
// commit. Beyond "no crash, leak or UB": the sink never stops acknowledging.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/codec.h"
#include "common/options.h"
#include "fuzz/fuzz_harness.h"
#include "sink/sink.h"

namespace btrq {
namespace {

constexpr char kWho[] = "sink_fuzzer";
constexpr auto kLiveness = std::chrono::seconds(5);

TaskKey ProbeKey() {
  TaskKey key;
  key.job = 424242;
  key.stream.bytes = {0x0f, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x45, 0x55,
                      0x86, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xfe};
  key.start = 1'700'000'000'000'000'000LL;
  return key;
}

class SinkHarness {
 public:
  SinkHarness() {
    SinkOptions options;
    options.listen = "tcp://127.0.0.1:*";
    options.control_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.data_dir = fuzz::MakeTempDir(kWho, "btrq-sink-fuzz");
    options.commit_interval = 100'000;  // 100 us
    options.max_message_bytes = 32 * 1024;
    options.control_token = "fuzz";
    sink_ = fuzz::CheckOk(kWho, sink::Sink::Create(options, SystemClock::Default()));
    loop_ = std::thread([this] {
      const Status s = sink_->Run();
      if (!fuzz::Exiting().load()) fuzz::Die(kWho, "Sink::Run returned: " + s.ToString());
    });

    for (int i = 0; i < 2; ++i) workers_.push_back(Dealer("fuzz-worker-" + std::to_string(i)));
    probe_ = Dealer("fuzz-probe");
    TaskResult result;
    result.task = {ProbeKey(), 1};
    result.end = ProbeKey().start + 1'000'000'000;
    result.version = 7;
    result.worker_id = "fuzz-probe";
    result.fields = {{"probe", int64_t{1}}};
    probe_frame_ = EncodeMessage(Message(ResultMsg{{result}}));
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
    fuzz::DrainAll(workers_);  // ACKs to the fuzzing workers: dropped
  }

 private:
  zmq::socket_t Dealer(const std::string& identity) {
    return fuzz::ConnectDealer(kWho, context_, identity, sink_->results_endpoint());
  }

  void CheckAlive() {
    fuzz::SendFrames(probe_, {probe_frame_});
    const auto deadline = std::chrono::steady_clock::now() + kLiveness;
    std::vector<zmq::message_t> frames;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fuzz::Receive(probe_, std::chrono::milliseconds(100), &frames)) continue;
      Result<Message> m = DecodeMessage(fuzz::Body(frames));
      const AckMsg* ack = m.ok() ? std::get_if<AckMsg>(&*m) : nullptr;
      if (ack == nullptr) fuzz::Die(kWho, "the probe got something other than ACK");
      if (std::find(ack->keys.begin(), ack->keys.end(), ProbeKey()) != ack->keys.end()) return;
      fuzz::Die(kWho, "the probe's ACK does not name its key");
    }
    fuzz::Die(kWho, "the sink did not ACK the probe's RESULT within 5 s");
  }

  std::unique_ptr<sink::Sink> sink_;
  std::thread loop_;
  zmq::context_t context_;
  std::vector<zmq::socket_t> workers_;
  zmq::socket_t probe_;
  std::string probe_frame_;
};

}  // namespace
}  // namespace btrq

BTRQ_FUZZ_ENTRY_POINTS(SinkHarness)
