#pragma once

// Name -> factory for analytics. A factory validates the params once and returns a ready
// Analytic, so the broker can check a job's analytic and params at submit time
// (ValidateParams) with the very code the workers run.
//
// Adding an analytic: one file pair (foo.h/.cc with `NewFoo(const Fields&)`) and one line
// in RegisterBuiltins (registry.cc). Nothing registers itself from a static initialiser.
//
// Thread-safety: register everything first; after that, the const methods may be called
// from any number of threads.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "analytics/analytic.h"
#include "analytics/python_runtime.h"

namespace btrq::analytics {

// Returns the analytic for `params`, or kInvalidArgument naming the bad param.
using AnalyticFactory = std::function<Result<std::unique_ptr<Analytic>>(const Fields& params)>;

class Registry {
 public:
  // AlreadyExists when `name` is taken; InvalidArgument when it is empty.
  Status Register(std::string name, AnalyticFactory factory);

  // The analytic `name` with `params`. InvalidArgument (permanent) for an unknown name or
  // bad params.
  Result<std::unique_ptr<Analytic>> Create(std::string_view name, const Fields& params) const;

  // OK when Create would succeed.
  Status ValidateParams(std::string_view name, const Fields& params) const;

  bool Contains(std::string_view name) const;

  // Registered names, sorted (for HELLO).
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, AnalyticFactory, std::less<>> factories_;
};

// How RegisterBuiltins registers `exec` and `python`, the analytics that run user code.
enum class UserCode {
  kOff,           // neither registered: the default
  kAllowList,     // each registered when its allow-list is not empty, running only what
                  // the list allows (worker.exec.commands, worker.python.modules)
  kValidateOnly,  // both registered without allow-lists, to check params (the broker: it
                  // never runs them)
};

struct BuiltinOptions {
  UserCode user_code = UserCode::kOff;
  std::vector<std::string> exec_commands;   // kAllowList: analytics/exec_policy.h
  std::vector<std::string> python_modules;  // kAllowList: analytics/python.h
  std::shared_ptr<PythonPool> python_pool;  // kAllowList: where `python` runs; null: off
};

// Registers quality, stats, count, noop, exec and python as `options` say.
// AlreadyExists when one of those names is already taken in `registry`.
Status RegisterBuiltins(Registry* registry, const BuiltinOptions& options = BuiltinOptions());

}  // namespace btrq::analytics
