// Results per second through sink::ResultStore with durable group commit (WAL,
// synchronous=FULL: one fsync per batch), for batch sizes 1, 64 and 1024, in a temporary
// directory on disk. Prints figures and the machine; asserts nothing.
//
//   sink_bench [--dir DIR] [--seconds S]   (DIR defaults to $TMPDIR or /var/tmp)

#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "sink/result_store.h"

namespace {

using btrq::sink::ResultStore;

btrq::TaskResult MakeResult(uint64_t n) {
  btrq::TaskResult r;
  r.task.key.job = 1;
  for (int b = 0; b < 8; ++b) r.task.key.stream.bytes[b] = static_cast<uint8_t>(n >> (8 * b));
  r.task.key.start = static_cast<int64_t>(n) * 43'200'000'000'000;
  r.task.attempt = 1;
  r.end = r.task.key.start + 43'200'000'000'000;
  r.version = 12345;
  r.worker_id = "bench-host:4242:abcd";
  // The quality analytic's output: a realistic payload.
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

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/var/tmp";
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) base = argv[i + 1];
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  std::string pattern = base + "/btrq-sink-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = pattern;

  utsname uts{};
  uname(&uts);
  std::printf("sink_bench: ResultStore::PutBatch, WAL + synchronous=FULL, dir %s\n", dir.c_str());
  std::printf("machine: %s %s, %u hardware threads\n", uts.sysname, uts.machine,
              std::thread::hardware_concurrency());
  std::printf("%8s %12s %12s %14s\n", "batch", "results", "commits", "results/s");

  uint64_t next = 0;
  for (size_t batch_size : {size_t{1}, size_t{64}, size_t{1024}}) {
    btrq::sink::ResultStoreOptions options;
    options.path = dir + "/results-" + std::to_string(batch_size) + ".db";
    auto store = ResultStore::Open(options, btrq::SystemClock::Default());
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
      return 1;
    }
    std::vector<btrq::TaskResult> batch(batch_size);
    uint64_t results = 0, commits = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      for (auto& r : batch) r = MakeResult(next++);
      auto outcome = (*store)->PutBatch(batch);
      if (!outcome.ok()) {
        std::fprintf(stderr, "PutBatch: %s\n", outcome.status().ToString().c_str());
        return 1;
      }
      results += batch.size();
      ++commits;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%8zu %12llu %12llu %14.0f\n", batch_size,
                static_cast<unsigned long long>(results), static_cast<unsigned long long>(commits),
                results / elapsed);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
