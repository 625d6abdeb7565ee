// Writes the codec fuzzer's seed corpus: one valid frame per message type, small enough
// for TightLimits in codec_fuzzer.cc, each in DIR/<type>.msgpack.
//   make_codec_corpus fuzz/corpus/codec

#include <cctype>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/codec.h"
#include "common/messages.h"

namespace btrq {
namespace {

TaskKey Key(int i) {
  TaskKey key;
  key.job = 7;
  key.stream.bytes = {0x0f, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x45, 0x55,
                      0x86, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, static_cast<uint8_t>(i)};
  key.start = 1700000000000000000LL + i * 3600000000000LL;
  return key;
}

std::vector<Message> Seeds() {
  std::vector<Message> seeds;
  seeds.push_back(HelloMsg{"host-a:42:abcdef", "host-a", 42, 8, {"quality", "stats"}});
  seeds.push_back(CreditMsg{std::numeric_limits<uint32_t>::max()});
  seeds.push_back(HeartbeatMsg{{{Key(1), 1}, {Key(2), 3}}});
  seeds.push_back(DoneMsg{{{{Key(1), 1}, ErrorClass::kNone, ""},
                           {{Key(2), 2}, ErrorClass::kTransient, "btrdb unavailable"}}});
  seeds.push_back(ByeMsg{});
  TaskSpec task;
  task.key = Key(3);
  task.attempt = 2;
  task.end = task.key.start + 3600000000000LL;
  task.version = 99;
  task.analytic = "quality";
  task.params = {{"rate", 30.0}, {"gap", int64_t{-2}}, {"note", std::string("x")}};
  task.stream_earliest = -5;
  task.stream_latest = task.end + 5;
  seeds.push_back(TaskMsg{{task}});
  seeds.push_back(CancelMsg{42});
  seeds.push_back(BrokerHeartbeatMsg{});
  seeds.push_back(DrainMsg{});
  seeds.push_back(RejectMsg{"bad version: expected 1, got 2"});
  TaskResult result;
  result.task = {Key(4), 1};
  result.end = result.task.key.start + 10;
  result.version = 99;
  result.worker_id = "w1:7:0011aa";
  result.fields = {{"count", int64_t{43200}}, {"score", 0.9875}, {"status", std::string("ok")}};
  result.duration_ns = 1234567;
  result.points_read = 43200;
  seeds.push_back(ResultMsg{{result}});
  seeds.push_back(AckMsg{{Key(4), Key(5)}});
  return seeds;
}

}  // namespace
}  // namespace btrq

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_codec_corpus DIR\n");
    return 2;
  }
  for (const btrq::Message& m : btrq::Seeds()) {
    std::string name(btrq::MessageTypeName(btrq::TypeOf(m)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string path = std::string(argv[1]) + "/" + name + ".msgpack";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << btrq::EncodeMessage(m);
    if (!out.good()) {
      std::fprintf(stderr, "make_codec_corpus: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
