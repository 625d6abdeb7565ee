#include "submitter/broker_client.h"

#include <cctype>
#include <chrono>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "btrq/v1/control.grpc.pb.h"
#include "common/time_util.h"

namespace btrq::submitter {
namespace {

std::shared_ptr<grpc::Channel> MakeChannel(const ControlClientOptions& options) {
  grpc::ChannelArguments args;
  // A watch or a results stream may be idle for long; keepalives notice a dead peer.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(options.endpoint, credentials, args);
}

void PrepareContext(const ControlClientOptions& options, bool with_deadline,
                    grpc::ClientContext* context) {
  if (with_deadline) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::nanoseconds(options.call_timeout_ns));
  }
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
}

bool Retryable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// Runs `attempt` once, or up to 1 + read_retries times while it fails transiently.
// `attempt` returns the mapped Status and sets *progressed when it delivered data (a
// stream that delivered something is not retried).
template <typename Attempt>
Status RunWithRetries(const ControlClientOptions& options, bool idempotent, Attempt attempt) {
  int64_t backoff = options.retry_backoff_ns;
  for (int i = 0;; ++i) {
    bool progressed = false;
    Status s = attempt(&progressed);
    if (s.ok() || !idempotent || progressed || !Retryable(s) || i >= options.read_retries) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::nanoseconds(backoff));
    backoff *= 2;
  }
}

}  // namespace

ServiceName BrokerService() { return {"broker", "btrq-broker", "--broker", "BTRQ_BROKER"}; }
ServiceName SinkService() { return {"sink", "btrq-sink", "--sink", "BTRQ_SINK"}; }

Status ControlStatus(const grpc::Status& status, const ServiceName& service,
                     const std::string& endpoint, int64_t timeout_ns, bool tls) {
  const std::string at = "the " + service.name + " at " + endpoint;
  std::string detail = status.error_message();
  // The broker itself answers UNAVAILABLE when BTrDB is away: it was reached, and its
  // message (which may quote BTrDB's "Connection refused") is the news.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      detail.rfind("BTrDB is unreachable", 0) == 0) {
    return Status::Unavailable(at + " answered: " + detail);
  }
  // gRPC's connect failures read "failed to connect to all addresses; last error: UNKNOWN:
  // ipv4:...: Failed to connect to remote host: Connection refused": keep the cause.
  if (detail.find("Connection refused") != std::string::npos) detail = "connection refused";
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Status::OK();
    case grpc::StatusCode::UNAVAILABLE: {
      std::string lower = detail;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string hint = "is " + service.process + " running? set " + service.flag + " or " +
                         service.env;
      if (!tls && lower.find("socket closed") != std::string::npos) {
        hint = "the " + service.name +
               " closed the connection at once: if it serves TLS, set control.tls_ca (or "
               "control.tls)";
      } else if (tls && (lower.find("ssl") != std::string::npos ||
                         lower.find("handshake") != std::string::npos ||
                         lower.find("certificate") != std::string::npos)) {
        hint = "TLS failed: does the " + service.name +
               " serve TLS, with a certificate for this address signed by a CA in "
               "control.tls_ca?";
      }
      return Status::Unavailable("cannot reach " + at + ": " + detail + " (" + hint + ")");
    }
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::DeadlineExceeded(at + " did not answer within " +
                                      FormatDuration(timeout_ns) + " (set --timeout to wait longer)");
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::Unauthenticated(at + " refused the request: " + detail +
                                     " (set control.token or BTRQ_CONTROL_TOKEN)");
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status::PermissionDenied(at + " denied the request: " + detail);
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(detail);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status::InvalidArgument(service.name + " rejected the request: " + detail);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::FailedPrecondition(detail);
    case grpc::StatusCode::ALREADY_EXISTS:
      return Status::AlreadyExists(detail);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::ResourceExhausted(at + " is out of resources: " + detail);
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status::Unimplemented(at + " does not support this request (" + detail +
                                   "); is it an older version?");
    case grpc::StatusCode::CANCELLED:
      return Status::Cancelled("the call to " + at + " was cancelled: " + detail);
    case grpc::StatusCode::ABORTED:
      return Status::Aborted(at + " aborted the request: " + detail);
    case grpc::StatusCode::OUT_OF_RANGE:
      return Status::OutOfRange(detail);
    default:
      return Status::Internal(at + " failed: " + detail);
  }
}

