#include "analytics/registry.h"

#include <utility>

#include "analytics/count.h"
#include "analytics/exec.h"
#include "analytics/exec_policy.h"
#include "analytics/noop.h"
#include "analytics/python.h"
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

namespace {

Status RegisterExec(Registry* registry, const BuiltinOptions& options) {
  if (options.user_code == UserCode::kValidateOnly) {
    // The program must still be named as an allow-list can match it.
    return registry->Register(
        std::string(kExecName), [](const Fields& params) -> Result<std::unique_ptr<Analytic>> {
          BTRQ_RETURN_IF_ERROR(ExecProgram(params).status());
          return NewExec(params);
        });
  }
  BTRQ_RETURN_IF_ERROR(ValidateExecCommands(options.exec_commands));
  if (options.exec_commands.empty()) return Status::OK();  // nothing allowed: exec is off
  return registry->Register(
      std::string(kExecName),
      [commands = options.exec_commands](const Fields& params) -> Result<std::unique_ptr<Analytic>> {
        BTRQ_RETURN_IF_ERROR(CheckExecAllowed(commands, params));
        return NewExec(params);
      });
}

Status RegisterPython(Registry* registry, const BuiltinOptions& options) {
  if (options.user_code == UserCode::kValidateOnly) {
    return registry->Register(std::string(kPythonName), [](const Fields& params) {
      return NewPython(params, {}, nullptr);
    });
  }
  // Nothing allowed, or nowhere to run: python is off.
  if (options.python_modules.empty() || options.python_pool == nullptr) return Status::OK();
  return registry->Register(
      std::string(kPythonName),
      [modules = options.python_modules, pool = options.python_pool](const Fields& params) {
        return NewPython(params, modules, pool);
      });
}

}  // namespace

Status RegisterBuiltins(Registry* registry, const BuiltinOptions& options) {
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kQualityName), &NewQuality));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kStatsName), &NewStats));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kCountName), &NewCount));
  BTRQ_RETURN_IF_ERROR(registry->Register(std::string(kNoopName), &NewNoop));
  if (options.user_code == UserCode::kOff) return Status::OK();
  BTRQ_RETURN_IF_ERROR(RegisterExec(registry, options));
  return RegisterPython(registry, options);
}

}  // namespace btrq::analytics
