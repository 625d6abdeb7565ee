// Encode and decode TASK frames carrying batches of 1, 16 and 64 tasks; reports tasks/s
// and bytes/s. Run: build/bench/codec_bench (figures only; nothing is asserted).

#include <benchmark/benchmark.h>

#include <string>
#include <thread>

#include "common/codec.h"

namespace btrq {
namespace {

TaskMsg MakeBatch(int n) {
  TaskMsg m;
  for (int i = 0; i < n; ++i) {
    TaskSpec t;
    t.key = {42, Uuid::Random(), 1700000000000000000LL + i * 43200000000000LL};
    t.attempt = 1;
    t.end = t.key.start + 43200000000000LL;
    t.version = 123456;
    t.analytic = "quality";
    t.params = {{"rate", 30.0}, {"gap_factor", int64_t{2}}};
    t.stream_earliest = 1600000000000000000LL;
    t.stream_latest = 1800000000000000000LL;
    m.tasks.push_back(std::move(t));
  }
  return m;
}

void BM_EncodeTasks(benchmark::State& state) {
  const Message m = MakeBatch(static_cast<int>(state.range(0)));
  std::string buf;
  for (auto _ : state) {
    EncodeMessage(m, &buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buf.size()));
  state.counters["frame_bytes"] = static_cast<double>(buf.size());
}

void BM_DecodeTasks(benchmark::State& state) {
  const std::string frame = EncodeMessage(MakeBatch(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    Result<Message> r = DecodeMessage(frame);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame.size()));
}

void BM_EncodeDecodeTasks(benchmark::State& state) {
  const Message m = MakeBatch(static_cast<int>(state.range(0)));
  std::string buf;
  for (auto _ : state) {
    EncodeMessage(m, &buf);
    Result<Message> r = DecodeMessage(buf);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_EncodeTasks)->Arg(1)->Arg(16)->Arg(64);
BENCHMARK(BM_DecodeTasks)->Arg(1)->Arg(16)->Arg(64);
BENCHMARK(BM_EncodeDecodeTasks)->Arg(1)->Arg(16)->Arg(64);

}  // namespace
}  // namespace btrq

BENCHMARK_MAIN();
