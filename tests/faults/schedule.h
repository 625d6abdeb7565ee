#pragma once

// Randomised fault schedules: while a job runs, N faults at random moments, each one of
// kill -9 (and restart after a random outage) of a worker, the broker, the sink or
// btrdb-lite, or SIGSTOP of a worker for a random while (often past its liveness) and
// SIGCONT. Everything random comes from one seeded generator, so a seed replays the same
// choices (timings on a real machine still vary).

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/faults/cluster.h"

namespace btrq::faults {

enum class FaultKind { kKillWorker, kKillBroker, kKillSink, kKillBtrdb, kStopWorker };
std::string_view FaultKindName(FaultKind kind);

struct ScheduleOptions {
  size_t faults = 4;
  Millis max_gap{700};      // before each fault
  Millis max_outage{800};   // between a kill and the restart
  Millis max_stop{2'500};   // between SIGSTOP and SIGCONT
};

struct InjectedFault {
  FaultKind kind;
  size_t index = 0;  // the worker, for worker faults
  Millis at{0};      // since the schedule started
  Millis outage{0};
  std::string ToString() const;
};

// The seed of this run: $BTRQ_FAULT_SEED when set, else a random one.
uint64_t FaultSeed();

// Injects up to options.faults faults into `cluster` while `job` runs, stopping early
// when the job ends; every killed process is restarted and every stopped one continued
// before it returns. Returns what it injected (also printed as it goes).
Result<std::vector<InjectedFault>> RunSchedule(Cluster* cluster, JobId job,
                                               const ScheduleOptions& options,
                                               std::mt19937_64* rng);

}  // namespace btrq::faults
