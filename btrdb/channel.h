#pragma once

// Internal to btrq_btrdb: the gRPC channel of one BTrDB endpoint, as Client::Connect
// builds it (TLS with the CA bundle and the API key as call credentials, reconnect
// backoff, no keepalive pings, the RPC observer's interceptors).

#include <memory>

#include <grpcpp/channel.h>

#include "btrdb/connect_options.h"
#include "common/status.h"

namespace btrq::btrdb {

// A channel to `plan.target`; InvalidArgument when the CA bundle cannot be read.
Result<std::shared_ptr<grpc::Channel>> MakeChannel(const EndpointPlan& plan,
                                                   const ConnectOptions& options);

}  // namespace btrq::btrdb
