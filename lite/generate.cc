#include "lite/generate.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string_view>
#include <filesystem>
#include <system_error>

#include <CLI/CLI.hpp>

#include "btrdb/client.h"
#include "common/file_util.h"
#include "common/number_format.h"
#include "lite/manifest.h"
#include "common/time_util.h"

namespace btrq::lite {
namespace {

int64_t WallNowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

btrdb::KeyOptValues Tags(const StreamPlan& plan) {
  return {{"name", plan.name}, {"unit", std::string(GetKindInfo(plan.kind).unit)}};
}

// `rate` (Hz) and the kind's declared bounds `min`/`max`: the broker copies them into
// every task's params, so `quality` finds the period and counts spikes as out_of_range.
btrdb::KeyOptValues Annotations(const StreamPlan& plan) {
  const KindInfo& kind = GetKindInfo(plan.kind);
  return {{"rate", std::to_string(plan.rate_hz)},
          {"kind", std::string(kind.name)},
          {"min", FormatDouble(kind.min)},
          {"max", FormatDouble(kind.max)}};
}

// Creates one stream and inserts its points in batches of kInsertBatchSize, feeding the
// same points to `truth`.
Status LoadStream(btrdb::Client* client, const StreamPlan& plan, TruthBuilder* truth,
                  int64_t* points) {
  Status s = client->Create(plan.uuid, plan.collection, Tags(plan), Annotations(plan));
  if (!s.ok()) {
    if (s.code() == StatusCode::kAlreadyExists) {
      s = s.WithContext("already generated (same seed and collection); pick another --seed");
    }
    return s.WithContext("create " + plan.name + " " + plan.uuid.ToString());
  }
  PointGenerator gen(plan);
  std::vector<GenPoint> batch(btrdb::kInsertBatchSize);
  std::vector<btrdb::RawPoint> raw(btrdb::kInsertBatchSize);
  while (const size_t n = gen.Next(batch)) {
    for (size_t i = 0; i < n; ++i) raw[i] = btrdb::RawPoint{batch[i].time, batch[i].value};
    truth->Add(std::span<const GenPoint>(batch.data(), n));
    const Result<uint64_t> version = client->Insert(
        plan.uuid, std::span<const btrdb::RawPoint>(raw.data(), n), btrdb::MergePolicy::kNever);
    if (!version.ok()) return version.status().WithContext("insert into " + plan.name);
    *points += static_cast<int64_t>(n);
  }
  // Commit the buffer so that the stream's version (which jobs pin) covers every point.
  const Result<uint64_t> flushed = client->Flush(plan.uuid);
  if (!flushed.ok()) return flushed.status().WithContext("flush " + plan.name);
  return Status::OK();
}

}  // namespace

Result<GenerateCommand> ParseGenerateArgs(const std::vector<std::string>& args) {
  GenerateCommand cmd;
  GeneratorOptions& g = cmd.generator;
  std::string start = "2024-01-01";
  std::string duration = "3d";
  std::string chunk = "12h";
  std::string defects = "on";

  CLI::App app("Loads synthetic sensor streams with injected defects into BTrDB and writes "
               "a manifest with the ground truth of the quality analytic.",
               "btrdb-lite generate");
  app.add_option("--endpoint", cmd.endpoint, "BTrDB HOST:PORT (default: $BTRDB_ENDPOINTS)");
  app.add_option("--collection", g.collection, "collection of the streams")->capture_default_str();
  app.add_option("--streams", g.streams, "number of streams")->capture_default_str();
  app.add_option("--start", start, "first point: RFC 3339, ns since the epoch or YYYY-MM-DD")
      ->capture_default_str();
  app.add_option("--duration", duration, "span of every stream (e.g. 3d, 12h)")
      ->capture_default_str();
  app.add_option("--rate", g.rate_hz, "samples per second (integer Hz)")->capture_default_str();
  app.add_option("--seed", g.seed, "seed of all data, UUIDs and defects")->capture_default_str();
  app.add_option("--defects", defects, "inject defects into 3 of every 4 streams")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--manifest", cmd.manifest, "write the JSON manifest to this file");
  app.add_option("--manifest-chunk", chunk,
                 "chunk length of the per-chunk truth (aligned to the epoch)")
      ->capture_default_str();
  app.add_option("--stuck-min", g.stuck_min, "quality's stuck_min for the truth")
      ->capture_default_str();
  app.add_option("--gap-factor", g.gap_factor, "quality's gap_factor for the truth")
      ->capture_default_str();
  app.add_flag("--dry-run", cmd.dry_run, "plan and write the manifest; no server");

  std::vector<char*> argv;
  argv.reserve(args.size());
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return Status::Cancelled("help");
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }

