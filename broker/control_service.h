#pragma once

// The gRPC Broker service (proto/btrq/v1/control.proto). Runs on gRPC's threads and
// touches the Scheduler only through Dispatcher::Post, so the Scheduler stays
// single-threaded: each call queues a command and waits for its answer until the call's
// deadline or `loop_timeout`, whichever comes first; then it answers DEADLINE_EXCEEDED
// and the command, if it has not started, never runs.
//
// SubmitJob validates before anything is journaled: the spec (JobSpec::Validate), the
// analytic and its params (with the workers' own analytics registry). It does not ask
// BTrDB: a job submitted while BTrDB is away is accepted and expands once BTrDB is back.
// It returns the job id only once the job is durable; a journal failure (a full disk) is
// RESOURCE_EXHAUSTED and the job is forgotten. Streams are looked up later, off the
// dispatcher's loop: a collection that matches nothing fails the job (state FAILED, with
// the reason in Job.error). CancelJob, RetryJob and DrainWorker
// answer only once everything journaled up to their change is durable; when that fails
// or takes longer than call_timeout the answer is the error (the change has been made
// and its record stays queued for the journal: check the job's state).
//
// Rates (tasks_per_second) are over the dispatcher's recent samples. points_per_second
// and counts.points_read stay 0: DONE carries no point counts (the sink has them).
// When `token` is set every call needs "authorization: Bearer <token>".

#include <cstdint>
#include <functional>
#include <future>
#include <string>

#include "broker/dispatcher.h"
#include "broker/job.h"
#include "analytics/registry.h"
#include "btrq/v1/control.grpc.pb.h"

namespace btrq::broker {

struct ControlServiceOptions {
  std::string token;  // empty: no authentication
  // Defaults for fields a spec leaves at 0.
  uint32_t default_max_attempts = 3;
  int64_t default_task_timeout = kDefaultTaskTimeoutNs;
  // WatchJob's period when the request gives none.
  int64_t default_watch_interval = 500'000'000;
  // How long SubmitJob waits for the job to be durable before it gives up answering.
  int64_t call_timeout = 30'000'000'000;
  // How long a call waits for the dispatcher's loop to run its command (it takes one
  // loop iteration, normally under a millisecond) when the client's deadline is later.
  int64_t loop_timeout = 5'000'000'000;
};

class BrokerControlService final : public v1::Broker::Service {
 public:
  // `dispatcher`, `analytics` must outlive the service.
  BrokerControlService(const ControlServiceOptions& options, Dispatcher* dispatcher,
                       const analytics::Registry* analytics);

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::SubmitJobResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status RetryJob(grpc::ServerContext* context, const v1::RetryJobRequest* request,
                        v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::Job>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::BrokerStats* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status DrainWorker(grpc::ServerContext* context, const v1::DrainWorkerRequest* request,
                           v1::DrainWorkerResponse* response) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* context,
                               const v1::ListDeadLettersRequest* request,
                               v1::ListDeadLettersResponse* response) override;

 private:
  grpc::Status Authorize(const grpc::ServerContext& context) const;
  // Runs `fn` on the dispatcher thread and waits for its answer, until the call's
  // deadline or options_.loop_timeout: then DeadlineExceeded, and `fn` never runs if it
  // had not started. Unavailable once the dispatcher has stopped.
  Status Call(const grpc::ServerContext& context,
              const std::function<Status(Dispatcher&)>& fn) const;
  // Call, then waits (call_timeout at most) until what the journal holds at that point
  // is durable. `what` names the change in errors ("cancelling job 7").
  Status CallDurably(const grpc::ServerContext& context,
                     const std::function<Status(Dispatcher&)>& fn, const std::string& what) const;
  // CancelJob/RetryJob: `change` on the loop, then the job as it now is into *response,
  // answered once durable (CallDurably).
  Status ChangeJob(const grpc::ServerContext& context, JobId id, const std::string& doing,
                   const std::function<Status(Scheduler&)>& change, v1::Job* response) const;
  // Waits for a durability answer (Scheduler::WhenDurable, SubmitJob's callback).
  Status AwaitDurable(std::future<Status>* answer, const std::string& what) const;

  const ControlServiceOptions options_;
  Dispatcher* const dispatcher_;
  const analytics::Registry* const analytics_;
};

// A v1::JobSpec as the broker's JobSpec, with `options`' defaults for fields left at 0.
// InvalidArgument for malformed UUIDs and values; JobSpec::Validate is not called.
Result<JobSpec> JobSpecFromProto(const v1::JobSpec& proto, const ControlServiceOptions& options);

}  // namespace btrq::broker
