// bench-raw-scan: the ceiling of the scan benchmark. Streams every point of every stream
// in a collection from a BTrDB server (btrdb-lite) through btrq's C++ client, touching
// each point (a sum) and nothing more.
//
//   bench-raw-scan --endpoint HOST:PORT --collection C [--prefix] [--chunk D_NS]
//                  [--threads T]
//
// --chunk 0 (default): one RawValues call per stream over its whole range; otherwise one
// call per chunk-aligned range, as btrq's tasks read. --threads T: T clients (own
// connection each) take streams from a shared counter; 1 is "one C++ client".
// Prints the machine, the parameters and one JSON line
//   {"streams":..,"points":..,"calls":..,"seconds":..,"points_per_second":..}

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "btrdb/client.h"
#include "common/ids.h"
#include "common/status.h"

namespace btrq::bench {
namespace {

int64_t FloorTo(int64_t t, int64_t chunk) {
  int64_t q = t / chunk;
  if (t % chunk != 0 && t < 0) --q;
  return q * chunk;
}

int Main(int argc, char** argv) {
  std::string endpoint, collection;
  bool prefix = false;
  int64_t chunk = 0;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--prefix") { prefix = true; continue; }
    if (i + 1 >= argc) break;
    if (flag == "--endpoint") endpoint = argv[++i];
    else if (flag == "--collection") collection = argv[++i];
    else if (flag == "--chunk") chunk = std::atoll(argv[++i]);
    else if (flag == "--threads") threads = std::atoi(argv[++i]);
  }
  if (endpoint.empty() || collection.empty() || threads < 1) {
    std::fprintf(stderr, "usage: bench-raw-scan --endpoint HOST:PORT --collection C [--prefix] "
                         "[--chunk NS] [--threads T]\n");
    return 64;
  }
  std::printf("machine: %s\n", MachineLine().c_str());
  btrdb::ConnectOptions options;
  options.endpoints = {endpoint};
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  auto lookup_client = btrdb::Client::Connect(options);
  if (!lookup_client.ok()) {
    std::fprintf(stderr, "bench-raw-scan: %s\n", lookup_client.status().ToString().c_str());
    return 1;
  }
  auto streams = (*lookup_client)->LookupStreams(collection, prefix, {}, {});
  if (!streams.ok()) {
    std::fprintf(stderr, "bench-raw-scan: %s\n", streams.status().ToString().c_str());
    return 1;
  }
  std::printf("RawValues of %zu streams in %s%s, %s, %d client(s)\n", streams->size(),
              collection.c_str(), prefix ? " (prefix)" : "",
              chunk > 0 ? ("per " + std::to_string(chunk) + " ns chunk").c_str()
                        : "one call per stream",
              threads);

  std::atomic<size_t> next{0};
  std::atomic<int64_t> points{0}, calls{0};
  std::mutex error_mu;
  Status error;
  double checksum_all = 0;
  const int64_t t0 = MonotonicNanos();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto client = btrdb::Client::Connect(options);
      auto fail = [&](const Status& s) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
      };
      if (!client.ok()) return fail(client.status());
      double checksum = 0;
      int64_t mine = 0, my_calls = 0;
      auto sink = [&](std::span<const btrdb::RawPoint> batch) {
        mine += static_cast<int64_t>(batch.size());
        for (const btrdb::RawPoint& p : batch) checksum += p.value;
        return Status::OK();
      };
      for (size_t i = next++; i < streams->size(); i = next++) {
        const Uuid& uuid = (*streams)[i].uuid;
        auto version = (*client)->Version(uuid);
        if (!version.ok()) return fail(version.status());
        if (chunk <= 0) {
          auto r = (*client)->RawValues(uuid, btrdb::kMinTime, btrdb::kMaxTime - 1, *version, sink);
          if (!r.ok()) return fail(r.status());
          ++my_calls;
          continue;
        }
        auto first = (*client)->Earliest(uuid, *version);
        auto last = (*client)->Latest(uuid, *version);
        if (!first.ok()) return fail(first.status());
        if (!last.ok()) return fail(last.status());
        if (!*first || !*last) continue;
        for (int64_t s = FloorTo((*first)->time, chunk); s <= (*last)->time; s += chunk) {
          auto r = (*client)->RawValues(uuid, s, s + chunk, *version, sink);
          if (!r.ok()) return fail(r.status());
          ++my_calls;
        }
      }
      points += mine;
      calls += my_calls;
      std::lock_guard<std::mutex> lock(error_mu);
      checksum_all += checksum;
    });
  }
  for (auto& t : pool) t.join();
  const double seconds = static_cast<double>(MonotonicNanos() - t0) * 1e-9;
  if (!error.ok()) {
    std::fprintf(stderr, "bench-raw-scan: %s\n", error.ToString().c_str());
    return 1;
  }
  std::printf("  (checksum %.1f)\n", checksum_all);
  std::printf("{\"streams\":%zu,\"threads\":%d,\"chunk_ns\":%lld,\"points\":%lld,\"calls\":%lld,"
              "\"seconds\":%.3f,\"points_per_second\":%.0f}\n",
              streams->size(), threads, static_cast<long long>(chunk),
              static_cast<long long>(points.load()), static_cast<long long>(calls.load()),
              seconds, static_cast<double>(points.load()) / seconds);
  return 0;
}

}  // namespace
}  // namespace btrq::bench

int main(int argc, char** argv) { return btrq::bench::Main(argc, argv); }
