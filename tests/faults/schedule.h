#pragma once

// Randomised fault schedules (issue #14, section 7): while jobs run, N faults at random
// moments, each of a kind below with a random duration. Everything random comes from one
// seeded generator, so a seed replays the same choices (timings on a real machine still
// vary). The kinds are process deaths, dependency outages and hostile peers: none is a
// task's own fault, so none may cost a normal job a dead letter.
//
//   ScheduleOptions o;  o.every_kind = true;  o.task_timeout = Millis(3'000);
//   std::mt19937_64 rng(FaultSeed());
//   auto injected = RunSchedule(cluster, {job1, job2}, o, &rng);
//   FaultTally tally;  tally.Add(*injected);  std::cout << tally.ToString();

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "tests/faults/cluster.h"

namespace btrq::faults {

enum class FaultKind {
  kKillWorker,     // kill -9 one worker, restart after `outage`
  kStopWorker,     // SIGSTOP one worker past its liveness, then SIGCONT
  kKillBroker,     // kill -9, restart after `outage`
  kKillSink,       // kill -9, restart after `outage`
  kKillBtrdb,      // kill -9 btrdb-lite: BTrDB gone for `outage` (seconds)
  kStopBtrdb,      // SIGSTOP btrdb-lite: BTrDB frozen for `outage`
  kStopSink,       // SIGSTOP the sink for `outage`
  kStopBroker,     // SIGSTOP the broker past every lease (task_timeout + more)
  kKillBrokerAndSink,   // kill -9 of both at the same moment, both restarted
  kKillAllWorkers,      // kill -9 of every worker at once, all restarted
  kBrokerRestartWithoutBtrdb,  // BTrDB stopped or killed, the broker killed and
                               // restarted, BTrDB back after `outage`
  kHostilePeers,   // garbage, oversized and forged frames to the broker and the sink
};
inline constexpr size_t kFaultKinds = 12;
std::string_view FaultKindName(FaultKind kind);
// Every kind, in enum order.
std::vector<FaultKind> AllFaultKinds();
// The five kinds of the first randomised schedule (one process at a time).
std::vector<FaultKind> ProcessFaultKinds();

struct ScheduleOptions {
  size_t faults = 4;
  // The kinds drawn from.
  std::vector<FaultKind> kinds = ProcessFaultKinds();
  // The first kinds.size() faults are each kind once, in a random order (then random).
  bool every_kind = false;
  Millis max_gap{700};            // before each fault
  Millis max_outage{800};         // between a process's kill and its restart
  Millis min_dependency{2'000};   // BTrDB or sink outages (kKillBtrdb, kStop{Btrdb,Sink},
  Millis max_dependency{6'000};   // kBrokerRestartWithoutBtrdb)
  // The jobs' task_timeout: kStopBroker lasts longer than it.
  Millis task_timeout{3'000};
  // kStopWorker lasts longer than the worker's liveness (heartbeat x liveness) by up to this.
  Millis max_past_liveness{2'000};
  // Keys of the running jobs that kHostilePeers forges DONE, REFUSE and RESULT for.
  std::vector<TaskKey> targets;
  // The chance that a BTrDB or sink outage (kKillBtrdb, kStopBtrdb, kStopSink) lasts on
  // while the next fault is injected (one that touches another process), so that
  // faults also overlap.
  double overlap = 0.35;
};

struct InjectedFault {
  FaultKind kind;
  size_t index = 0;  // the worker, for one-worker faults
  Millis at{0};      // since the schedule started
  Millis outage{0};
  bool frozen = false;  // kBrokerRestartWithoutBtrdb: BTrDB SIGSTOPped rather than killed
  bool held = false;    // an outage that lasted on while the next fault was injected
  std::string ToString() const;
};

// Faults injected per kind, summed over runs.
struct FaultTally {
  std::array<size_t, kFaultKinds> by_kind{};
  void Add(const std::vector<InjectedFault>& faults);
  size_t total() const;
  // "kill -9 worker 3, SIGSTOP worker 2, ..." (kinds never injected left out).
  std::string ToString() const;
};

// The seed of this run: $BTRQ_FAULT_SEED when set, else a random one.
uint64_t FaultSeed();

// Injects up to options.faults faults into `cluster` while any of `jobs` runs, stopping
// early when all have ended; every killed process is restarted and every stopped one
// continued before the next fault and before it returns. Returns what it injected (also
// printed as it goes). An error means a fault could not be injected or undone.
Result<std::vector<InjectedFault>> RunSchedule(Cluster* cluster, const std::vector<JobId>& jobs,
                                               const ScheduleOptions& options,
                                               std::mt19937_64* rng);

// Injects one fault and undoes it (schedule_faults.cc).
Status InjectFault(Cluster* cluster, const InjectedFault& fault, const ScheduleOptions& options,
                   std::mt19937_64* rng);
// The two halves of an outage that may be held over the next fault (see
// ScheduleOptions::overlap): Holdable(kind) says which; Overlaps(held, next) whether
// `next` touches the process `held` keeps down, so that it must end first.
bool Holdable(FaultKind kind);
bool Overlaps(FaultKind held, FaultKind next);
Status StartOutage(Cluster* cluster, const InjectedFault& fault);
Status EndOutage(Cluster* cluster, const InjectedFault& fault);

}  // namespace btrq::faults
