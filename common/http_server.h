#pragma once

// The HTTP endpoint every btrq daemon serves on its own thread:
//   /metrics  the Prometheus text exposition from a render callback
//   /livez, /healthz  "ok" while the process runs
//   /readyz   "ready" (200) while the ready flag is set, "not ready" (503) otherwise
// A daemon may add routes of its own (the broker's dashboard) before Start().

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <httplib.h>

#include "common/status.h"

namespace btrq {

// "host:port" (or "[v6]:port") -> (host, port); kInvalidArgument otherwise.
Result<std::pair<std::string, int>> SplitHostPort(const std::string& address);

class HttpServer {
 public:
  struct Options {
    std::string listen;      // "host:port", port 0 picks a free one; empty: HTTP off
    std::string config_key;  // names `listen` in errors, e.g. "broker.http_listen"
    std::function<std::string()> render_metrics;
    const std::atomic<bool>* ready = nullptr;  // outlives the server
  };

  HttpServer() = default;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer() { Stop(); }

  // Routes are kept for Start(); the handlers run on the HTTP thread.
  httplib::Server& routes() { return *server_; }

  // Binds options.listen and serves on a thread of its own; endpoint() is then the bound
  // "host:port". With an empty listen address nothing is started and endpoint() stays
  // empty. kUnavailable when the address cannot be bound. Call at most once.
  Status Start(Options options);

  // Stops serving and joins the thread; the server cannot be started again. Idempotent.
  void Stop();

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::unique_ptr<httplib::Server> server_ = std::make_unique<httplib::Server>();
  Options options_;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> done_{false};  // listen_after_bind returned
};

}  // namespace btrq
