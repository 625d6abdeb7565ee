#include "analytics/registry.h"

#include <utility>

#include "analytics/count.h"
#include "analytics/exec.h"
#include "analytics/noop.h"
#include "analytics/quality.h"
#include "analytics/stats.h"

namespace btrq::analytics {

Status Registry::Register(std::string name, AnalyticFactory factory) {
  if (name.empty()) return Status::InvalidArgument("analytic name must not be empty");
  if (factories_.contains(name)) {
    return Status::AlreadyExists("analytic '" + name + "' is already registered");
  }
  factories_.emplace(std::move(name), std::move(factory));
  return Status::OK();
}

Result<std::unique_ptr<Analytic>> Registry::Create(std::string_view name,
                                                   const Fields& params) const {
  const auto it = factories_.find(name);
  if (it == factories_.end()) {
    return Status::InvalidArgument("unknown analytic '" + std::string(name) + "'");
  }
  return it->second(params);
}

Status Registry::ValidateParams(std::string_view name, const Fields& params) const {
  return Create(name, params).status();
}

bool Registry::Contains(std::string_view name) const { return factories_.contains(name); }

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> names;
  names.reserve(factories_.size());
  for (const auto& entry : factories_) names.push_back(entry.first);
  return names;
}

Status RegisterBuiltins(Registry* registry) {
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kQualityName), &NewQuality));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kStatsName), &NewStats));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kCountName), &NewCount));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kNoopName), &NewNoop));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kExecName), &NewExec));
  return Status::OK();
}

}  // namespace btrq::analytics
