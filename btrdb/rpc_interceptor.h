#pragma once

// Internal to btrq_btrdb: the gRPC interceptors that report each RPC to an RpcObserver
// (btrdb/rpc_observer.h). Included only by .cc files that build channels.

#include <memory>
#include <vector>

#include <grpcpp/support/client_interceptor.h>

#include "btrdb/rpc_observer.h"

namespace btrq::btrdb {

// One interceptor factory reporting to `observer`; empty when `observer` is null.
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
MakeObservingInterceptors(std::shared_ptr<RpcObserver> observer);

}  // namespace btrq::btrdb
