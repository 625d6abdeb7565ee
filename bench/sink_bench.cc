// Results per second through sink::ResultStore with durable group commit (WAL,
// synchronous=FULL: one fsync per batch), by payload and batch size, in a temporary
// directory on disk. Prints figures and the machine; asserts nothing.
//
//   sink_bench [--dir DIR] [--seconds S] [--repeat N] [--payload noop|quality|both]
//              [--batches 1,64,1024] [--order broker|scattered] [--prefill N]
//              [--checkpoint-pages P] [--cache-kib C]
//
// DIR defaults to $TMPDIR or /var/tmp. Keys are (job 1, random stream, 12 h chunk). With
// --order broker (the default) they arrive as the broker dispatches a job: its expansion
// cursor walks the streams one after another and each stream's chunks in order, and 16
// workers' results interleave, so a batch holds runs of consecutive chunks of about 16
// streams (100 chunks per stream). With --order scattered, consecutive results belong to
// different streams (chunk after chunk over 10000 streams): the worst case for locality.
// --prefill stores N results first (untimed), for a store that is not empty.
// --checkpoint-pages and --cache-kib set the ResultStoreOptions of the same names.
// Each (payload, batch) runs N times (default 3) on a fresh database; the best run is
// printed: results/s (wall) and the process's CPU time per result (user + system, all
// threads).

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "common/clock.h"
#include "sink/result_store.h"

namespace {

using btrq::sink::ResultStore;

enum class Payload { kNoop, kQuality };

const char* PayloadName(Payload p) { return p == Payload::kNoop ? "noop" : "quality"; }

constexpr uint64_t kLanes = 16;             // streams in flight at once (broker order)
constexpr uint64_t kChunksPerStream = 100;  // broker order
constexpr uint64_t kScatteredStreams = 10000;

struct Workload {
  bool scattered = false;

  // The n-th result's stream number and chunk number.
  std::pair<uint64_t, uint64_t> StreamAndChunk(uint64_t n) const {
    if (scattered) return {n % kScatteredStreams, n / kScatteredStreams};
    const uint64_t lane = n % kLanes, step = n / kLanes;
    return {(step / kChunksPerStream) * kLanes + lane, step % kChunksPerStream};
  }

  // A random-looking, stable stream id (splitmix64 of the stream number).
  static btrq::Uuid StreamId(uint64_t stream) {
    btrq::Uuid u;
    uint64_t x = stream;
    for (int half = 0; half < 2; ++half) {
      uint64_t z = (x += 0x9e3779b97f4a7c15);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
      z ^= z >> 31;
      for (int b = 0; b < 8; ++b) u.bytes[8 * half + b] = static_cast<uint8_t>(z >> (8 * b));
    }
    return u;
  }

  btrq::TaskResult Make(uint64_t n, Payload payload) const {
    btrq::TaskResult r;
    const auto [stream, chunk] = StreamAndChunk(n);
    r.task.key.job = 1;
    r.task.key.stream = StreamId(stream);
    r.task.key.start = static_cast<int64_t>(1'600'000'000 / 43'200 + chunk) * 43'200'000'000'000;
    r.task.attempt = 1;
    r.end = r.task.key.start + 43'200'000'000'000;
    r.version = 12345;
    r.worker_id = "bench-host:4242:abcd";
    if (payload == Payload::kNoop) {
      r.fields = {{"ok", int64_t{1}}};
      r.duration_ns = 2'000;
      r.points_read = 0;
      return r;
    }
    // The quality analytic's output: 16 fields.
    r.fields = {{"count", int64_t{43200}},     {"duplicates", int64_t{3}},
                {"unique", int64_t{43197}},    {"expected", int64_t{43200}},
                {"completeness", 0.99993},     {"gaps", int64_t{1}},
                {"missing_seconds", 3.0},      {"nonfinite", int64_t{0}},
                {"out_of_range", int64_t{0}},  {"longest_stuck", int64_t{2}},
                {"stuck_runs", int64_t{0}},    {"min", -1.25},
                {"max", 60.02},                {"mean", 59.998},
                {"stddev", 0.0123},            {"score", 0.99986}};
    r.duration_ns = 1'500'000;
    r.points_read = 43200;
    return r;
  }
};

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct RunFigures {
  uint64_t results = 0;
  uint64_t commits = 0;
  double per_second = 0;
  double cpu_us_per_result = 0;
};

bool Store(ResultStore* store, const Workload& workload, Payload payload, uint64_t* next,
           std::vector<btrq::TaskResult>* batch) {
  for (auto& r : *batch) r = workload.Make((*next)++, payload);
  auto outcome = store->PutBatch(*batch);
  if (!outcome.ok()) {
    std::fprintf(stderr, "PutBatch: %s\n", outcome.status().ToString().c_str());
    return false;
  }
  return true;
}

bool RunOnce(btrq::sink::ResultStoreOptions options, const Workload& workload,
             Payload payload, size_t batch_size, double seconds, uint64_t prefill,
             RunFigures* out) {
  const std::string path = options.path;
  auto store = ResultStore::Open(options, btrq::SystemClock::Default());
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return false;
  }
  uint64_t next = 0;
  std::vector<btrq::TaskResult> batch(std::min<uint64_t>(4096, std::max<uint64_t>(prefill, 1)));
  while (next < prefill) {
    batch.resize(std::min<uint64_t>(batch.size(), prefill - next));
    if (!Store(store->get(), workload, payload, &next, &batch)) return false;
  }
  batch.resize(batch_size);
  RunFigures f;
  const double cpu_start = ProcessCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (!Store(store->get(), workload, payload, &next, &batch)) return false;
    f.results += batch.size();
    ++f.commits;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  f.per_second = static_cast<double>(f.results) / elapsed;
  f.cpu_us_per_result = (ProcessCpuSeconds() - cpu_start) * 1e6 / static_cast<double>(f.results);
  store->reset();
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
  *out = f;
  return true;
}

