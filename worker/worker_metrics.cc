#include "worker/worker_metrics.h"

#include <vector>

#include "common/codec.h"

#ifndef BTRQ_WORKER_VERSION
#define BTRQ_WORKER_VERSION "unknown"
#endif

namespace btrq::worker {

std::string ErrorClassLabel(ErrorClass error) {
  switch (error) {
    case ErrorClass::kNone:
      return "ok";
    case ErrorClass::kTransient:
      return "transient";
    case ErrorClass::kPermanent:
      return "permanent";
  }
  return "permanent";
}

Result<WorkerMetrics> WorkerMetrics::Register(metrics::Registry* registry,
                                              const std::atomic<bool>* ready) {
  WorkerMetrics m;
  std::map<std::string, metrics::Counter*, std::less<>> tasks_total;
  for (const char* status :
       {"ok", "transient", "permanent", "cancelled", "handed_back", "refused"}) {
    BTRQ_ASSIGN_OR_RETURN(
        tasks_total[status],
        registry->AddCounter("btrq_worker_tasks_total",
                             "Tasks finished by this worker, by outcome.", {{"status", status}}));
  }
  for (ErrorClass e : {ErrorClass::kNone, ErrorClass::kTransient, ErrorClass::kPermanent}) {
    m.outcome_total[static_cast<size_t>(e)] = tasks_total[ErrorClassLabel(e)];
  }
  m.cancelled_total = tasks_total["cancelled"];
  m.handed_back_total = tasks_total["handed_back"];
  BTRQ_ASSIGN_OR_RETURN(
      m.paused_btrdb,
      registry->AddGauge("btrq_worker_paused", "1 while a dependency's outage stops new tasks.",
                         {{"dependency", "btrdb"}}));
  BTRQ_ASSIGN_OR_RETURN(
      m.paused_sink,
      registry->AddGauge("btrq_worker_paused", "1 while a dependency's outage stops new tasks.",
                         {{"dependency", "sink"}}));
  m.refused_total = tasks_total["refused"];
  BTRQ_ASSIGN_OR_RETURN(m.points_total, registry->AddCounter("btrq_worker_points_total",
                                                             "Raw points read by analytics."));
  BTRQ_ASSIGN_OR_RETURN(m.duration,
                        registry->AddHistogram("btrq_task_duration_seconds",
                                               "Time in the analytic per task, reading included.",
                                               metrics::ExponentialBuckets(0.001, 2, 20)));
  BTRQ_ASSIGN_OR_RETURN(m.unacked,
                        registry->AddGauge("btrq_worker_unacked_results",
                                           "Results sent to the sink and not yet acknowledged."));
  BTRQ_ASSIGN_OR_RETURN(m.credit_outstanding,
                        registry->AddGauge("btrq_worker_credit_outstanding",
                                           "Credit given to the broker and not yet used."));
  BTRQ_ASSIGN_OR_RETURN(
      m.tasks_active,
      registry->AddGauge("btrq_worker_tasks_active", "Tasks queued or running in the executor."));
  BTRQ_ASSIGN_OR_RETURN(m.resent_total,
                        registry->AddCounter("btrq_worker_results_resent_total",
                                             "Results sent again for want of an ACK."));
  BTRQ_ASSIGN_OR_RETURN(
      m.broker_reconnects,
      registry->AddCounter("btrq_worker_reconnects_total", "New sockets after a silent peer.",
                           {{"peer", "broker"}}));
  BTRQ_ASSIGN_OR_RETURN(m.sink_reconnects, registry->AddCounter("btrq_worker_reconnects_total",
                                                                "New sockets after a silent peer.",
                                                                {{"peer", "sink"}}));
  std::vector<std::string> reasons;
  for (DecodeErrorReason reason : {DecodeErrorReason::kTooLarge, DecodeErrorReason::kBadVersion,
                                   DecodeErrorReason::kUnknownType, DecodeErrorReason::kMalformed,
                                   DecodeErrorReason::kLimits, DecodeErrorReason::kBadField}) {
    reasons.emplace_back(DecodeErrorReasonName(reason));
  }
  for (const char* extra : {"wrong_type", "envelope", "over_credit", "duplicate_task"}) {
    reasons.emplace_back(extra);
  }
  for (const std::string& reason : reasons) {
    BTRQ_ASSIGN_OR_RETURN(
        m.bad_messages[reason],
        registry->AddCounter("btrq_bad_messages_total", "Frames or tasks dropped, by reason.",
                             {{"reason", reason}}));
  }
  BTRQ_RETURN_IF_ERROR(registry->AddCallbackGauge("btrq_build_info", "The worker's build.",
                                                  {{"version", BTRQ_WORKER_VERSION}},
                                                  [] { return 1.0; }));
  BTRQ_RETURN_IF_ERROR(registry->AddCallbackGauge("btrq_worker_ready",
                                                  "1 while the worker takes work.", {},
                                                  [ready] { return ready->load() ? 1.0 : 0.0; }));
  return m;
}

}  // namespace btrq::worker
