#include "tests/unit/submitter/fake_services.h"

#include <cstdlib>
#include <iostream>

namespace btrq::submitter::testing {

grpc::Status FakeBroker::Record(grpc::ServerContext* c, const std::string& method) {
  MutexLock lock(&mu_);
  methods_.push_back(method);
  auto it = c->client_metadata().find("authorization");
  if (it != c->client_metadata().end()) {
    authorization_ = std::string(it->second.data(), it->second.size());
  }
  return fail;
}

int FakeBroker::calls() const {
  MutexLock lock(&mu_);
  return static_cast<int>(methods_.size());
}
std::vector<std::string> FakeBroker::methods() const {
  MutexLock lock(&mu_);
  return methods_;
}
std::vector<v1::JobSpec> FakeBroker::submitted() const {
  MutexLock lock(&mu_);
  return submitted_;
}
std::vector<v1::ListJobsRequest> FakeBroker::list_requests() const {
  MutexLock lock(&mu_);
  return list_requests_;
}
std::vector<std::string> FakeBroker::drained() const {
  MutexLock lock(&mu_);
  return drained_;
}
std::string FakeBroker::last_authorization() const {
  MutexLock lock(&mu_);
  return authorization_;
}

grpc::Status FakeBroker::SubmitJob(grpc::ServerContext* c, const v1::SubmitJobRequest* r,
                                   v1::SubmitJobResponse* out) {
  if (grpc::Status s = Record(c, "SubmitJob"); !s.ok()) return s;
  MutexLock lock(&mu_);
  submitted_.push_back(r->spec());
  out->set_job_id(next_job_id);
  return grpc::Status::OK;
}

grpc::Status FakeBroker::GetJob(grpc::ServerContext* c, const v1::GetJobRequest* r, v1::Job* out) {
  if (grpc::Status s = Record(c, "GetJob"); !s.ok()) return s;
  if (r->job_id() != job.id()) {
    return {grpc::StatusCode::NOT_FOUND, "job " + std::to_string(r->job_id()) + " not found"};
  }
  *out = job;
  return grpc::Status::OK;
}

grpc::Status FakeBroker::ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest* r,
                                  v1::ListJobsResponse* out) {
  if (grpc::Status s = Record(c, "ListJobs"); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    list_requests_.push_back(*r);
  }
  for (const v1::Job& j : jobs) *out->add_jobs() = j;
  return grpc::Status::OK;
}

grpc::Status FakeBroker::CancelJob(grpc::ServerContext* c, const v1::CancelJobRequest* r,
                                   v1::Job* out) {
  if (grpc::Status s = Record(c, "CancelJob:" + std::to_string(r->job_id())); !s.ok()) return s;
  *out = job;
  out->set_state(v1::CANCELLED);
  return grpc::Status::OK;
}

grpc::Status FakeBroker::RetryJob(grpc::ServerContext* c, const v1::RetryJobRequest* r,
                                  v1::Job* out) {
  if (grpc::Status s = Record(c, "RetryJob:" + std::to_string(r->job_id())); !s.ok()) return s;
  *out = job;
  out->set_state(v1::RUNNING);
  return grpc::Status::OK;
}

grpc::Status FakeBroker::WatchJob(grpc::ServerContext* c, const v1::WatchJobRequest* r,
                                  grpc::ServerWriter<v1::Job>* writer) {
  if (grpc::Status s = Record(c, "WatchJob:" + std::to_string(r->job_id())); !s.ok()) return s;
  bool breaks = false;
  {
    MutexLock lock(&mu_);
    breaks = watch_calls_++ < watch_breaks;
  }
  if (breaks) {
    if (!watch_updates.empty()) writer->Write(watch_updates[0]);
    return {grpc::StatusCode::UNAVAILABLE, "broker restarting"};
  }
  for (const v1::Job& j : watch_updates) {
    if (!writer->Write(j)) break;
  }
  return grpc::Status::OK;
}

grpc::Status FakeBroker::GetStats(grpc::ServerContext* c, const v1::GetStatsRequest*,
                                  v1::BrokerStats* out) {
  if (grpc::Status s = Record(c, "GetStats"); !s.ok()) return s;
  *out = stats;
  return grpc::Status::OK;
}

grpc::Status FakeBroker::ListWorkers(grpc::ServerContext* c, const v1::ListWorkersRequest*,
                                     v1::ListWorkersResponse* out) {
  if (grpc::Status s = Record(c, "ListWorkers"); !s.ok()) return s;
  for (const v1::Worker& w : workers) *out->add_workers() = w;
  return grpc::Status::OK;
}

grpc::Status FakeBroker::DrainWorker(grpc::ServerContext* c, const v1::DrainWorkerRequest* r,
                                     v1::DrainWorkerResponse*) {
  if (grpc::Status s = Record(c, "DrainWorker"); !s.ok()) return s;
  MutexLock lock(&mu_);
  drained_.push_back(r->worker_id());
  return grpc::Status::OK;
}

grpc::Status FakeBroker::ListDeadLetters(grpc::ServerContext* c,
                                         const v1::ListDeadLettersRequest* r,
                                         v1::ListDeadLettersResponse* out) {
  if (grpc::Status s = Record(c, "ListDeadLetters:" + std::to_string(r->job_id())); !s.ok()) {
    return s;
  }
  for (const v1::DeadLetter& d : dead) *out->add_dead() = d;
  return grpc::Status::OK;
}

std::vector<v1::GetResultsRequest> FakeSink::requests() const {
  MutexLock lock(&mu_);
  return requests_;
}

grpc::Status FakeSink::GetResults(grpc::ServerContext*, const v1::GetResultsRequest* r,
                                  grpc::ServerWriter<v1::ResultBatch>* writer) {
  {
    MutexLock lock(&mu_);
    requests_.push_back(*r);
  }
  if (!fail.ok()) return fail;
  for (const v1::ResultBatch& b : batches) {
    if (!writer->Write(b)) break;
  }
  return grpc::Status::OK;
}

grpc::Status FakeSink::GetStats(grpc::ServerContext*, const v1::SinkStatsRequest*,
                                v1::SinkStats*) {
  return fail;
}

FakeServer::FakeServer(std::vector<grpc::Service*> services) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    std::cerr << "FakeServer: cannot listen on 127.0.0.1:0\n";
    std::abort();
  }
  address_ = "127.0.0.1:" + std::to_string(port);
}

FakeServer::~FakeServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace btrq::submitter::testing