std::vector<size_t> ParseList(const char* text) {
  std::vector<size_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::strtoull(item.c_str(), nullptr, 10));
  }
  return out;
}

struct Flags {
  std::string base;
  double seconds = 3;
  int repeat = 3;
  uint64_t prefill = 0;
  bool scattered = false;
  btrq::sink::ResultStoreOptions options;
  std::vector<Payload> payloads = {Payload::kNoop, Payload::kQuality};
  std::vector<size_t> batches = {1, 64, 1024};
};

// Returns the exit code for main when parsing ends the run (--help, a bad flag).
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  const char* tmp = std::getenv("TMPDIR");
  flags->base = tmp && *tmp ? tmp : "/var/tmp";
  std::string order = "broker", payload = "both", batches;
  CLI::App app{"results/s through the durable result store, by payload and batch size"};
  app.add_option("--dir", flags->base, "directory of the temporary databases");
  app.add_option("--seconds", flags->seconds, "seconds per run")->capture_default_str();
  app.add_option("--repeat", flags->repeat, "runs per figure; the best is printed");
  app.add_option("--prefill", flags->prefill, "results stored, untimed, before each run");
  app.add_option("--checkpoint-pages", flags->options.checkpoint_pages);
  app.add_option("--cache-kib", flags->options.cache_kib);
  app.add_option("--order", order, "broker or scattered")->capture_default_str();
  app.add_option("--batches", batches, "comma-separated batch sizes (default 1,64,1024)");
  app.add_option("--payload", payload, "noop, quality or both")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  flags->repeat = std::max(1, flags->repeat);
  flags->scattered = order == "scattered";
  if (!batches.empty()) flags->batches = ParseList(batches.c_str());
  if (payload == "noop") flags->payloads = {Payload::kNoop};
  if (payload == "quality") flags->payloads = {Payload::kQuality};
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const std::optional<int> exit_code = ParseFlags(argc, argv, &flags)) return *exit_code;
  const std::string& base = flags.base;
  const double seconds = flags.seconds;
  const int repeat = flags.repeat;
  const uint64_t prefill = flags.prefill;
  const bool scattered = flags.scattered;
  btrq::sink::ResultStoreOptions options = flags.options;
  const std::vector<Payload>& payloads = flags.payloads;
  const std::vector<size_t>& batches = flags.batches;
  std::string pattern = base + "/btrq-sink-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = pattern;

  Workload workload;
  workload.scattered = scattered;

  std::printf("sink_bench: ResultStore::PutBatch, durable group commit, dir %s\n", dir.c_str());
  std::printf("machine: %s\n", btrq::bench::MachineLine().c_str());
  std::printf("%s order, prefill %llu, %.1f s per run, best of %d\n",
              scattered ? "scattered" : "broker",
              static_cast<unsigned long long>(prefill), seconds, repeat);
  std::printf("%8s %8s %12s %10s %14s %14s\n", "payload", "batch", "results", "commits",
              "results/s", "cpu us/result");
  int exit_code = 0;
  for (Payload payload : payloads) {
    for (size_t batch_size : batches) {
      if (batch_size == 0) continue;
      RunFigures best;
      for (int r = 0; r < repeat; ++r) {
        RunFigures f;
        options.path = dir + "/results.db";
        if (!RunOnce(options, workload, payload, batch_size, seconds, prefill, &f)) {
          exit_code = 1;
          break;
        }
        if (f.per_second > best.per_second) best = f;
      }
      std::printf("%8s %8zu %12llu %10llu %14.0f %14.2f\n", PayloadName(payload), batch_size,
                  static_cast<unsigned long long>(best.results),
                  static_cast<unsigned long long>(best.commits), best.per_second,
                  best.cpu_us_per_result);
      std::fflush(stdout);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return exit_code;
}
