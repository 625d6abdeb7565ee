// bench-btrdb-lite: insert and read throughput of btrdb-lite through btrq's C++ client.
//
//   bench-btrdb-lite [--points N] [--endpoint HOST:PORT] [--data-dir DIR] [--no-durable]
//
// Without --endpoint it starts btrdb-lite in-process on 127.0.0.1:0: first in memory
// (insert, then RawValues of everything back to one client), then durable in --data-dir
// (a fresh temporary directory by default; insert only). With --endpoint it runs insert
// and read against that server. Also measures the protobuf decode cost per point on a
// pre-received RawValuesResponse. Prints figures and the machine; asserts nothing.
// Targets (issue): RawValues >= 10M points/s, insert >= 2M points/s in memory.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "btrdb/client.h"
#include "lite/server.h"
#include "btrdb/v5/btrdb.pb.h"
#include "common/ids.h"
#include "common/status.h"

namespace btrq::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::vector<btrdb::RawPoint> MakePoints(int64_t n) {
  std::vector<btrdb::RawPoint> points(static_cast<size_t>(n));
  const int64_t t0 = 1'704'067'200'000'000'000;  // 2024-01-01, 1 kHz
  for (int64_t i = 0; i < n; ++i) {
    points[static_cast<size_t>(i)] = {t0 + i * 1'000'000, 7200.0 + static_cast<double>(i % 977) * 0.01};
  }
  return points;
}

struct Figures {
  double insert_pps = 0;
  double read_pps = 0;
  double read_sink_ns_per_point = 0;
};

// Creates a fresh stream, inserts `points` (kInsertBatchSize per RPC), and with `read`
// streams them all back through one client.
Result<Figures> RunOn(const std::string& endpoint, const std::vector<btrdb::RawPoint>& points,
                      bool read) {
  btrdb::ConnectOptions options;
  options.endpoints = {endpoint};
  options.tls = btrdb::ConnectOptions::Tls::kOff;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<btrdb::Client> client, btrdb::Client::Connect(options));
  const Uuid uuid = Uuid::Random();
  BTRQ_RETURN_IF_ERROR(client->Create(uuid, "bench/btrdb-lite", {{"name", "bench"}}, {}));

  Figures f;
  auto t0 = Clock::now();
  BTRQ_ASSIGN_OR_RETURN(const uint64_t version, client->Insert(uuid, points));
  f.insert_pps = static_cast<double>(points.size()) / Seconds(t0);
  (void)version;
  if (!read) return f;

  int64_t received = 0;
  double checksum = 0;
  double sink_seconds = 0;
  t0 = Clock::now();
  BTRQ_ASSIGN_OR_RETURN(
      const uint64_t read_version,
      client->RawValues(uuid, btrdb::kMinTime, btrdb::kMaxTime - 1, btrdb::kLatestVersion,
                        [&](std::span<const btrdb::RawPoint> batch) {
                          const auto s0 = Clock::now();
                          received += static_cast<int64_t>(batch.size());
                          for (const btrdb::RawPoint& p : batch) checksum += p.value;
                          sink_seconds += Seconds(s0);
                          return Status::OK();
                        }));
  const double seconds = Seconds(t0);
  (void)read_version;
  if (received != static_cast<int64_t>(points.size())) {
    return Status::Internal("read back " + std::to_string(received) + " of " +
                            std::to_string(points.size()) + " points");
  }
  f.read_pps = static_cast<double>(received) / seconds;
  f.read_sink_ns_per_point = sink_seconds * 1e9 / static_cast<double>(received);
  std::printf("  (checksum %.1f)\n", checksum);
  return f;
}

