#include "btrdb/lite/server.h"

#include <chrono>

// Before grpcpp: common/mutex.h defines GUARDED_BY & co. unconditionally, absl only
// #ifndef, so this order compiles cleanly with -Werror.
#include "btrdb/lite/database.h"
#include "btrdb/lite/service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

namespace btrq::lite {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;
constexpr int kMaxThreads = 512;
constexpr auto kShutdownGrace = std::chrono::seconds(2);

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

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &s->port_);
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
