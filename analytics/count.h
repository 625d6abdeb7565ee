#pragma once

// `count`: the number of raw points in the task's range, read point by point (a
// benchmark of the raw read path). Fields: count (int64). Params: none.

#include <memory>
#include <string_view>

#include "analytics/analytic.h"

namespace btrq::analytics {

inline constexpr std::string_view kCountName = "count";

Result<std::unique_ptr<Analytic>> NewCount(const Fields& params);

}  // namespace btrq::analytics
