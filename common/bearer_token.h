#pragma once

// The bearer-token check of btrq's gRPC services ("authorization: Bearer <token>"),
// without gRPC types: callers look the metadata up and map the answer to their status.

#include <optional>
#include <string_view>

namespace btrq {

// Compares without an early exit, so the time taken does not reveal a matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

enum class BearerCheck {
  kAllowed,  // no token is required, or the right one was sent
  kMissing,  // a token is required and no authorization value was sent
  kWrong,    // the authorization value is not "Bearer <token>"
};

// The "authorization" value of gRPC client metadata (a multimap of string_ref, e.g.
// grpc::ServerContext::client_metadata()); nullopt when absent.
template <typename Metadata>
std::optional<std::string_view> AuthorizationValue(const Metadata& metadata) {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

// Checks the "authorization" value (nullopt when absent) against `token`; an empty
// `token` requires none.
BearerCheck CheckBearerToken(std::optional<std::string_view> authorization,
                             std::string_view token);

}  // namespace btrq
