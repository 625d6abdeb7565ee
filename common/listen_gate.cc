#include "common/listen_gate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <iterator>

namespace btrq {
namespace {

// The host part of "tcp://host:port", "host:port", "[v6]:port" or a bare host.
std::string HostOf(std::string_view endpoint) {
  if (const size_t scheme = endpoint.find("://"); scheme != std::string_view::npos) {
    endpoint.remove_prefix(scheme + 3);
  }
  // ZeroMQ's "source;host:port" form binds the part after ';'.
  if (const size_t semi = endpoint.find(';'); semi != std::string_view::npos) {
    endpoint.remove_prefix(semi + 1);
  }
  if (!endpoint.empty() && endpoint.front() == '[') {
    const size_t close = endpoint.find(']');
    return std::string(endpoint.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  const size_t colon = endpoint.rfind(':');
  // More than one colon without brackets: a bare IPv6 address.
  if (colon != std::string_view::npos && endpoint.find(':') == colon) {
    endpoint = endpoint.substr(0, colon);
  }
  return std::string(endpoint);
}

}  // namespace

bool IsLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  const std::string host = HostOf(endpoint);
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
    return std::equal(std::begin(v6.s6_addr), std::end(v6.s6_addr),
                      std::begin(loopback.s6_addr));
  }
  return false;  // a wildcard, an interface or another host name
}

Status CheckListeners(const std::vector<GuardedListener>& listeners, bool insecure,
                      std::string_view insecure_key) {
  if (insecure) return Status::OK();
  for (const GuardedListener& l : listeners) {
    if (l.protected_by_config || l.endpoint.empty() || IsLoopbackEndpoint(l.endpoint)) continue;
    return Status::FailedPrecondition(
        l.key + " '" + l.endpoint + "' listens beyond loopback without " + l.needs +
        ": set it, listen on 127.0.0.1, or set " + std::string(insecure_key) +
        ": true to run open anyway");
  }
  return Status::OK();
}

namespace {

GuardedListener NeedsToken(std::string_view section, const std::string& endpoint,
                           const std::string& token, const std::string& token_file) {
  const std::string s(section);
  return {s + ".control_listen", endpoint, !token.empty() || !token_file.empty(),
          s + ".control_token or " + s + ".control_token_file"};
}

GuardedListener NeedsCurveAndSecret(std::string key, const std::string& endpoint,
                                    const CurveOptions& curve, std::string_view section,
                                    const std::string& lease_secret_file) {
  const std::string s(section);
  if (!curve.enabled) return {std::move(key), endpoint, false, "curve.enabled: true"};
  return {std::move(key), endpoint, !lease_secret_file.empty(), s + ".lease_secret_file"};
}

}  // namespace

Status CheckBrokerListeners(const BrokerOptions& b, const CurveOptions& curve) {
  return CheckListeners(
      {NeedsToken("broker", b.control_listen, b.control_token, b.control_token_file),
       NeedsCurveAndSecret("broker.tasks_listen", b.tasks_listen, curve, "broker",
                           b.lease_secret_file)},
      b.insecure, "broker.insecure");
}

Status CheckSinkListeners(const SinkOptions& s, const CurveOptions& curve) {
  return CheckListeners(
      {NeedsToken("sink", s.control_listen, s.control_token, s.control_token_file),
       NeedsCurveAndSecret("sink.listen", s.listen, curve, "sink", s.lease_secret_file)},
      s.insecure, "sink.insecure");
}

}  // namespace btrq
