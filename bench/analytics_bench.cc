// ns per point of the analytics' own work: points come from memory in batches of 5000
// (BTrDB's message size), so the figures exclude the network and protobuf decoding.
// One iteration is one 12-hour chunk at 30 Hz (1.296 M points) with a few defects.
//
//   analytics_bench [--benchmark_filter=Quality]
//
// Items per second in the output = points per second.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "analytics/count.h"
#include "analytics/quality.h"
#include "analytics/stats.h"

namespace btrq::analytics {
namespace {

constexpr int64_t kChunk = int64_t{12} * 3600 * 1'000'000'000;
constexpr int64_t kRate = 30;
constexpr size_t kBatch = 5000;

std::vector<RawPoint> Chunk() {
  std::vector<RawPoint> points;
  const int64_t n = kChunk / 1'000'000'000 * kRate;
  points.reserve(static_cast<size_t>(n) + 16);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 100'000 >= 1000 && i % 100'000 < 1090) continue;  // a 3-second gap
    const int64_t t = i * 1'000'000'000 / kRate;
    double v = 7200 + 30 * std::sin(static_cast<double>(i) * 1e-4) + static_cast<double>(i % 13) * 0.01;
    if (i % 250'000 >= 500 && i % 250'000 < 530) v = 7100;  // stuck
    points.push_back({t, v});
    if (i % 77'777 == 0) points.push_back({t, v + 1});  // duplicate
  }
  return points;
}

class MemorySource final : public PointSource {
 public:
  explicit MemorySource(const std::vector<RawPoint>* points) : points_(points) {}
  Status ReadRaw(int64_t, int64_t, uint64_t, const RawSink& sink) override {
    const std::span<const RawPoint> all(*points_);
    for (size_t i = 0; i < all.size(); i += kBatch) {
      BTRQ_RETURN_IF_ERROR(sink(all.subspan(i, std::min(kBatch, all.size() - i))));
    }
    return Status::OK();
  }
  Status ReadAligned(int64_t, int64_t, uint64_t, uint8_t, const StatSink&) override {
    return Status::Unimplemented("raw only");
  }
  Status ReadWindows(int64_t, int64_t, uint64_t, uint64_t, const StatSink&) override {
    return Status::Unimplemented("raw only");
  }

 private:
  const std::vector<RawPoint>* points_;
};

void RunAnalytic(benchmark::State& state, const Fields& params,
                 Result<std::unique_ptr<Analytic>> (*factory)(const Fields&)) {
  static const std::vector<RawPoint> points = Chunk();
  TaskSpec task;
  task.key.start = 0;
  task.end = kChunk;
  task.params = params;
  task.stream_earliest = 0;
  task.stream_latest = points.back().time;
  std::unique_ptr<Analytic> analytic = std::move(factory(params)).value();
  MemorySource source(&points);
  for (auto _ : state) {
    RunCounters counters;
    Result<Fields> fields = analytic->Run(task, source, &counters);
    if (!fields.ok()) state.SkipWithError(fields.status().ToString().c_str());
    benchmark::DoNotOptimize(fields);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(points.size()));
  state.counters["ns_per_point"] = benchmark::Counter(
      static_cast<double>(points.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_QualityWithRate(benchmark::State& state) {
  RunAnalytic(state, {{"rate", kRate}, {"min", 7000.0}, {"max", 7400.0}}, &NewQuality);
}
void BM_QualityMedianPeriod(benchmark::State& state) { RunAnalytic(state, {}, &NewQuality); }
void BM_Count(benchmark::State& state) { RunAnalytic(state, {}, &NewCount); }

BENCHMARK(BM_QualityWithRate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QualityMedianPeriod)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Count)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace btrq::analytics

BENCHMARK_MAIN();
