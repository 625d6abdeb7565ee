#pragma once

// In-process fakes of the control API for the CLI's tests: a Broker and a Sink gRPC
// service on 127.0.0.1:0 that record what they were asked and answer what the test set.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "btrq/v1/control.grpc.pb.h"
#include "common/mutex.h"

namespace btrq::submitter::testing {

class FakeBroker final : public v1::Broker::Service {
 public:
  // What the fake answers; set before the calls.
  uint64_t next_job_id = 7;
  v1::Job job;                              // GetJob, CancelJob, RetryJob
  std::vector<v1::Job> jobs;                // ListJobs
  std::vector<v1::Job> watch_updates;       // WatchJob streams these, then ends
  // The first this many WatchJob calls send watch_updates[0] and then fail UNAVAILABLE,
  // as a broker restart does.
  int watch_breaks = 0;
  std::vector<v1::Worker> workers;
  std::vector<v1::DeadLetter> dead;
  v1::BrokerStats stats;
  grpc::Status fail = grpc::Status::OK;     // when not OK, every RPC answers it

  // What it was asked.
  int calls() const;
  std::vector<std::string> methods() const;
  std::vector<v1::JobSpec> submitted() const;
  std::vector<v1::ListJobsRequest> list_requests() const;
  std::vector<std::string> drained() const;
  std::string last_authorization() const;

  grpc::Status SubmitJob(grpc::ServerContext* c, const v1::SubmitJobRequest* r,
                         v1::SubmitJobResponse* out) override;
  grpc::Status GetJob(grpc::ServerContext* c, const v1::GetJobRequest* r, v1::Job* out) override;
  grpc::Status ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest* r,
                        v1::ListJobsResponse* out) override;
  grpc::Status CancelJob(grpc::ServerContext* c, const v1::CancelJobRequest* r,
                         v1::Job* out) override;
  grpc::Status RetryJob(grpc::ServerContext* c, const v1::RetryJobRequest* r,
                        v1::Job* out) override;
  grpc::Status WatchJob(grpc::ServerContext* c, const v1::WatchJobRequest* r,
                        grpc::ServerWriter<v1::Job>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* c, const v1::GetStatsRequest* r,
                        v1::BrokerStats* out) override;
  grpc::Status ListWorkers(grpc::ServerContext* c, const v1::ListWorkersRequest* r,
                           v1::ListWorkersResponse* out) override;
  grpc::Status DrainWorker(grpc::ServerContext* c, const v1::DrainWorkerRequest* r,
                           v1::DrainWorkerResponse* out) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* c, const v1::ListDeadLettersRequest* r,
                               v1::ListDeadLettersResponse* out) override;

 private:
  grpc::Status Record(grpc::ServerContext* c, const std::string& method);

  mutable Mutex mu_;
  std::vector<std::string> methods_ BTRQ_GUARDED_BY(mu_);
  std::vector<v1::JobSpec> submitted_ BTRQ_GUARDED_BY(mu_);
  std::vector<v1::ListJobsRequest> list_requests_ BTRQ_GUARDED_BY(mu_);
  std::vector<std::string> drained_ BTRQ_GUARDED_BY(mu_);
  std::string authorization_ BTRQ_GUARDED_BY(mu_);
  int watch_calls_ BTRQ_GUARDED_BY(mu_) = 0;
};

class FakeSink final : public v1::Sink::Service {
 public:
  std::vector<v1::ResultBatch> batches;  // GetResults streams these
  grpc::Status fail = grpc::Status::OK;

  std::vector<v1::GetResultsRequest> requests() const;

  grpc::Status GetResults(grpc::ServerContext* c, const v1::GetResultsRequest* r,
                          grpc::ServerWriter<v1::ResultBatch>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* c, const v1::SinkStatsRequest* r,
                        v1::SinkStats* out) override;

 private:
  mutable Mutex mu_;
  std::vector<v1::GetResultsRequest> requests_ BTRQ_GUARDED_BY(mu_);
};

// A gRPC server for `services` on 127.0.0.1 at a port the kernel picks; shut down on
// destruction. The services must outlive it.
class FakeServer {
 public:
  explicit FakeServer(std::vector<grpc::Service*> services);
  ~FakeServer();
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace btrq::submitter::testing
