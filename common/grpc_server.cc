#include "common/grpc_server.h"

#include <utility>

#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "common/bearer_token.h"
#include "common/file_util.h"
#include "common/http_server.h"

namespace btrq {
namespace {

Result<std::string> ReadPemFile(const std::string& path, std::string_view name) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return Status::InvalidArgument(std::string(name) + ": cannot read " + path);
  return text;
}

Result<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const GrpcServerOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    if (options.auth_processor) {
      // gRPC runs auth metadata processors on secure channels only.
      return Status::InvalidArgument("an API key needs TLS (a certificate and key)");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  BTRQ_ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(options.tls_cert_file, options.tls_cert_name));
  BTRQ_ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(options.tls_key_file, options.tls_key_name));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(ssl);
  if (options.auth_processor) credentials->SetAuthMetadataProcessor(options.auth_processor);
  return credentials;
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  // One row per code of ours; kIoError and kInternal have no gRPC twin but INTERNAL.
  switch (status.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kInvalidArgument:
    case StatusCode::kInvalidMessage:
      return {grpc::StatusCode::INVALID_ARGUMENT, status.message()};
    case StatusCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, status.message()};
    case StatusCode::kAlreadyExists:
      return {grpc::StatusCode::ALREADY_EXISTS, status.message()};
    case StatusCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, status.message()};
    case StatusCode::kOutOfRange:
      return {grpc::StatusCode::OUT_OF_RANGE, status.message()};
    case StatusCode::kPermissionDenied:
      return {grpc::StatusCode::PERMISSION_DENIED, status.message()};
    case StatusCode::kUnauthenticated:
      return {grpc::StatusCode::UNAUTHENTICATED, status.message()};
    case StatusCode::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, status.message()};
    case StatusCode::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, status.message()};
    case StatusCode::kDeadlineExceeded:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, status.message()};
    case StatusCode::kCancelled:
      return {grpc::StatusCode::CANCELLED, status.message()};
    case StatusCode::kAborted:
      return {grpc::StatusCode::ABORTED, status.message()};
    case StatusCode::kUnimplemented:
      return {grpc::StatusCode::UNIMPLEMENTED, status.message()};
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      break;
  }
  return {grpc::StatusCode::INTERNAL, status.ToString()};
}

grpc::Status CheckBearer(const grpc::ServerContext& context, std::string_view token,
                         const BearerRefusals& refusals) {
  switch (CheckBearerToken(AuthorizationValue(context.client_metadata()), token)) {
    case BearerCheck::kAllowed:
      return grpc::Status::OK;
    case BearerCheck::kMissing:
      return {grpc::StatusCode::UNAUTHENTICATED, refusals.missing};
    case BearerCheck::kWrong:
      break;
  }
  return {grpc::StatusCode::UNAUTHENTICATED, refusals.wrong};
}

GrpcServerOptions ControlServerOptions(std::string_view section, const std::string& listen,
                                       const std::string& tls_cert_file,
                                       const std::string& tls_key_file) {
  const std::string prefix(section);
  GrpcServerOptions options;
  options.listen = listen;
  options.listen_name = prefix + ".control_listen";
  options.tls_cert_name = prefix + ".tls_cert";
  options.tls_key_name = prefix + ".tls_key";
  options.tls_cert_file = tls_cert_file;
  options.tls_key_file = tls_key_file;
  return options;
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                      const std::vector<grpc::Service*>& services) {
  // Checked here, as gRPC would only log a malformed address and fail to bind.
  BTRQ_RETURN_IF_ERROR(SplitHostPort(options.listen).status());
  BTRQ_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                        MakeCredentials(options));
  grpc::ServerBuilder builder;
  // gRPC binds with SO_REUSEPORT by default, so a second broker or sink started on the
  // same port would share it silently and answer half of the calls. Refuse instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(options.listen, credentials, &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (options.max_receive_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  }
  if (options.max_send_message_bytes > 0) {
    builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  }
  grpc::ResourceQuota quota("btrq-grpc-server");
  if (options.max_threads > 0) {
    quota.SetMaxThreads(options.max_threads);
    builder.SetResourceQuota(quota);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    const std::string on = options.listen_name.empty() ? "" : options.listen_name + " ";
    return Status::Unavailable("cannot listen on " + on + options.listen);
  }
  // The host as written (brackets and all), so the endpoint can be dialled back.
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  return std::unique_ptr<GrpcServer>(new GrpcServer(
      std::move(server), port, host + ":" + std::to_string(port), options.shutdown_grace));
}

GrpcServer::GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::string endpoint,
                       std::chrono::milliseconds grace)
    : server_(std::move(server)), port_(port), endpoint_(std::move(endpoint)), grace_(grace) {}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace_);
  server_->Wait();
  server_.reset();
}

}  // namespace btrq