  BTRQ_ASSIGN_OR_RETURN(g.start, ParseTimestamp(start, WallNowNanos()));
  BTRQ_ASSIGN_OR_RETURN(g.duration, ParseDuration(duration));
  BTRQ_ASSIGN_OR_RETURN(g.chunk, ParseDuration(chunk));
  g.defects = defects == "on";
  if (!cmd.dry_run && cmd.endpoint.empty() && std::getenv("BTRDB_ENDPOINTS") == nullptr) {
    return Status::InvalidArgument("no --endpoint and no $BTRDB_ENDPOINTS");
  }
  return cmd;
}

Status Generate(const GenerateCommand& command) {
  BTRQ_ASSIGN_OR_RETURN(const std::vector<StreamPlan> plans, PlanStreams(command.generator));

  std::unique_ptr<btrdb::Client> client;
  if (!command.dry_run) {
    btrdb::ConnectOptions explicit_opts;
    if (!command.endpoint.empty()) explicit_opts.endpoints = {command.endpoint};
    BTRQ_ASSIGN_OR_RETURN(const btrdb::ConnectOptions opts,
                          btrdb::ResolveConnectOptions(explicit_opts, btrdb::ProcessEnv()));
    BTRQ_ASSIGN_OR_RETURN(client, btrdb::Client::Connect(opts));
  }

  const auto t0 = std::chrono::steady_clock::now();
  int64_t points = 0;
  std::vector<StreamTruth> truths;
  truths.reserve(plans.size());
  for (const StreamPlan& plan : plans) {
    if (command.dry_run) {
      truths.push_back(ComputeTruth(plan, command.generator));
      points += truths.back().total.count;
      continue;
    }
    TruthBuilder truth(plan, command.generator);
    BTRQ_RETURN_IF_ERROR(LoadStream(client.get(), plan, &truth, &points));
    truths.push_back(truth.Finish());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!command.manifest.empty()) {
    BTRQ_RETURN_IF_ERROR(WriteFileAtomically(
        command.manifest, ManifestJson(command.generator, plans, truths)));
  }
  const std::string where =
      command.dry_run ? " [dry run]"
                      : " into " + command.generator.collection + " at " + client->endpoint();
  std::printf("generated %zu streams, %lld points in %.2f s (%.0f points/s)%s\n", plans.size(),
              static_cast<long long>(points), seconds,
              seconds > 0 ? static_cast<double>(points) / seconds : 0.0, where.c_str());
  std::fflush(stdout);
  return Status::OK();
}

int RunGenerate(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  // Accept both ("generate", flags...) and (program, "generate", flags...).
  if (args.size() >= 2 && args[1] == "generate") args.erase(args.begin());
  const Result<GenerateCommand> command = ParseGenerateArgs(args);
  if (!command.ok()) {
    if (command.status().code() == StatusCode::kCancelled) return 0;
    std::fprintf(stderr, "btrdb-lite generate: %s\n", command.status().ToString().c_str());
    return 2;
  }
  const Status s = Generate(*command);
  if (!s.ok()) {
    std::fprintf(stderr, "btrdb-lite generate: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace btrq::lite
