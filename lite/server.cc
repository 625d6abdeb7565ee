#include "lite/server.h"

#include <atomic>
#include <chrono>

#include "lite/database.h"
#include "lite/service.h"
#include "common/bearer_token.h"
#include "common/file_util.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
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

Result<std::string> ReadFile(const std::string& path, const char* what) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return Status::InvalidArgument(std::string("btrdb-lite: cannot read ") + what + " " + path);
  return text;
}

// Admits a call only with "authorization: Bearer <key>" (the header of the BTrDB clients).
class ApiKeyProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit ApiKeyProcessor(std::string key) : key_(std::move(key)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed, OutputMetadata* /*response*/) override {
    constexpr std::string_view kBearer = "Bearer ";
    auto it = metadata.find("authorization");
    if (it != metadata.end()) {
      const std::string_view value(it->second.data(), it->second.size());
      if (value.starts_with(kBearer) && ConstantTimeEquals(value.substr(kBearer.size()), key_)) {
        consumed->insert({"authorization", std::string(value)});
        return grpc::Status::OK;
      }
    }
    const uint64_t n = ++refused_;
    if (n <= kLogFirst || n % kLogEvery == 0) {
      spdlog::warn("refused a call {} an API key ({} refused so far)",
                   it == metadata.end() ? "without" : "with a wrong", n);
    }
    return {grpc::StatusCode::UNAUTHENTICATED,
            it == metadata.end() ? "missing API key: send \"authorization: Bearer <key>\""
                                 : "invalid API key"};
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

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return Status::InvalidArgument("btrdb-lite: TLS needs both a certificate and a key");
    }
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    BTRQ_ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(options.tls_cert_file, "certificate"));
    BTRQ_ASSIGN_OR_RETURN(pair.private_key, ReadFile(options.tls_key_file, "private key"));
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    credentials = grpc::SslServerCredentials(ssl);
    if (!options.api_key.empty()) {
      credentials->SetAuthMetadataProcessor(std::make_shared<ApiKeyProcessor>(options.api_key));
    }
  } else if (!options.api_key.empty()) {
    // BTrDB clients send the key over TLS only.
    return Status::InvalidArgument("btrdb-lite: an API key needs TLS (a certificate and key)");
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  grpc::ResourceQuota quota("btrdb-lite");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  s->grpc_server_ = builder.BuildAndStart();
  if (!s->grpc_server_ || s->port_ == 0) {
    return Status::Unavailable("btrdb-lite: cannot listen on " + options.listen);
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  s->address_ = host + ":" + std::to_string(s->port_);
  s->service_->set_listen_address(s->address_);
  return s;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    grpc_server_->Wait();
  }
  grpc_server_.reset();
  service_.reset();
  db_.reset();
}

}  // namespace btrq::lite
