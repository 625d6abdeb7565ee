#include "tests/faults/schedule.h"

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

namespace btrq::faults {
namespace {

using Clock = std::chrono::steady_clock;

Millis Uniform(std::mt19937_64* rng, Millis max) {
  return Millis(std::uniform_int_distribution<int64_t>(0, max.count())(*rng));
}

}  // namespace

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKillWorker: return "kill -9 worker";
    case FaultKind::kKillBroker: return "kill -9 broker";
    case FaultKind::kKillSink: return "kill -9 sink";
    case FaultKind::kKillBtrdb: return "kill -9 btrdb-lite";
    case FaultKind::kStopWorker: return "SIGSTOP worker";
  }
  return "?";
}

std::string InjectedFault::ToString() const {
  std::string s = "+" + std::to_string(at.count()) + "ms " + std::string(FaultKindName(kind));
  if (kind == FaultKind::kKillWorker || kind == FaultKind::kStopWorker) {
    s += " " + std::to_string(index);
  }
  s += (kind == FaultKind::kStopWorker ? ", SIGCONT after " : ", restarted after ") +
       std::to_string(outage.count()) + "ms";
  return s;
}

uint64_t FaultSeed() {
  if (const char* env = std::getenv("BTRQ_FAULT_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return std::random_device{}();
}

Result<std::vector<InjectedFault>> RunSchedule(Cluster* cluster, JobId job,
                                               const ScheduleOptions& options,
                                               std::mt19937_64* rng) {
  std::vector<InjectedFault> done;
  const auto start = Clock::now();
  for (size_t n = 0; n < options.faults; ++n) {
    std::this_thread::sleep_for(Uniform(rng, options.max_gap));
    // Stop once the job has ended (a broker that is away counts as "still running").
    Result<testing::Json> state = cluster->Job(job);
    if (state.ok() && JobEnded(*state)) break;

    InjectedFault f;
    f.kind = static_cast<FaultKind>(std::uniform_int_distribution<int>(0, 4)(*rng));
    f.index = std::uniform_int_distribution<size_t>(0, cluster->workers() - 1)(*rng);
    f.outage = Uniform(rng, f.kind == FaultKind::kStopWorker ? options.max_stop
                                                              : options.max_outage);
    f.at = std::chrono::duration_cast<Millis>(Clock::now() - start);
    std::cout << "[ schedule ] " << f.ToString() << std::endl;
    Role role = Role::kWorker;
    switch (f.kind) {
      case FaultKind::kKillWorker:
      case FaultKind::kStopWorker: role = Role::kWorker; break;
      case FaultKind::kKillBroker: role = Role::kBroker; break;
      case FaultKind::kKillSink: role = Role::kSink; break;
      case FaultKind::kKillBtrdb: role = Role::kBtrdb; break;
    }
    const size_t index = role == Role::kWorker ? f.index : 0;
    if (f.kind == FaultKind::kStopWorker) {
      BTRQ_RETURN_IF_ERROR(cluster->Signal(role, index, SIGSTOP));
      std::this_thread::sleep_for(f.outage);
      BTRQ_RETURN_IF_ERROR(cluster->Signal(role, index, SIGCONT));
    } else {
      BTRQ_RETURN_IF_ERROR(cluster->Kill(role, index));
      std::this_thread::sleep_for(f.outage);
      BTRQ_RETURN_IF_ERROR(cluster->Restart(role, index));
    }
    done.push_back(f);
  }
  return done;
}

}  // namespace btrq::faults
