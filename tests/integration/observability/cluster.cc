#include "tests/integration/observability/cluster.h"

#include <signal.h>

#include <thread>

#include <httplib.h>

#include "tests/support/ports.h"

namespace btrq::observability {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

std::string HostPort(const std::string& host, int port) {
  return host + ":" + std::to_string(port);
}

// SIGTERM, then SIGKILL if it does not exit in time.
void Stop(std::unique_ptr<testing::Subprocess>& p) {
  if (!p) return;
  if (p->Kill(SIGTERM).ok() && !p->Wait(std::chrono::seconds(10)).ok()) {
    p->Kill(SIGKILL).IgnoreError();  // it may have exited between the two
  }
  p.reset();
}

Status Timeout(const std::string& what) { return Status::DeadlineExceeded(what); }

}  // namespace

Cluster::~Cluster() {
  for (auto& w : workers_) Stop(w);
  Stop(broker_);
  Stop(sink_);
  Stop(btrdb_);
}

Status Cluster::Start() {
  BTRQ_RETURN_IF_ERROR(StartBtrdb());
  BTRQ_RETURN_IF_ERROR(StartSink());
  BTRQ_RETURN_IF_ERROR(StartBroker());
  for (const WorkerSpec& spec : options_.workers) BTRQ_RETURN_IF_ERROR(StartWorker(spec));
  return WaitWorkers(options_.workers.size(), kReadyTimeout);
}

Status Cluster::StartBtrdb() {
  btrdb_endpoint_ = HostPort(options_.host, testing::FreePort());
  BTRQ_ASSIGN_OR_RETURN(btrdb_, testing::Subprocess::Spawn(
                                    {BTRQ_LITE_BINARY, "--listen", btrdb_endpoint_,
                                     "--log-level", "warn"}));
  auto ready = btrdb_->WaitForLine("btrdb-lite: ready on", kReadyTimeout);
  if (!ready.ok()) return ready.status().WithContext("btrdb-lite: " + btrdb_->Stderr());
  BTRQ_ASSIGN_OR_RETURN(
      auto generate,
      testing::Subprocess::Spawn({BTRQ_LITE_BINARY, "generate", "--endpoint", btrdb_endpoint_,
                                  "--collection", kCollection, "--streams",
                                  std::to_string(options_.streams), "--start",
                                  "2024-01-01T00:00:00Z", "--duration", options_.duration,
                                  "--rate", std::to_string(options_.rate_hz), "--seed", "7",
                                  "--defects", "off"}));
  BTRQ_ASSIGN_OR_RETURN(int code, generate->Wait(std::chrono::seconds(60)));
  if (code != 0) {
    return Status::Internal("btrdb-lite generate exited " + std::to_string(code) + ": " +
                            generate->Stderr());
  }
  return Status::OK();
}

Status Cluster::StartSink() {
  sink_results_ = HostPort(options_.host, testing::FreePort());
  sink_http_ = HostPort(options_.host, testing::FreePort());
  BTRQ_ASSIGN_OR_RETURN(
      sink_, testing::Subprocess::Spawn(
                 {BTRQ_SINK_BINARY, "--data-dir", dir_.File("sink"), "--listen",
                  "tcp://" + sink_results_, "--control-listen",
                  HostPort(options_.host, testing::FreePort()), "--http-listen", sink_http_}));
  auto ready = sink_->WaitForLine("btrq-sink: ready", kReadyTimeout, /*from_stderr=*/true);
  if (!ready.ok()) return ready.status().WithContext("btrq-sink: " + sink_->Stderr());
  return Status::OK();
}

Status Cluster::StartBroker() {
  broker_control_ = HostPort(options_.host, testing::FreePort());
  broker_tasks_ = HostPort(options_.host, testing::FreePort());
  broker_http_ = HostPort(options_.host, testing::FreePort());
  BTRQ_ASSIGN_OR_RETURN(
      broker_, testing::Subprocess::Spawn(
                   {BTRQ_BROKER_BINARY, "--data-dir", dir_.File("broker"), "--listen-control",
                    broker_control_, "--listen-tasks", "tcp://" + broker_tasks_,
                    "--listen-http", broker_http_, "--btrdb", btrdb_endpoint_}));
  auto ready = broker_->WaitForLine("btrq-broker: ready", kReadyTimeout, /*from_stderr=*/true);
  if (!ready.ok()) return ready.status().WithContext("btrq-broker: " + broker_->Stderr());
  stub_ = v1::Broker::NewStub(
      grpc::CreateChannel(broker_control_, grpc::InsecureChannelCredentials()));
  return Status::OK();
}

std::string Cluster::Endpoint(const std::string& host_port, const WorkerSpec& spec) const {
  if (spec.source_address.empty()) return "tcp://" + host_port;
  // ZeroMQ's source-address form: "tcp://SRC:SRCPORT;DST:DSTPORT", port 0 = any.
  return "tcp://" + spec.source_address + ":0;" + host_port;
}

Status Cluster::StartWorker(const WorkerSpec& spec) {
  const std::string http = HostPort(spec.http_host, testing::FreePort());
  std::vector<std::string> argv = spec.prefix;
  for (const std::string& a :
       {std::string(BTRQ_WORKER_BINARY), std::string("--broker"), Endpoint(broker_tasks_, spec),
        std::string("--sink"), Endpoint(sink_results_, spec), std::string("--btrdb"),
        btrdb_endpoint_, std::string("--threads"), std::to_string(spec.threads),
        std::string("--http-listen"), http}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  BTRQ_ASSIGN_OR_RETURN(auto worker, testing::Subprocess::Spawn(argv));
  auto ready = worker->WaitForLine("btrq-worker: ready", kReadyTimeout, /*from_stderr=*/true);
  if (!ready.ok()) return ready.status().WithContext("btrq-worker: " + worker->Stderr());
  workers_.push_back(std::move(worker));
  worker_http_.push_back(http);
  return Status::OK();
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
