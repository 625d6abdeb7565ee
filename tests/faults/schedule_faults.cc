// One fault of a schedule (schedule.h): what each kind does to the cluster, and how it is
// undone. Every kind leaves every process running again when it returns OK.

#include <signal.h>

#include <thread>

#include "tests/faults/hostile_peer.h"
#include "tests/faults/schedule.h"

namespace btrq::faults {
namespace {

// SIGSTOP for `outage`, then SIGCONT.
Status Freeze(Cluster* cluster, Role role, size_t index, Millis outage) {
  BTRQ_RETURN_IF_ERROR(cluster->Signal(role, index, SIGSTOP));
  std::this_thread::sleep_for(outage);
  return cluster->Signal(role, index, SIGCONT);
}

// kill -9, `outage`, restart.
Status Bounce(Cluster* cluster, Role role, size_t index, Millis outage) {
  BTRQ_RETURN_IF_ERROR(cluster->Kill(role, index));
  std::this_thread::sleep_for(outage);
  return cluster->Restart(role, index);
}

Status KillBrokerAndSink(Cluster* cluster, Millis outage) {
  // Both SIGKILLs before either is reaped: they die at the same moment.
  BTRQ_RETURN_IF_ERROR(cluster->Signal(Role::kBroker, 0, SIGKILL));
  BTRQ_RETURN_IF_ERROR(cluster->Signal(Role::kSink, 0, SIGKILL));
  BTRQ_RETURN_IF_ERROR(cluster->Kill(Role::kBroker));
  BTRQ_RETURN_IF_ERROR(cluster->Kill(Role::kSink));
  std::this_thread::sleep_for(outage);
  BTRQ_RETURN_IF_ERROR(cluster->Restart(Role::kSink));
  return cluster->Restart(Role::kBroker);
}

Status KillAllWorkers(Cluster* cluster, Millis outage) {
  for (size_t i = 0; i < cluster->workers(); ++i) {
    BTRQ_RETURN_IF_ERROR(cluster->Signal(Role::kWorker, i, SIGKILL));
  }
  for (size_t i = 0; i < cluster->workers(); ++i) BTRQ_RETURN_IF_ERROR(cluster->Kill(Role::kWorker, i));
  std::this_thread::sleep_for(outage);
  for (size_t i = 0; i < cluster->workers(); ++i) {
    BTRQ_RETURN_IF_ERROR(cluster->Restart(Role::kWorker, i));
  }
  return Status::OK();
}

// BTrDB stopped (frozen or killed), the broker killed and started while it is away, BTrDB
// back after `outage`: the broker must start and serve without BTrDB.
Status BrokerRestartWithoutBtrdb(Cluster* cluster, bool frozen, Millis outage) {
  BTRQ_RETURN_IF_ERROR(frozen ? cluster->Signal(Role::kBtrdb, 0, SIGSTOP)
                              : cluster->Kill(Role::kBtrdb));
  const auto started = std::chrono::steady_clock::now();
  Status broker = cluster->Kill(Role::kBroker);
  if (broker.ok()) broker = cluster->Restart(Role::kBroker);
  std::this_thread::sleep_until(started + outage);
  // BTrDB comes back whatever happened to the broker, so the logs tell the rest.
  const Status btrdb = frozen ? cluster->Signal(Role::kBtrdb, 0, SIGCONT)
                              : cluster->Restart(Role::kBtrdb);
  BTRQ_RETURN_IF_ERROR(broker.WithContext("the broker, while BTrDB was away"));
  return btrdb;
}

}  // namespace

bool Holdable(FaultKind kind) {
  return kind == FaultKind::kKillBtrdb || kind == FaultKind::kStopBtrdb ||
         kind == FaultKind::kStopSink;
}

bool Overlaps(FaultKind held, FaultKind next) {
  if (held == FaultKind::kStopSink) {
    // The hostile peers' check reads the sink's metrics.
    return next == FaultKind::kKillSink || next == FaultKind::kStopSink ||
           next == FaultKind::kKillBrokerAndSink || next == FaultKind::kHostilePeers;
  }
  return next == FaultKind::kKillBtrdb || next == FaultKind::kStopBtrdb ||
         next == FaultKind::kBrokerRestartWithoutBtrdb;
}

Status StartOutage(Cluster* cluster, const InjectedFault& f) {
  switch (f.kind) {
    case FaultKind::kKillBtrdb: return cluster->Kill(Role::kBtrdb);
    case FaultKind::kStopBtrdb: return cluster->Signal(Role::kBtrdb, 0, SIGSTOP);
    case FaultKind::kStopSink: return cluster->Signal(Role::kSink, 0, SIGSTOP);
    default: return Status::InvalidArgument("not an outage that can be held");
  }
}

Status EndOutage(Cluster* cluster, const InjectedFault& f) {
  switch (f.kind) {
    case FaultKind::kKillBtrdb: return cluster->Restart(Role::kBtrdb);
    case FaultKind::kStopBtrdb: return cluster->Signal(Role::kBtrdb, 0, SIGCONT);
    case FaultKind::kStopSink: return cluster->Signal(Role::kSink, 0, SIGCONT);
    default: return Status::InvalidArgument("not an outage that can be held");
  }
}

Status InjectFault(Cluster* cluster, const InjectedFault& f, const ScheduleOptions& options,
                   std::mt19937_64* rng) {
  switch (f.kind) {
    case FaultKind::kKillWorker: return Bounce(cluster, Role::kWorker, f.index, f.outage);
    case FaultKind::kStopWorker: return Freeze(cluster, Role::kWorker, f.index, f.outage);
    case FaultKind::kKillBroker: return Bounce(cluster, Role::kBroker, 0, f.outage);
    case FaultKind::kKillSink: return Bounce(cluster, Role::kSink, 0, f.outage);
    case FaultKind::kKillBtrdb: return Bounce(cluster, Role::kBtrdb, 0, f.outage);
    case FaultKind::kStopBtrdb: return Freeze(cluster, Role::kBtrdb, 0, f.outage);
    case FaultKind::kStopSink: return Freeze(cluster, Role::kSink, 0, f.outage);
    case FaultKind::kStopBroker: return Freeze(cluster, Role::kBroker, 0, f.outage);
    case FaultKind::kKillBrokerAndSink: return KillBrokerAndSink(cluster, f.outage);
    case FaultKind::kKillAllWorkers: return KillAllWorkers(cluster, f.outage);
    case FaultKind::kBrokerRestartWithoutBtrdb:
      return BrokerRestartWithoutBtrdb(cluster, f.frozen, f.outage);
    case FaultKind::kHostilePeers: {
      Status s = SendHostileFrames(cluster, options.targets, rng);
      std::this_thread::sleep_for(f.outage);
      return s;
    }
  }
  return Status::InvalidArgument("unknown fault kind");
}

}  // namespace btrq::faults
