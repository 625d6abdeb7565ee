#include "tests/integration/observability/cluster.h"

#include <thread>

#include <httplib.h>

#include "common/listen_gate.h"

namespace btrq::observability {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

Status Timeout(const std::string& what) { return Status::DeadlineExceeded(what); }

}  // namespace

Cluster::~Cluster() {
  if (cluster_ != nullptr) cluster_->StopAll(std::chrono::seconds(10));
}

Status Cluster::Start() {
  cluster::ClusterOptions o;
  o.dir = dir_.path();
  o.binaries = {BTRQ_LITE_BINARY, BTRQ_BROKER_BINARY, BTRQ_SINK_BINARY, BTRQ_WORKER_BINARY};
  o.config.worker.threads = 2;
  o.config.worker.exec_commands = {"/bin/sh"};  // the tests' exec jobs run sh scripts
  // The lab's hosts are network namespaces without CURVE keys: run open, in so many words.
  o.config.broker.insecure = !IsLoopbackEndpoint(options_.host);
  o.config.sink.insecure = o.config.broker.insecure;
  o.data_host = options_.host;
  o.control_host = options_.host;
  o.btrdb_durable = false;
  o.ready_timeout = kReadyTimeout;
  BTRQ_ASSIGN_OR_RETURN(cluster_, cluster::Cluster::Create(std::move(o)));
  BTRQ_RETURN_IF_ERROR(cluster_->Start(cluster::Role::kBtrdb));
  BTRQ_RETURN_IF_ERROR(Generate());
  BTRQ_RETURN_IF_ERROR(cluster_->Start(cluster::Role::kSink));
  BTRQ_RETURN_IF_ERROR(cluster_->Start(cluster::Role::kBroker));
  stub_ = v1::Broker::NewStub(
      grpc::CreateChannel(cluster_->broker_control(), grpc::InsecureChannelCredentials()));
  for (WorkerSpec spec : options_.workers) {
    if (spec.http_host.empty()) spec.http_host = "127.0.0.1";
    BTRQ_ASSIGN_OR_RETURN(size_t index, cluster_->AddWorker(spec));
    worker_http_.push_back(cluster_->worker_http(index));
  }
  return WaitWorkers(options_.workers.size(), kReadyTimeout);
}

Status Cluster::Generate() {
  return cluster_->RunHelper(
      "generate",
      {BTRQ_LITE_BINARY, "generate", "--endpoint", cluster_->btrdb_endpoint(), "--collection",
       kCollection, "--streams", std::to_string(options_.streams), "--start",
       "2024-01-01T00:00:00Z", "--duration", options_.duration, "--rate",
       std::to_string(options_.rate_hz), "--seed", "7", "--defects", "off"},
      std::chrono::seconds(60));
}

Result<uint64_t> Cluster::Submit(const std::string& name, const std::string& analytic,
                                 const std::vector<std::pair<std::string, std::string>>& params,
                                 int64_t chunk_ns, uint32_t max_attempts) {
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_name(name);
  spec->set_collection(kCollection);
  spec->set_analytic(analytic);
  spec->set_chunk_ns(chunk_ns);
  spec->set_max_attempts(max_attempts);
  for (const auto& [k, v] : params) {
    v1::Field* f = spec->add_params();
    f->set_name(k);
    f->mutable_value()->set_string_value(v);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::SubmitJobResponse response;
  const grpc::Status s = stub_->SubmitJob(&context, request, &response);
  if (!s.ok()) return Status::Internal("SubmitJob: " + s.error_message());
  return response.job_id();
}

Result<v1::Job> Cluster::GetJob(uint64_t id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::Job job;
  const grpc::Status s = stub_->GetJob(&context, request, &job);
  if (!s.ok()) return Status::Internal("GetJob: " + s.error_message());
  return job;
}

Result<v1::Job> Cluster::WaitFinished(uint64_t id, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(v1::Job job, GetJob(id));
    if (job.state() == v1::DONE || job.state() == v1::DONE_WITH_FAILURES ||
        job.state() == v1::CANCELLED || job.state() == v1::FAILED) {
      return job;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Timeout("job " + std::to_string(id) + " did not finish: " + job.DebugString());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<v1::ListWorkersResponse> Cluster::ListWorkers() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListWorkersResponse response;
  const grpc::Status s = stub_->ListWorkers(&context, v1::ListWorkersRequest(), &response);
  if (!s.ok()) return Status::Internal("ListWorkers: " + s.error_message());
  return response;
}

Status Cluster::WaitWorkers(size_t n, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    BTRQ_ASSIGN_OR_RETURN(v1::ListWorkersResponse workers, ListWorkers());
    if (static_cast<size_t>(workers.workers_size()) == n) return Status::OK();
    if (std::chrono::steady_clock::now() > deadline) {
      return Timeout("the broker lists " + std::to_string(workers.workers_size()) +
                     " workers, want " + std::to_string(n));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<std::string> Cluster::Get(const std::string& host_port, const std::string& path) {
  httplib::Client client("http://" + host_port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get(path);
  if (!res) return Status::Unavailable("GET " + host_port + path + ": no answer");
  if (res->status != 200) {
    return Status::Internal("GET " + host_port + path + ": status " + std::to_string(res->status));
  }
  return res->body;
}

int Cluster::GetStatus(const std::string& host_port, const std::string& path) {
  httplib::Client client("http://" + host_port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get(path);
  return res ? res->status : 0;
}

}  // namespace btrq::observability
