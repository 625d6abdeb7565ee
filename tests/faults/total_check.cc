#include "tests/faults/total_check.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "common/file_util.h"

namespace btrq::faults {
namespace {

using testing::Json;

constexpr size_t kMaxProblems = 12;

int64_t AsInt(const Json& v) { return static_cast<int64_t>(v.AsNumber()); }

std::string KeyText(const ChunkKey& key) {
  return key.first + "@" + std::to_string(key.second);
}

// `text` of a JSON value for messages.
std::string Show(const Json& v) {
  switch (v.type()) {
    case Json::Type::kNull: return "null";
    case Json::Type::kBool: return v.AsBool() ? "true" : "false";
    case Json::Type::kNumber: {
      std::ostringstream o;
      o.precision(17);
      o << v.AsNumber();
      return o.str();
    }
    case Json::Type::kString: return '"' + v.AsString() + '"';
    default: return "<composite>";
  }
}

bool SameValue(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_number()) {
    const double x = a.AsNumber(), y = b.AsNumber();
    return x == y || std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(y));
  }
  if (a.is_string()) return a.AsString() == b.AsString();
  if (a.is_bool()) return a.AsBool() == b.AsBool();
  return a.is_null();
}

}  // namespace

std::string TotalCheck::Summary() const {
  std::string s = "tasks " + std::to_string(tasks) + ", results " + std::to_string(results) +
                  ", dead " + std::to_string(dead) + ", cancelled " + std::to_string(cancelled) +
                  ", lost " + std::to_string(lost) + ", duplicated " +
                  std::to_string(duplicated) + ", mismatched " + std::to_string(mismatched) +
                  ", unexpected " + std::to_string(unexpected) + ", retried " +
                  std::to_string(retried);
  for (const std::string& p : problems) s += "\n  " + p;
  return s;
}

Result<ManifestTruth> LoadManifestTruth(const std::string& path) {
  BTRQ_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  BTRQ_ASSIGN_OR_RETURN(Json doc, Json::Parse(text));
  ManifestTruth truth;
  truth.chunk_ns = AsInt(doc["chunk_ns"]);
  truth.collection = doc["collection"].AsString();
  for (const Json& stream : doc["streams"].elements()) {
    const std::string& uuid = stream["uuid"].AsString();
    truth.streams.push_back(uuid);
    for (const Json& chunk : stream["chunks"].elements()) {
      truth.chunks[{uuid, AsInt(chunk["start"])}] = chunk;
    }
  }
  if (truth.chunks.empty()) return Status::InvalidArgument(path + ": no chunks");
  return truth;
}

