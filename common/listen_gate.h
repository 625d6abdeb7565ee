#pragma once

// Nothing open by default: a broker or sink that listens beyond loopback without the
// protection each listener needs refuses to start unless its config says
// `insecure: true` (docs/design.md, Security).
//
// "Beyond loopback" is every address but 127.0.0.0/8, ::1 and localhost (and ipc:// and
// inproc:// endpoints, which are local); wildcards (0.0.0.0, *, ::, an empty host) and
// names that are not "localhost" are beyond.

#include <string>
#include <string_view>
#include <vector>

#include "common/options.h"
#include "common/status.h"

namespace btrq {

// Whether `endpoint` ("host:port", "[::1]:port" or a ZeroMQ "tcp://host:port") is
// reachable only from this host.
bool IsLoopbackEndpoint(std::string_view endpoint);

struct GuardedListener {
  std::string key;       // "broker.control_listen"
  std::string endpoint;  // its configured address
  bool protected_by_config = false;  // the protection below is configured
  std::string needs;     // "broker.control_token or broker.control_token_file"
};

// FailedPrecondition naming the first listener beyond loopback without its protection,
// what it needs and `insecure_key`; OK when `insecure` or when every one is protected.
Status CheckListeners(const std::vector<GuardedListener>& listeners, bool insecure,
                      std::string_view insecure_key);

// The broker's listeners: control_listen needs a control token; tasks_listen needs CURVE
// and a lease secret (the sink refuses results without a token). http_listen serves
// read-only metrics and is not gated.
Status CheckBrokerListeners(const BrokerOptions& broker, const CurveOptions& curve);
// The sink's: control_listen needs a control token; listen needs CURVE and a lease secret.
Status CheckSinkListeners(const SinkOptions& sink, const CurveOptions& curve);

}  // namespace btrq
