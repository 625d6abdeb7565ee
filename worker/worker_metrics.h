#pragma once

// The worker's Prometheus metrics (docs/observability.md): registered once, then updated
// by the worker's I/O thread through the pointers below.

#include <atomic>
#include <functional>
#include <map>
#include <string>

#include "common/messages.h"
#include "common/metrics.h"
#include "common/status.h"

namespace btrq::worker {

// "ok", "transient" or "permanent": the status label of a task's outcome.
std::string ErrorClassLabel(ErrorClass error);

struct WorkerMetrics {
  // Registers every worker metric in `registry`, including btrq_build_info and
  // btrq_worker_ready (which reads `ready`). Both must outlive the metrics' use.
  static Result<WorkerMetrics> Register(metrics::Registry* registry,
                                        const std::atomic<bool>* ready);

  // btrq_worker_tasks_total by ErrorClass (kNone, kTransient, kPermanent), and cancelled.
  metrics::Counter* outcome_total[3] = {};
  metrics::Counter* cancelled_total = nullptr;
  // btrq_worker_tasks_total{status="handed_back"}: not attempted, BTrDB was down.
  metrics::Counter* handed_back_total = nullptr;
  // btrq_worker_paused{dependency}: 1 while BTrDB's or the sink's outage stops new tasks.
  metrics::Gauge* paused_btrdb = nullptr;
  metrics::Gauge* paused_sink = nullptr;
  // ...and refused: TASKs this worker could not decode, sent back in REFUSE.
  metrics::Counter* refused_total = nullptr;
  // btrq_bad_messages_total by reason.
  std::map<std::string, metrics::Counter*, std::less<>> bad_messages;
  metrics::Counter* points_total = nullptr;
  metrics::Histogram* duration = nullptr;
  metrics::Gauge* unacked = nullptr;
  metrics::Gauge* credit_outstanding = nullptr;
  metrics::Gauge* tasks_active = nullptr;
  metrics::Counter* resent_total = nullptr;
  metrics::Counter* broker_reconnects = nullptr;
  metrics::Counter* sink_reconnects = nullptr;
};

}  // namespace btrq::worker
