#pragma once

// `exec`: runs a user's command once per task, so an analytic written in any language
// (a Python data-quality routine, say) plugs in without C++. The protocol is in
// docs/analytics.md; in short:
//
//   stdin   line 1: the task context as one JSON object
//             {"job":7,"stream":"<uuid>","start":S,"end":E,"version":V,"attempt":A,
//              "stream_earliest":X,"stream_latest":Y,"params":{...all params...}}
//           then one line per raw point in time order: "<time ns>,<value>\n", the value
//           in shortest round-trip form ("nan", "inf", "-inf" when not finite);
//           then end of file.
//   stdout  exactly one JSON object whose values are numbers or strings: the result.
//   exit    0. Anything else fails the task.
//
// The command runs without a shell (posix_spawnp: PATH is searched), in its own process
// group, with the worker's environment and working directory, default signal handling
// and an empty signal mask. The whole group is killed (SIGKILL) on timeout or error.
//
// Params: command (required): argv split at ASCII whitespace, or a JSON array of strings
// ("[\"python3\", \"my script.py\"]"); timeout: a duration (default 5m); every other
// param is passed to the command in the context's "params".
//
// Errors: kInvalidArgument when the command cannot be started; kFailedPrecondition
// (permanent) on a non-zero exit, a signal, bad or missing output, or more than
// kExecMaxOutputBytes of it, with an excerpt of stderr; kDeadlineExceeded (transient)
// on timeout; the reader's error unchanged when reading fails. A command may exit
// successfully without reading all its input: the remaining points are not read.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/analytic.h"

namespace btrq::analytics {

inline constexpr std::string_view kExecName = "exec";
inline constexpr int64_t kExecDefaultTimeoutNs = int64_t{300} * 1'000'000'000;
inline constexpr size_t kExecMaxOutputBytes = size_t{1} << 20;
// The tail of stderr quoted in an error.
inline constexpr size_t kExecStderrExcerptBytes = 2048;

struct ExecOptions {
  std::vector<std::string> argv;
  int64_t timeout_ns = kExecDefaultTimeoutNs;
};

// Validates and reads `command` and `timeout`.
Result<ExecOptions> ParseExecOptions(const Fields& params);

Result<std::unique_ptr<Analytic>> NewExec(const Fields& params);

// The context line written to the command's stdin (without the newline).
std::string ExecContextJson(const TaskSpec& task);

}  // namespace btrq::analytics
