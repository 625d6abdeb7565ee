#pragma once

// btrdb-lite as an embeddable server: a Database plus the BTrDB v5 gRPC service on one
// listening address. Tests start it in-process on 127.0.0.1:0 and ask port().

#include <memory>
#include <string>

#include "common/status.h"

namespace btrq {
class GrpcServer;
}

namespace btrq::lite {

class BtrdbService;
class Database;

struct ServerOptions {
  // host:port; port 0 picks a free port.
  std::string listen = "127.0.0.1:4410";
  // Empty: in memory. Otherwise durable in this directory (created if missing).
  std::string data_dir;
  bool enable_fault_inject = false;
  bool enable_obliterate = true;
  // What Info reports as proxy endpoint; the bound address when empty.
  std::string advertised_address;
  // PEM files of the server's certificate chain and private key: both set serves TLS.
  std::string tls_cert_file;
  std::string tls_key_file;
  // When non-empty (needs TLS), every call must carry "authorization: Bearer <api_key>",
  // as BTrDB's API frontend demands; other calls get UNAUTHENTICATED. Never logged.
  std::string api_key;
};

class Server {
 public:
  // Opens (recovers) the database and starts serving. Fails when the address cannot be
  // bound, the data directory cannot be recovered, a TLS file cannot be read, or an API
  // key is asked for without TLS (InvalidArgument).
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // Shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  // "host:port" as bound.
  std::string address() const { return address_; }
  Database* database() { return db_.get(); }
  // Stops accepting calls, cancels calls still running after a short grace period, and
  // syncs the log. Idempotent; thread-safe with respect to running calls.
  void Shutdown();

 private:
  Server() = default;

  std::unique_ptr<Database> db_;
  std::unique_ptr<BtrdbService> service_;
  std::unique_ptr<GrpcServer> grpc_server_;
  int port_ = 0;
  std::string address_;
  bool stopped_ = false;
};

}  // namespace btrq::lite
