#pragma once

// `python`: runs a user's Python function on each task's points, in the worker's
// long-lived interpreters (python_runtime.h), with the points as numpy arrays.
//
// Params: function (required): "module:qualname" ("qa:data_quality",
// "mylab.checks:Checks.run"); input: numpy (default) | points | pandas | batches, the
// function's signature (docs/analytics.md); timeout: a duration (default 5m) for the whole
// task, after which the interpreter is killed and the task fails transiently; every other
// param reaches the function in task.params.
//
// Only modules that `worker.python.modules` allows may run (fnmatch patterns on the
// module's dotted name, e.g. "qa", "mylab.*"); with none allowed the analytic is off.
//
// Errors: the function raising is permanent (kFailedPrecondition, with the exception's
// type, message and the traceback's last frames); raising btrq.Retry, ConnectionError or
// TimeoutError is transient (kUnavailable); an interpreter that crashes, times out, runs
// out of memory or breaks the protocol is replaced and the task fails transiently; a
// reader's error is returned unchanged.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/analytic.h"
#include "analytics/python_runtime.h"

namespace btrq::analytics {

inline constexpr std::string_view kPythonName = "python";
inline constexpr int64_t kPythonDefaultTimeoutNs = int64_t{300} * 1'000'000'000;
// Points per P frame: batches from BTrDB are gathered up to this many (1 MiB of times and
// values), so a frame costs the interpreter one small Python step per 64 Ki points.
inline constexpr size_t kPythonPointsPerFrame = size_t{1} << 16;

enum class PythonInput { kNumpy, kPoints, kPandas, kBatches };

struct PythonOptions {
  std::string function;  // module:qualname
  std::string module;    // its module part
  PythonInput input = PythonInput::kNumpy;
  int64_t timeout_ns = kPythonDefaultTimeoutNs;
};

// Validates and reads function, input and timeout.
Result<PythonOptions> ParsePythonOptions(const Fields& params);

// Whether `module` (a dotted name) matches one of `patterns` (fnmatch, no flags).
bool PythonModuleAllowed(const std::vector<std::string>& patterns, std::string_view module);

// The analytic for `params`, running in `pool`'s interpreters when `allowed` allows its
// module (InvalidArgument otherwise). A null pool validates params only (the broker).
Result<std::unique_ptr<Analytic>> NewPython(const Fields& params,
                                            const std::vector<std::string>& allowed,
                                            std::shared_ptr<PythonPool> pool);

// The T frame's JSON: {"function", "input", "task": {...}, "params": {...}}.
std::string PythonTaskJson(const TaskSpec& task, const PythonOptions& options);

}  // namespace btrq::analytics
