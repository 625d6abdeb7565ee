#include "btrdb/channel.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include "btrdb/rpc_interceptor.h"
#include "common/file_util.h"

namespace btrq::btrdb {
namespace {

// Longest gap between reconnect attempts after a server went away (gRPC's default is
// 120 s, which would keep a worker idle long after btrdb-lite came back).
constexpr int kMaxReconnectBackoffMs = 5'000;

// Sends the API key on TLS channels. GetMetadata runs on gRPC's threads; the plugin is
// immutable after construction.
class BearerCredentialsPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerCredentialsPlugin(std::string api_key) : header_("Bearer " + api_key) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "btrq-bearer"; }
  grpc::Status GetMetadata(grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
                           const grpc::AuthContext& /*channel_auth_context*/,
                           std::multimap<std::string, std::string>* metadata) override {
    metadata->emplace("authorization", header_);
    return grpc::Status::OK;
  }
  // Never reveals the key.
  std::string DebugString() override { return "btrq bearer credentials (redacted)"; }

 private:
  const std::string header_;
};

Result<std::string> ReadCaBundle(const std::string& path) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read BTrDB CA bundle '" + path +
                                   "': " + std::strerror(text.status().subcode()));
  }
  if (text->empty()) {
    return Status::InvalidArgument("BTrDB CA bundle '" + path + "' is empty");
  }
  return text;
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> MakeChannel(const EndpointPlan& plan,
                                                   const ConnectOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  // No keepalive pings: the reference server closes connections that ping more often
  // than every 5 minutes.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, INT_MAX);
  // Each Connect gets its own TCP connection, so threads do not queue behind each other.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (plan.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_bundle.empty()) {
      BTRQ_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadCaBundle(options.ca_bundle));
    }
    creds = grpc::SslCredentials(ssl);
    if (!options.api_key.empty()) {
      creds = grpc::CompositeChannelCredentials(
          creds, grpc::MetadataCredentialsFromPlugin(
                     std::make_unique<BearerCredentialsPlugin>(options.api_key)));
    }
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  if (options.observer) {
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        plan.target, creds, args, MakeObservingInterceptors(options.observer));
  }
  return grpc::CreateCustomChannel(plan.target, creds, args);
}

}  // namespace btrq::btrdb
