#include "common/http_server.h"

#include <charconv>
#include <cstdint>
#include <utility>

#include "common/limits.h"

namespace btrq {

Result<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Status::InvalidArgument("expected host:port, got \"" + address + "\"");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return Status::InvalidArgument("bad port in \"" + address + "\"");
    }
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return Status::InvalidArgument("bad port in \"" + address + "\"");
  return std::make_pair(std::move(host), port);
}

Status HttpServer::Start(Options options) {
  options_ = std::move(options);
  if (options_.listen.empty()) return Status::OK();
  if (!server_) return Status::FailedPrecondition("the HTTP server has been stopped");
  BTRQ_ASSIGN_OR_RETURN(auto host_port, SplitHostPort(options_.listen));
  // None of our routes takes a body. httplib would read one whole into memory before
  // routing (a 1 GiB POST cost 1 GiB), so a request that announces more than the limit, or
  // a chunked one, is answered 413 from its headers and its connection closed unread.
  server_->set_payload_max_length(limits::kMaxHttpBodyBytes);
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") !=
                         std::string::npos;
    const std::string length = req.get_header_value("Content-Length");
    uint64_t announced = 0;
    const char* end = length.data() + length.size();
    const auto parsed = std::from_chars(length.data(), end, announced);
    const bool too_long = !length.empty() && (parsed.ec != std::errc() || parsed.ptr != end ||
                                              announced > limits::kMaxHttpBodyBytes);
    if (!chunked && !too_long) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 413;
    res.set_header("Connection", "close");
    res.set_content("request bodies are limited to " +
                        std::to_string(limits::kMaxHttpBodyBytes) + " bytes\n",
                    "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(options_.render_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const auto live = [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  };
  server_->Get("/livez", live);
  server_->Get("/healthz", live);
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (options_.ready->load()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready\n", "text/plain");
    }
  });
  int port = host_port.second;
  if (port == 0) {
    port = server_->bind_to_any_port(host_port.first);
    if (port < 0) port = 0;
  } else if (!server_->bind_to_port(host_port.first, port)) {
    port = 0;
  }
  if (port == 0) {
    server_.reset();
    return Status::Unavailable("cannot listen on " + options_.config_key + " " +
                               options_.listen);
  }
  endpoint_ = host_port.first + ":" + std::to_string(port);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    done_ = true;
  });
  return Status::OK();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    // httplib's stop() is a no-op until the listening loop has started; it starts at once.
    while (!server_->is_running() && !done_) std::this_thread::yield();
    server_->stop();
    thread_.join();
  }
  server_.reset();
}

}  // namespace btrq
