#include "common/bearer_token.h"

#include <cstddef>

namespace btrq {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

BearerCheck CheckBearerToken(std::optional<std::string_view> authorization,
                             std::string_view token) {
  if (token.empty()) return BearerCheck::kAllowed;
  if (!authorization) return BearerCheck::kMissing;
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization->starts_with(kBearer) ||
      !ConstantTimeEquals(authorization->substr(kBearer.size()), token)) {
    return BearerCheck::kWrong;
  }
  return BearerCheck::kAllowed;
}

}  // namespace btrq
