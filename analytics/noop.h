#pragma once

// `noop`: reads nothing and returns {"ok": 1} (int64), for dispatch benchmarks and smoke
// tests. Params: none.

#include <memory>
#include <string_view>

#include "analytics/analytic.h"

namespace btrq::analytics {

inline constexpr std::string_view kNoopName = "noop";

Result<std::unique_ptr<Analytic>> NewNoop(const Fields& params);

}  // namespace btrq::analytics
