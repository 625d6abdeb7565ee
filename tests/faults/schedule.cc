#include "tests/faults/schedule.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <utility>
#include <thread>

namespace btrq::faults {
namespace {

using Clock = std::chrono::steady_clock;

Millis Uniform(std::mt19937_64* rng, Millis min, Millis max) {
  return Millis(std::uniform_int_distribution<int64_t>(min.count(), std::max(min, max).count())(*rng));
}

bool OneWorker(FaultKind kind) {
  return kind == FaultKind::kKillWorker || kind == FaultKind::kStopWorker;
}

// How long the fault lasts: process deaths are short, dependency outages several
// seconds, pauses past the limit they are meant to break.
Millis DrawOutage(FaultKind kind, const ScheduleOptions& o, Millis worker_silence,
                  std::mt19937_64* rng) {
  switch (kind) {
    case FaultKind::kKillWorker:
    case FaultKind::kKillBroker:
    case FaultKind::kKillSink:
    case FaultKind::kKillBrokerAndSink:
    case FaultKind::kKillAllWorkers:
    case FaultKind::kHostilePeers: return Uniform(rng, Millis(0), o.max_outage);
    case FaultKind::kKillBtrdb:
    case FaultKind::kStopBtrdb:
    case FaultKind::kStopSink:
    case FaultKind::kBrokerRestartWithoutBtrdb:
      return Uniform(rng, o.min_dependency, o.max_dependency);
    case FaultKind::kStopBroker:
      return o.task_timeout + Uniform(rng, Millis(500), Millis(2'000));
    case FaultKind::kStopWorker:
      return worker_silence + Uniform(rng, Millis(300), o.max_past_liveness);
  }
  return Millis(0);
}

bool AllEnded(Cluster* cluster, const std::vector<JobId>& jobs) {
  for (JobId job : jobs) {
    // A broker that is away counts as "still running".
    Result<testing::Json> state = cluster->Job(job);
    if (!state.ok() || !JobEnded(*state)) return false;
  }
  return true;
}

}  // namespace

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKillWorker: return "kill -9 worker";
    case FaultKind::kStopWorker: return "SIGSTOP worker past liveness";
    case FaultKind::kKillBroker: return "kill -9 broker";
    case FaultKind::kKillSink: return "kill -9 sink";
    case FaultKind::kKillBtrdb: return "kill -9 btrdb-lite";
    case FaultKind::kStopBtrdb: return "SIGSTOP btrdb-lite";
    case FaultKind::kStopSink: return "SIGSTOP sink";
    case FaultKind::kStopBroker: return "SIGSTOP broker past leases";
    case FaultKind::kKillBrokerAndSink: return "kill -9 broker and sink";
    case FaultKind::kKillAllWorkers: return "kill -9 every worker";
    case FaultKind::kBrokerRestartWithoutBtrdb: return "broker restart without BTrDB";
    case FaultKind::kHostilePeers: return "hostile peers";
  }
  return "?";
}

std::vector<FaultKind> AllFaultKinds() {
  std::vector<FaultKind> all;
  for (size_t i = 0; i < kFaultKinds; ++i) all.push_back(static_cast<FaultKind>(i));
  return all;
}

std::vector<FaultKind> ProcessFaultKinds() {
  return {FaultKind::kKillWorker, FaultKind::kStopWorker, FaultKind::kKillBroker,
          FaultKind::kKillSink, FaultKind::kKillBtrdb};
}

std::string InjectedFault::ToString() const {
  std::string s = "+" + std::to_string(at.count()) + "ms " + std::string(FaultKindName(kind));
  if (OneWorker(kind)) s += " " + std::to_string(index);
  if (kind == FaultKind::kBrokerRestartWithoutBtrdb) {
    s += frozen ? " (BTrDB frozen)" : " (BTrDB killed)";
  }
  s += ", " + std::to_string(outage.count()) + "ms";
  return held ? s + ", lasting over the next fault" : s;
}

void FaultTally::Add(const std::vector<InjectedFault>& faults) {
  for (const InjectedFault& f : faults) ++by_kind[static_cast<size_t>(f.kind)];
}

size_t FaultTally::total() const {
  size_t n = 0;
  for (size_t c : by_kind) n += c;
  return n;
}

std::string FaultTally::ToString() const {
  std::string s;
  for (size_t i = 0; i < kFaultKinds; ++i) {
    if (by_kind[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += std::string(FaultKindName(static_cast<FaultKind>(i))) + " " + std::to_string(by_kind[i]);
  }
  return s.empty() ? "none" : s;
}

uint64_t FaultSeed() {
  if (const char* env = std::getenv("BTRQ_FAULT_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return std::random_device{}();
}

Result<std::vector<InjectedFault>> RunSchedule(Cluster* cluster, const std::vector<JobId>& jobs,
                                               const ScheduleOptions& options,
                                               std::mt19937_64* rng) {
  if (options.kinds.empty()) return Status::InvalidArgument("no fault kinds to draw from");
  std::vector<FaultKind> order;
  if (options.every_kind) {
    order = options.kinds;
    std::shuffle(order.begin(), order.end(), *rng);
  }
  const Millis silence = cluster->options().heartbeat_interval * cluster->options().liveness;
  std::vector<InjectedFault> done;
  const auto start = Clock::now();
  // An outage lasting over the next fault, and when it began.
  std::optional<std::pair<InjectedFault, Clock::time_point>> held;
  const auto end_held = [&]() -> Status {
    if (!held) return Status::OK();
    std::this_thread::sleep_until(held->second + held->first.outage);
    const InjectedFault f = held->first;
    held.reset();
    return EndOutage(cluster, f).WithContext(f.ToString());
  };
  for (size_t n = 0; n < options.faults; ++n) {
    std::this_thread::sleep_for(Uniform(rng, Millis(0), options.max_gap));
    if (AllEnded(cluster, jobs)) break;
    InjectedFault f;
    f.kind = n < order.size() ? order[n]
                              : options.kinds[std::uniform_int_distribution<size_t>(
                                    0, options.kinds.size() - 1)(*rng)];
    f.index = std::uniform_int_distribution<size_t>(0, cluster->workers() - 1)(*rng);
    f.outage = DrawOutage(f.kind, options, silence, rng);
    f.frozen = std::bernoulli_distribution(0.5)(*rng);
    f.held = std::bernoulli_distribution(options.overlap)(*rng) && Holdable(f.kind);
    if (held && Overlaps(held->first.kind, f.kind)) BTRQ_RETURN_IF_ERROR(end_held());
    if (held) f.held = false;  // one held at a time
    f.at = std::chrono::duration_cast<Millis>(Clock::now() - start);
    std::cout << "[ schedule ] " << f.ToString() << std::endl;
    if (f.held) {
      BTRQ_RETURN_IF_ERROR(StartOutage(cluster, f).WithContext(f.ToString()));
      held.emplace(f, Clock::now());
    } else {
      BTRQ_RETURN_IF_ERROR(InjectFault(cluster, f, options, rng).WithContext(f.ToString()));
      BTRQ_RETURN_IF_ERROR(end_held());
    }
    done.push_back(f);
  }
  BTRQ_RETURN_IF_ERROR(end_held());
  return done;
}

}  // namespace btrq::faults