// Parses a serialized RawValuesResponse of `per_message` points and copies the points
// out, as a client must for every message; returns ns per point.
double DecodeNsPerPoint(int per_message) {
  v5api::RawValuesResponse response;
  response.set_versionmajor(10);
  for (int i = 0; i < per_message; ++i) {
    v5api::RawPoint* p = response.add_values();
    p->set_time(1'704'067'200'000'000'000 + int64_t{i} * 1'000'000);
    p->set_value(7200.0 + i * 0.01);
  }
  const std::string wire = response.SerializeAsString();
  std::vector<btrdb::RawPoint> out(static_cast<size_t>(per_message));
  v5api::RawValuesResponse parsed;
  const int rounds = 400;
  double sum = 0;
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    parsed.ParseFromString(wire);
    const int n = parsed.values_size();
    for (int i = 0; i < n; ++i) {
      out[static_cast<size_t>(i)] = {parsed.values(i).time(), parsed.values(i).value()};
    }
    sum += out[static_cast<size_t>(n - 1)].value;
  }
  const double ns = Seconds(t0) * 1e9 / (static_cast<double>(rounds) * per_message);
  std::printf("  decode: %d-point message = %zu bytes on the wire (checksum %.0f)\n", per_message,
              wire.size(), sum);
  return ns;
}

Result<std::unique_ptr<lite::Server>> StartServer(const std::string& data_dir) {
  lite::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir;
  return lite::Server::Start(options);
}

void Print(const char* what, double pps) {
  std::printf("%-34s %12.0f points/s  (%.2f M/s)\n", what, pps, pps / 1e6);
}

int Main(int argc, char** argv) {
  int64_t n = 10'000'000;
  std::string endpoint;
  std::string data_dir;
  bool no_durable = false;
  CLI::App app{"btrdb-lite insert/read throughput through btrq's C++ client"};
  app.add_option("--points", n, "points to insert")->capture_default_str();
  app.add_option("--endpoint", endpoint, "use this server instead of an in-process one");
  app.add_option("--data-dir", data_dir, "directory of the durable run (default: a temp dir)");
  app.add_flag("--no-durable", no_durable, "skip the durable run");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  std::printf("machine: %u hardware threads, %s\n", std::thread::hardware_concurrency(),
              CpuModel().c_str());
  std::printf("points: %lld in batches of %zu, one stream, one client\n",
              static_cast<long long>(n), btrdb::kInsertBatchSize);
  const std::vector<btrdb::RawPoint> points = MakePoints(n);

  auto fail = [](const Status& s) {
    std::fprintf(stderr, "bench-btrdb-lite: %s\n", s.ToString().c_str());
    return 1;
  };

  if (!endpoint.empty()) {
    const Result<Figures> f = RunOn(endpoint, points, true);
    if (!f.ok()) return fail(f.status());
    Print(("insert @" + endpoint).c_str(), f->insert_pps);
    Print(("RawValues @" + endpoint).c_str(), f->read_pps);
    std::printf("%-34s %12.2f ns/point\n", "  sink time per point", f->read_sink_ns_per_point);
  } else {
    Result<std::unique_ptr<lite::Server>> mem = StartServer("");
    if (!mem.ok()) return fail(mem.status());
    const Result<Figures> f = RunOn((*mem)->address(), points, true);
    (*mem)->Shutdown();
    if (!f.ok()) return fail(f.status());
    Print("insert, in memory", f->insert_pps);
    Print("RawValues, in memory", f->read_pps);
    std::printf("%-34s %12.2f ns/point\n", "  sink time per point", f->read_sink_ns_per_point);

    if (!no_durable) {
      std::filesystem::path dir = data_dir;
      const bool temporary = data_dir.empty();
      if (temporary) {
        dir = std::filesystem::temp_directory_path() /
              ("bench-btrdb-lite-" + std::to_string(::getpid()));
      }
      Result<std::unique_ptr<lite::Server>> durable = StartServer(dir.string());
      if (!durable.ok()) return fail(durable.status());
      const Result<Figures> d = RunOn((*durable)->address(), points, false);
      (*durable)->Shutdown();
      durable->reset();
      if (temporary) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
      if (!d.ok()) return fail(d.status());
      Print(("insert, durable (" + dir.string() + ")").c_str(), d->insert_pps);
    }
  }
  std::printf("%-34s %12.2f ns/point\n", "protobuf decode + copy",
              DecodeNsPerPoint(5000));
  std::printf("targets: RawValues >= 10M points/s, insert >= 2M points/s in memory\n");
  return 0;
}

}  // namespace
}  // namespace btrq::bench

int main(int argc, char** argv) { return btrq::bench::Main(argc, argv); }
