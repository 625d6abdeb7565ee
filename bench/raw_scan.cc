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
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "btrdb/client.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/status.h"

namespace btrq::bench {
namespace {

int64_t FloorTo(int64_t t, int64_t chunk) {
  int64_t q = t / chunk;
  if (t % chunk != 0 && t < 0) --q;
  return q * chunk;
}

struct Flags {
  std::string endpoint;
  std::string collection;
  bool prefix = false;
  int64_t chunk = 0;
  int threads = 1;
};

// What the scanning threads share.
struct Scan {
  std::atomic<size_t> next{0};  // the next stream to take
  std::atomic<int64_t> points{0}, calls{0};
  Mutex mu;
  Status error BTRQ_GUARDED_BY(mu);  // the first error of any thread
  double checksum BTRQ_GUARDED_BY(mu) = 0;

  void Fail(const Status& s) BTRQ_EXCLUDES(mu) {
    MutexLock lock(&mu);
    if (error.ok()) error = s;
  }
};

// One thread: its own client takes streams from `scan->next` until none are left.
void ScanThread(const btrdb::ConnectOptions& options,
                const std::vector<btrdb::StreamDescriptor>& streams, int64_t chunk,
                Scan* scan) {
  auto client = btrdb::Client::Connect(options);
  if (!client.ok()) return scan->Fail(client.status());
  double checksum = 0;
  int64_t mine = 0, my_calls = 0;
  auto sink = [&](std::span<const btrdb::RawPoint> batch) {
    mine += static_cast<int64_t>(batch.size());
    for (const btrdb::RawPoint& p : batch) checksum += p.value;
    return Status::OK();
  };
  for (size_t i = scan->next++; i < streams.size(); i = scan->next++) {
    const Uuid& uuid = streams[i].uuid;
    auto version = (*client)->Version(uuid);
    if (!version.ok()) return scan->Fail(version.status());
    if (chunk <= 0) {
      auto r = (*client)->RawValues(uuid, btrdb::kMinTime, btrdb::kMaxTime - 1, *version, sink);
      if (!r.ok()) return scan->Fail(r.status());
      ++my_calls;
      continue;
    }
    auto first = (*client)->Earliest(uuid, *version);
    auto last = (*client)->Latest(uuid, *version);
    if (!first.ok()) return scan->Fail(first.status());
    if (!last.ok()) return scan->Fail(last.status());
    if (!*first || !*last) continue;
    for (int64_t s = FloorTo((*first)->time, chunk); s <= (*last)->time; s += chunk) {
      auto r = (*client)->RawValues(uuid, s, s + chunk, *version, sink);
      if (!r.ok()) return scan->Fail(r.status());
      ++my_calls;
    }
  }
  scan->points += mine;
  scan->calls += my_calls;
  MutexLock lock(&scan->mu);
  scan->checksum += checksum;
}

Status Run(const Flags& flags) {
  std::printf("machine: %s\n", MachineLine().c_str());
  btrdb::ConnectOptions options;
  options.endpoints = {flags.endpoint};
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<btrdb::Client> lookup_client,
                        btrdb::Client::Connect(options));
  BTRQ_ASSIGN_OR_RETURN(const std::vector<btrdb::StreamDescriptor> streams,
                        lookup_client->LookupStreams(flags.collection, flags.prefix, {}, {}));
  std::printf("RawValues of %zu streams in %s%s, %s, %d client(s)\n", streams.size(),
              flags.collection.c_str(), flags.prefix ? " (prefix)" : "",
              flags.chunk > 0 ? ("per " + std::to_string(flags.chunk) + " ns chunk").c_str()
                              : "one call per stream",
              flags.threads);

  Scan scan;
  const int64_t t0 = MonotonicNanos();
  std::vector<std::thread> pool;
  for (int t = 0; t < flags.threads; ++t) {
    pool.emplace_back(ScanThread, std::cref(options), std::cref(streams), flags.chunk, &scan);
  }
  for (auto& t : pool) t.join();
  const double seconds = static_cast<double>(MonotonicNanos() - t0) * 1e-9;
  MutexLock lock(&scan.mu);
  BTRQ_RETURN_IF_ERROR(scan.error);
  std::printf("  (checksum %.1f)\n", scan.checksum);
  std::printf("{\"streams\":%zu,\"threads\":%d,\"chunk_ns\":%lld,\"points\":%lld,\"calls\":%lld,"
              "\"seconds\":%.3f,\"points_per_second\":%.0f}\n",
              streams.size(), flags.threads, static_cast<long long>(flags.chunk),
              static_cast<long long>(scan.points.load()),
              static_cast<long long>(scan.calls.load()), seconds,
              static_cast<double>(scan.points.load()) / seconds);
  return Status::OK();
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"RawValues of every stream in a collection: the scan ceiling"};
  app.add_option("--endpoint", flags.endpoint, "BTrDB server, HOST:PORT")->required();
  app.add_option("--collection", flags.collection, "collection to scan")->required();
  app.add_flag("--prefix", flags.prefix, "match the collection as a prefix");
  app.add_option("--chunk", flags.chunk, "ns per RawValues call; 0 = one call per stream")
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "clients, each with its own connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const Status s = Run(flags);
  if (!s.ok()) std::fprintf(stderr, "bench-raw-scan: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}

}  // namespace
}  // namespace btrq::bench

int main(int argc, char** argv) { return btrq::bench::Main(argc, argv); }
