#pragma once

// The gRPC seam of btrq's servers (broker control, sink results, btrdb-lite): one mapping
// from our Status to gRPC's, one bearer-token check, and one way to start a server (TLS
// from PEM files, a bound port, Shutdown with a grace period). Library btrq_grpc_server.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "common/status.h"

namespace btrq {

// The gRPC status for one of ours: the same code with our message where gRPC has the
// code; INTERNAL with the whole ToString() otherwise (kIoError, kInternal).
grpc::Status ToGrpcStatus(const Status& status);

// What a service answers (UNAUTHENTICATED) when the bearer-token check refuses a call.
struct BearerRefusals {
  std::string missing;  // no authorization metadata was sent
  std::string wrong;    // it was not "Bearer <token>"
};

// OK when `context` carries "authorization: Bearer <token>" or `token` is empty;
// otherwise UNAUTHENTICATED with the matching refusal (common/bearer_token.h decides).
grpc::Status CheckBearer(const grpc::ServerContext& context, std::string_view token,
                         const BearerRefusals& refusals);

struct GrpcServerOptions {
  // host:port; port 0 picks a free one (see GrpcServer::endpoint()).
  std::string listen;
  // Names for errors, e.g. "broker.control_listen", "broker.tls_cert"; "" leaves it out.
  std::string listen_name;
  std::string tls_cert_name = "tls_cert";
  std::string tls_key_name = "tls_key";
  // PEM files of the certificate chain and private key: setting either serves TLS, and
  // then both must be readable.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Checks every call's metadata before it reaches a service (needs TLS; may be null).
  std::shared_ptr<grpc::AuthMetadataProcessor> auth_processor;
  // 0 keeps gRPC's default.
  int max_receive_message_bytes = 0;
  int max_send_message_bytes = 0;
  int max_threads = 0;
  // How long Shutdown lets running calls finish before cancelling them.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(1);
};

// The options of a daemon's control server from its config section `section` ("broker",
// "sink"): errors name "<section>.control_listen", "<section>.tls_cert" and
// "<section>.tls_key".
GrpcServerOptions ControlServerOptions(std::string_view section, const std::string& listen,
                                       const std::string& tls_cert_file,
                                       const std::string& tls_key_file);

class GrpcServer {
 public:
  // Builds, binds and starts a server for `services` (borrowed: they must outlive the
  // server). InvalidArgument for a malformed listen address, an unreadable TLS file or an
  // auth processor without TLS; Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                   const std::vector<grpc::Service*>& services);
  ~GrpcServer();  // Shutdown()
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // The listen address with the bound port, e.g. "127.0.0.1:7400".
  const std::string& endpoint() const { return endpoint_; }

  // Stops accepting calls, cancels those still running after shutdown_grace and waits
  // for them. Idempotent; not to be called from a call handler.
  void Shutdown();

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::string endpoint,
             std::chrono::milliseconds grace);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::string endpoint_;
  const std::chrono::milliseconds grace_;
};

}  // namespace btrq
