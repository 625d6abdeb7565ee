// Writes the seed corpora of the message-handler fuzzers: valid message sequences in the
// input layout of fuzz_harness.h, each in DIR/<target>/<name>.seq.
//   make_handler_corpus fuzz/corpus
// writes fuzz/corpus/broker/ (sender 0/1 = the two fuzzing workers), fuzz/corpus/sink/
// (the same) and fuzz/corpus/worker/ (sender 0 = the broker, 1 = the sink).

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/codec.h"
#include "common/messages.h"
#include "fuzz/fuzz_harness.h"

namespace btrq {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = int64_t{1'700'000'000} * kSecond;

// Job 1's stream in broker_fuzzer.cc.
TaskKey Key(JobId job, int chunk) {
  TaskKey key;
  key.job = job;
  key.stream.bytes = {0x0f, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x45, 0x55,
                      0x86, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0x01};
  key.start = kT0 + chunk * kSecond;
  return key;
}

struct Step {
  int sender;
  Message message;
  bool delimiter = false;
};
using Seed = std::pair<std::string, std::vector<Step>>;

HelloMsg Hello(const std::string& id) { return HelloMsg{id, "fuzz-host", 42, 2, {"quality"}}; }

std::vector<Seed> BrokerSeeds() {
  const TaskRef t0{Key(1, 0), 1};
  const TaskRef t1{Key(1, 1), 1};
  return {
      {"hello_credit", {{0, Hello("fuzz-worker-0")}, {0, CreditMsg{4}}}},
      {"hello_credit_heartbeat_done",
       {{0, Hello("fuzz-worker-0")}, {0, CreditMsg{2}}, {0, HeartbeatMsg{{t0, t1}}},
        {0, DoneMsg{{{t0, ErrorClass::kNone, ""}}}}}},
      {"done_failures",
       {{0, Hello("fuzz-worker-0")}, {0, CreditMsg{2}},
        {0, DoneMsg{{{t0, ErrorClass::kTransient, "btrdb unavailable"},
                     {t1, ErrorClass::kPermanent, "bad params"}}}}}},
      {"credit_without_hello", {{1, CreditMsg{0xffffffffu}}, {1, CreditMsg{1}}}},
      {"done_without_hello", {{1, DoneMsg{{{t0, ErrorClass::kNone, ""}}}}}},
      {"stolen_worker_id",
       {{0, Hello("fuzz-worker-0")}, {1, Hello("fuzz-worker-0")}, {0, CreditMsg{3}},
        {1, CreditMsg{3}}}},
      {"hello_bye", {{0, Hello("fuzz-worker-0")}, {0, CreditMsg{8}}, {0, ByeMsg{}}}},
      {"delimited_wrong_type", {{0, TaskMsg{}, true}, {1, AckMsg{{Key(1, 0)}}, true}}},
  };
}

TaskResult Result(JobId job, int chunk, const std::string& worker) {
  TaskResult r;
  r.task = {Key(job, chunk), 1};
  r.end = r.task.key.start + kSecond;
  r.version = 7;
  r.worker_id = worker;
  r.fields = {{"count", int64_t{10}}, {"score", 0.5}, {"status", std::string("ok")}};
  r.duration_ns = 1000;
  r.points_read = 10;
  return r;
}

std::vector<Seed> SinkSeeds() {
  return {
      {"result", {{0, ResultMsg{{Result(1, 0, "fuzz-worker-0")}}}}},
      {"duplicate_results",
       {{0, ResultMsg{{Result(1, 1, "fuzz-worker-0")}}},
        {1, ResultMsg{{Result(1, 1, "fuzz-worker-1")}}},
        {0, ResultMsg{{Result(1, 1, "fuzz-worker-0")}}}}},
      {"batch_and_wrong_type",
       {{0, ResultMsg{{Result(2, 0, "w"), Result(2, 1, "w"), Result(2, 2, "w")}}},
        {1, Hello("fuzz-worker-1")}}},
      {"delimited_result", {{1, ResultMsg{{Result(3, 0, "fuzz-worker-1")}}, true}}},
  };
}

TaskSpec Task(JobId job, int chunk, const std::string& analytic, Fields params = {}) {
  TaskSpec t;
  t.key = Key(job, chunk);
  t.attempt = 1;
  t.end = t.key.start + kSecond;
  t.version = 7;
  t.analytic = analytic;
  t.params = std::move(params);
  t.stream_earliest = kT0;
  t.stream_latest = kT0 + 10 * kSecond;
  return t;
}

std::vector<Seed> WorkerSeeds() {
  return {
      {"task_heartbeat", {{0, TaskMsg{{Task(5, 0, "echo")}}}, {0, BrokerHeartbeatMsg{}}}},
      {"task_ack", {{0, TaskMsg{{Task(5, 1, "echo")}}}, {1, AckMsg{{Key(5, 1)}}}}},
      {"task_cancel",
       {{0, TaskMsg{{Task(6, 0, "quality", {{"rate", 30.0}}), Task(6, 1, "echo")}}},
        {0, CancelMsg{6}}}},
      {"duplicate_task",
       {{0, TaskMsg{{Task(7, 0, "echo"), Task(7, 0, "echo")}}},
        {0, TaskMsg{{Task(7, 0, "echo")}}}}},
      {"drain", {{0, TaskMsg{{Task(8, 0, "echo")}}}, {0, DrainMsg{}}}},
      {"fatal_reject", {{0, RejectMsg{"bad version: expected 1, got 2"}}}},
      {"unknown_worker", {{0, RejectMsg{"unknown worker"}}, {0, RejectMsg{"unknown worker"}}}},
      {"wrong_types",
       {{1, Hello("x")}, {0, AckMsg{{Key(9, 0)}}}, {1, AckMsg{{Key(9, 0)}}, true}}},
      {"unknown_analytic", {{0, TaskMsg{{Task(10, 0, "no-such-analytic")}}}}},
  };
}

bool Write(const std::string& dir, const std::vector<Seed>& seeds) {
  ::mkdir(dir.c_str(), 0755);
  for (const auto& [name, steps] : seeds) {
    std::vector<fuzz::Piece> pieces;
    for (const Step& s : steps) {
      pieces.push_back(fuzz::Piece{s.sender, s.delimiter, EncodeMessage(s.message)});
    }
    const std::string path = dir + "/" + name + ".seq";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << fuzz::JoinInput(pieces);
    if (!out.good()) {
      std::fprintf(stderr, "make_handler_corpus: cannot write %s\n", path.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace btrq

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_handler_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const bool ok = btrq::Write(dir + "/broker", btrq::BrokerSeeds()) &&
                  btrq::Write(dir + "/sink", btrq::SinkSeeds()) &&
                  btrq::Write(dir + "/worker", btrq::WorkerSeeds());
  return ok ? 0 : 1;
}