// ---- BrokerClient ---------------------------------------------------------------------------

struct BrokerClient::Impl {
  ControlClientOptions options;
  ServiceName service = BrokerService();
  std::unique_ptr<v1::Broker::Stub> stub;

  Status Map(const grpc::Status& s) const {
    return ControlStatus(s, service, options.endpoint, options.call_timeout_ns, options.tls);
  }

  // One unary call: `rpc(context, response)` with deadline and token, retried if a read.
  template <typename Response, typename Rpc>
  Result<Response> Unary(bool idempotent, Rpc rpc) const {
    Response response;
    Status s = RunWithRetries(options, idempotent, [&](bool*) {
      grpc::ClientContext context;
      PrepareContext(options, /*with_deadline=*/true, &context);
      response.Clear();
      return Map(rpc(&context, &response));
    });
    if (!s.ok()) return s;
    return response;
  }
};

BrokerClient::BrokerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerClient::~BrokerClient() = default;

Result<std::unique_ptr<BrokerClient>> BrokerClient::Create(const ControlClientOptions& options) {
  if (options.endpoint.empty()) {
    return Status::InvalidArgument("no broker address (set --broker or BTRQ_BROKER)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->stub = v1::Broker::NewStub(MakeChannel(options));
  return std::unique_ptr<BrokerClient>(new BrokerClient(std::move(impl)));
}

const std::string& BrokerClient::endpoint() const { return impl_->options.endpoint; }

Result<JobId> BrokerClient::SubmitJob(const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  BTRQ_ASSIGN_OR_RETURN(v1::SubmitJobResponse response,
                        impl_->Unary<v1::SubmitJobResponse>(
                            false, [&](grpc::ClientContext* c, v1::SubmitJobResponse* r) {
                              return impl_->stub->SubmitJob(c, request, r);
                            }));
  if (response.job_id() == 0) {
    return Status::Internal("the broker at " + endpoint() + " answered job id 0");
  }
  return JobId{response.job_id()};
}

Result<v1::Job> BrokerClient::GetJob(JobId id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  return impl_->Unary<v1::Job>(true, [&](grpc::ClientContext* c, v1::Job* r) {
    return impl_->stub->GetJob(c, request, r);
  });
}

Result<BrokerClient::JobList> BrokerClient::ListJobs(bool include_finished, uint32_t limit) {
  v1::ListJobsRequest request;
  request.set_include_finished(include_finished);
  request.set_limit(limit);
  BTRQ_ASSIGN_OR_RETURN(v1::ListJobsResponse response,
                        impl_->Unary<v1::ListJobsResponse>(
                            true, [&](grpc::ClientContext* c, v1::ListJobsResponse* r) {
                              return impl_->stub->ListJobs(c, request, r);
                            }));
  return JobList{std::vector<v1::Job>(response.jobs().begin(), response.jobs().end()),
                 response.omitted()};
}

Result<v1::Job> BrokerClient::CancelJob(JobId id) {
  v1::CancelJobRequest request;
  request.set_job_id(id);
  return impl_->Unary<v1::Job>(false, [&](grpc::ClientContext* c, v1::Job* r) {
    return impl_->stub->CancelJob(c, request, r);
  });
}

Result<v1::Job> BrokerClient::RetryJob(JobId id) {
  v1::RetryJobRequest request;
  request.set_job_id(id);
  return impl_->Unary<v1::Job>(false, [&](grpc::ClientContext* c, v1::Job* r) {
    return impl_->stub->RetryJob(c, request, r);
  });
}

Status BrokerClient::WatchJob(JobId id, int64_t interval_ns,
                              const std::function<bool(const v1::Job&)>& on_update) {
  v1::WatchJobRequest request;
  request.set_job_id(id);
  request.set_interval_ns(interval_ns);
  return RunWithRetries(impl_->options, true, [&](bool* progressed) {
    grpc::ClientContext context;
    PrepareContext(impl_->options, /*with_deadline=*/false, &context);
    std::unique_ptr<grpc::ClientReader<v1::Job>> reader = impl_->stub->WatchJob(&context, request);
    v1::Job job;
    while (reader->Read(&job)) {
      *progressed = true;
      if (!on_update(job)) {
        context.TryCancel();
        reader->Finish();  // CANCELLED, by us
        return Status::OK();
      }
    }
    return impl_->Map(reader->Finish());
  });
}

Result<v1::BrokerStats> BrokerClient::GetStats() {
  v1::GetStatsRequest request;
  return impl_->Unary<v1::BrokerStats>(true, [&](grpc::ClientContext* c, v1::BrokerStats* r) {
    return impl_->stub->GetStats(c, request, r);
  });
}

Result<std::vector<v1::Worker>> BrokerClient::ListWorkers() {
  v1::ListWorkersRequest request;
  BTRQ_ASSIGN_OR_RETURN(v1::ListWorkersResponse response,
                        impl_->Unary<v1::ListWorkersResponse>(
                            true, [&](grpc::ClientContext* c, v1::ListWorkersResponse* r) {
                              return impl_->stub->ListWorkers(c, request, r);
                            }));
  return std::vector<v1::Worker>(response.workers().begin(), response.workers().end());
}

Status BrokerClient::DrainWorker(const std::string& worker_id) {
  v1::DrainWorkerRequest request;
  request.set_worker_id(worker_id);
  // Draining twice is harmless, but a drain is an action: not retried, like the others.
  return impl_
      ->Unary<v1::DrainWorkerResponse>(
          false, [&](grpc::ClientContext* c, v1::DrainWorkerResponse* r) {
            return impl_->stub->DrainWorker(c, request, r);
          })
      .status();
}

Result<std::vector<v1::DeadLetter>> BrokerClient::ListDeadLetters(JobId id, uint32_t limit) {
  v1::ListDeadLettersRequest request;
  request.set_job_id(id);
  request.set_limit(limit);
  BTRQ_ASSIGN_OR_RETURN(v1::ListDeadLettersResponse response,
                        impl_->Unary<v1::ListDeadLettersResponse>(
                            true, [&](grpc::ClientContext* c, v1::ListDeadLettersResponse* r) {
                              return impl_->stub->ListDeadLetters(c, request, r);
                            }));
  return std::vector<v1::DeadLetter>(response.dead().begin(), response.dead().end());
}

// ---- SinkClient -----------------------------------------------------------------------------

struct SinkClient::Impl {
  ControlClientOptions options;
  ServiceName service = SinkService();
  std::unique_ptr<v1::Sink::Stub> stub;

  Status Map(const grpc::Status& s) const {
    return ControlStatus(s, service, options.endpoint, options.call_timeout_ns, options.tls);
  }
};

SinkClient::SinkClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SinkClient::~SinkClient() = default;

Result<std::unique_ptr<SinkClient>> SinkClient::Create(const ControlClientOptions& options) {
  if (options.endpoint.empty()) {
    return Status::InvalidArgument("no sink address (set --sink or BTRQ_SINK)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->stub = v1::Sink::NewStub(MakeChannel(options));
  return std::unique_ptr<SinkClient>(new SinkClient(std::move(impl)));
}

const std::string& SinkClient::endpoint() const { return impl_->options.endpoint; }

Status SinkClient::GetResults(JobId id, std::optional<JobNonce> nonce, uint32_t limit,
                              const std::function<Status(const v1::ResultBatch&)>& on_batch) {
  v1::GetResultsRequest request;
  request.set_job_id(id);
  if (nonce) request.set_nonce(*nonce);
  request.set_limit(limit);
  return RunWithRetries(impl_->options, true, [&](bool* progressed) {
    grpc::ClientContext context;
    PrepareContext(impl_->options, /*with_deadline=*/false, &context);
    std::unique_ptr<grpc::ClientReader<v1::ResultBatch>> reader =
        impl_->stub->GetResults(&context, request);
    v1::ResultBatch batch;
    while (reader->Read(&batch)) {
      *progressed = true;
      if (Status s = on_batch(batch); !s.ok()) {
        context.TryCancel();
        reader->Finish();
        return s;
      }
    }
    return impl_->Map(reader->Finish());
  });
}

Result<v1::SinkStats> SinkClient::GetStats() {
  v1::SinkStatsRequest request;
  v1::SinkStats response;
  Status s = RunWithRetries(impl_->options, true, [&](bool*) {
    grpc::ClientContext context;
    PrepareContext(impl_->options, /*with_deadline=*/true, &context);
    response.Clear();
    return impl_->Map(impl_->stub->GetStats(&context, request, &response));
  });
  if (!s.ok()) return s;
  return response;
}

}  // namespace btrq::submitter
