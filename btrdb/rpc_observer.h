#pragma once

// A hook on every RPC a btrdb::Client makes, for metrics: set ConnectOptions::observer and
// each finished call is reported once with its method, gRPC status code, duration and the
// bytes of the responses it received (their protobuf-encoded size: the point streams'
// frames count their wire bytes as they decode, other responses are measured).
// Implemented as a gRPC client interceptor on the client's channel, so every RPC is
// covered, streaming ones included.
//
//   auto observer = btrdb::MakeRpcMetrics(&registry);   // btrq_btrdb_rpc_* series
//   connect_options.observer = observer;

#include <cstdint>
#include <memory>
#include <string_view>

namespace btrq::metrics {
class Registry;
}  // namespace btrq::metrics

namespace btrq::btrdb {

class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // One finished RPC. `method` is the RPC's name ("RawValues"); `code` the gRPC status
  // code name ("OK", "UNAVAILABLE", ...); BTrDB's in-band errors arrive with "OK".
  // Called on the calling thread or a gRPC thread, possibly concurrently: thread-safe.
  virtual void OnRpc(std::string_view method, std::string_view code, double seconds,
                     uint64_t response_bytes) = 0;
};

// The gRPC status code's canonical name, e.g. 14 -> "UNAVAILABLE"; "UNKNOWN" when out of
// range.
std::string_view GrpcCodeName(int code);

// An observer that records, in `registry` (borrowed; must outlive it):
//   btrq_btrdb_rpc_duration_seconds{method,code}  histogram of call durations
//   btrq_btrdb_received_bytes_total                bytes of BTrDB responses received
// Series of a (method, code) appear with its first call. Both label sets are bounded (the
// API's RPCs times gRPC's 17 codes).
std::shared_ptr<RpcObserver> MakeRpcMetrics(metrics::Registry* registry);

}  // namespace btrq::btrdb
