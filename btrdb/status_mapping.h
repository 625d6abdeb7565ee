#pragma once

// The one place where BTrDB errors become btrq Status values (as Arrow Flight's
// transport/grpc/util_internal.cc). Two sources of error:
//   * in-band: a response's Status.code != 0 with gRPC OK (what BTrDB servers send);
//   * gRPC: a non-OK grpc::Status (unreachable, deadline, a proxy's "[404] ..." details).
// subcode() carries the BTrDB code (0 when there is none). Transient failures get codes
// for which Status::IsTransient() is true (kUnavailable, kDeadlineExceeded,
// kResourceExhausted, kAborted); everything else is permanent.
// Internal to btrdb/: includes gRPC headers.

#include <cstdint>
#include <string_view>

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace btrq::btrdb {

// BTrDB status codes used by the client itself (docs/btrdb-api.md, Status codes).
inline constexpr uint32_t kCodeNoSuchPoint = 401;
inline constexpr uint32_t kCodeNoSuchStream = 404;

// The btrq code for a non-zero BTrDB status code.
StatusCode BtrdbCodeToStatusCode(uint32_t btrdb_code);

// The BTrDB name of a code ("NoSuchStream"), or "" if unknown.
std::string_view BtrdbCodeName(uint32_t btrdb_code);

// Status for an in-band error of `rpc`. REQUIRES: btrdb_code != 0.
// Message: "<rpc>: <msg> (BTrDB <code> <Name>)"; subcode = btrdb_code.
Status FromBtrdbStatus(std::string_view rpc, uint32_t btrdb_code, std::string_view msg);

// Status for a failed gRPC call of `rpc`. REQUIRES: !status.ok(). Details of the form
// "[NNN] text" (how proxies report BTrDB errors) are mapped as BTrDB code NNN.
Status FromGrpcStatus(std::string_view rpc, const grpc::Status& status);

}  // namespace btrq::btrdb