Result<std::map<ChunkKey, Json>> FetchResults(Cluster* cluster, JobId job, size_t* repeated) {
  BTRQ_ASSIGN_OR_RETURN(CliRun run, cluster->Cli({"results", std::to_string(job)},
                                                 Millis(120'000)));
  if (run.exit_code != 0) {
    return Status::Unavailable("btrq results exited with " + std::to_string(run.exit_code) +
                               ": " + run.err);
  }
  std::map<ChunkKey, Json> out;
  *repeated = 0;
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    BTRQ_ASSIGN_OR_RETURN(Json r, Json::Parse(line));
    ChunkKey key{r["stream"].AsString(), AsInt(r["start"])};
    if (!out.emplace(key, std::move(r)).second) ++*repeated;
  }
  return out;
}

Result<TotalCheck> CheckJob(Cluster* cluster, JobId job, const ManifestTruth& truth,
                            const CheckOptions& options) {
  TotalCheck check;
  const auto problem = [&check](std::string p) {
    if (check.problems.size() < kMaxProblems) check.problems.push_back(std::move(p));
  };
  check.tasks = truth.chunks.size();

  size_t repeated = 0;
  BTRQ_ASSIGN_OR_RETURN(auto results, FetchResults(cluster, job, &repeated));
  check.duplicated += repeated;
  if (repeated > 0) problem(std::to_string(repeated) + " keys returned twice by the sink");

  BTRQ_ASSIGN_OR_RETURN(CliRun show, cluster->Cli({"show", std::to_string(job), "--json",
                                                   "--dead-limit", "1000000"}));
  if (show.exit_code != 0) return Status::Unavailable("btrq show failed: " + show.err);
  BTRQ_ASSIGN_OR_RETURN(Json shown, Json::Parse(show.out));
  std::set<ChunkKey> dead;
  for (const Json& d : shown["dead_letters"].elements()) {
    ChunkKey key{d["stream"].AsString(), AsInt(d["start_ns"])};
    if (d["error"].AsString().empty()) problem("dead letter without an error: " + KeyText(key));
    if (!dead.insert(key).second) {
      ++check.duplicated;
      problem("dead-lettered twice: " + KeyText(key));
    }
    if (results.count(key)) {
      ++check.duplicated;
      problem("both a result and a dead letter: " + KeyText(key));
    }
  }

  const Json& counts = shown["job"]["counts"];
  check.cancelled = static_cast<size_t>(counts["cancelled"].AsNumber());
  check.retried = static_cast<size_t>(counts["retried"].AsNumber());
  check.results = results.size();
  check.dead = dead.size();

  for (const auto& [key, r] : results) {
    auto t = truth.chunks.find(key);
    if (t == truth.chunks.end()) {
      ++check.unexpected;
      problem("result for a key outside the job: " + KeyText(key));
      continue;
    }
    bool differs = false;
    for (const auto& [result_field, truth_field] : options.truth_fields) {
      const Json& want = t->second[truth_field];
      if (want.is_null()) continue;
      if (!SameValue(r[result_field], want)) {
        differs = true;
        problem(KeyText(key) + ": " + result_field + " = " + Show(r[result_field]) +
                ", truth " + Show(want));
      }
    }
    if (options.baseline != nullptr) {
      auto b = options.baseline->find(key);
      if (b == options.baseline->end()) {
        differs = true;
        problem(KeyText(key) + ": no result in the undisturbed run");
      } else {
        for (const auto& [name, value] : b->second.members()) {
          if (name == "job" || name == "attempt" || name == "worker") continue;
          if (!SameValue(r[name], value)) {
            differs = true;
            problem(KeyText(key) + ": " + name + " = " + Show(r[name]) +
                    ", undisturbed run " + Show(value));
          }
        }
      }
    }
    if (differs) ++check.mismatched;
  }
  for (const ChunkKey& key : dead) {
    if (!truth.chunks.count(key)) {
      ++check.unexpected;
      problem("dead letter for a key outside the job: " + KeyText(key));
    }
  }
  size_t missing = 0;
  for (const auto& [key, chunk] : truth.chunks) {
    if (!results.count(key) && !dead.count(key)) {
      if (++missing <= 3) problem("no result and no dead letter: " + KeyText(key));
    }
  }
  // Cancelled tasks have neither; only a cancel accounts for them.
  check.lost = missing > check.cancelled ? missing - check.cancelled : 0;

  // The broker's view must agree with the sink's.
  const auto count = [&counts](const char* name) {
    return static_cast<size_t>(counts[name].AsNumber());
  };
  if (count("total") != check.tasks) {
    problem("broker total " + std::to_string(count("total")) + ", manifest " +
            std::to_string(check.tasks));
  }
  if (count("done") > check.results) {
    check.duplicated += count("done") - check.results;
    problem("broker done " + std::to_string(count("done")) + " > sink results " +
            std::to_string(check.results));
  } else if (count("done") < check.results) {
    problem("broker done " + std::to_string(count("done")) + " < sink results " +
            std::to_string(check.results));
  }
  if (count("dead") != check.dead) {
    problem("broker dead " + std::to_string(count("dead")) + ", dead letters listed " +
            std::to_string(check.dead));
  }
  if (count("pending") != 0 || count("in_flight") != 0) {
    problem("job ended with pending " + std::to_string(count("pending")) + ", in flight " +
            std::to_string(count("in_flight")));
  }
  return check;
}

}  // namespace btrq::faults
