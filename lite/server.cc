#include "lite/server.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>

#include "lite/database.h"
#include "lite/service.h"
#include "common/bearer_token.h"
#include "common/file_util.h"
#include "common/grpc_server.h"

#include <grpcpp/security/auth_metadata_processor.h>
#include <spdlog/spdlog.h>

namespace btrq::lite {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;
constexpr int kMaxThreads = 512;
constexpr auto kShutdownGrace = std::chrono::seconds(2);
// Refused calls logged one by one; later ones only every kLogEvery-th.
constexpr uint64_t kLogFirst = 5;
constexpr uint64_t kLogEvery = 1000;

// Admits a call only with "authorization: Bearer <key>" (the header of the BTrDB clients).
class ApiKeyProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit ApiKeyProcessor(std::string key) : key_(std::move(key)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed, OutputMetadata* /*response*/) override {
    const std::optional<std::string_view> authorization = AuthorizationValue(metadata);
    if (CheckBearerToken(authorization, key_) == BearerCheck::kAllowed) {
      consumed->insert({"authorization", std::string(*authorization)});
      return grpc::Status::OK;
    }
    const uint64_t n = ++refused_;
    if (n <= kLogFirst || n % kLogEvery == 0) {
      spdlog::warn("refused a call {} an API key ({} refused so far)",
                   authorization ? "with a wrong" : "without", n);
    }
    return {grpc::StatusCode::UNAUTHENTICATED,
            authorization ? "invalid API key"
                          : "missing API key: send \"authorization: Bearer <key>\""};
  }

 private:
  const std::string key_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> s(new Server());
  DatabaseOptions dbo;
  dbo.data_dir = options.data_dir;
  BTRQ_ASSIGN_OR_RETURN(s->db_, Database::Open(dbo));
  ServiceOptions so;
  so.enable_fault_inject = options.enable_fault_inject;
  so.enable_obliterate = options.enable_obliterate;
  so.advertised_address = options.advertised_address;
  s->service_ = std::make_unique<BtrdbService>(s->db_.get(), so);

  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument("btrdb-lite: TLS needs both a certificate and a key");
  }
  GrpcServerOptions server_options;
  server_options.listen = options.listen;
  server_options.tls_cert_name = "certificate";
  server_options.tls_key_name = "private key";
  server_options.tls_cert_file = options.tls_cert_file;
  server_options.tls_key_file = options.tls_key_file;
  // BTrDB clients send the key over TLS only; GrpcServer refuses the processor without.
  if (!options.api_key.empty()) {
    server_options.auth_processor = std::make_shared<ApiKeyProcessor>(options.api_key);
  }
  server_options.max_receive_message_bytes = kMaxMessageBytes;
  server_options.max_send_message_bytes = kMaxMessageBytes;
  server_options.max_threads = kMaxThreads;
  server_options.shutdown_grace = kShutdownGrace;
  auto started = GrpcServer::Start(server_options, {s->service_.get()});
  if (!started.ok()) return started.status().WithContext("btrdb-lite");
  s->grpc_server_ = std::move(started).value();
  s->port_ = s->grpc_server_->port();
  s->address_ = s->grpc_server_->endpoint();
  s->service_->set_listen_address(s->address_);
  return s;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  grpc_server_.reset();  // GrpcServer's destructor shuts it down
  service_.reset();
  db_.reset();
}

}  // namespace btrq::lite
