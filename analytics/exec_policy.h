#pragma once

// The exec allow-list (`worker.exec.commands`): which programs `exec` may run.
//
// A job's program is argv[0] of its `command` param. It must be an absolute, normal path
// (begins with '/'; no empty, "." or ".." component; no trailing '/'), and is allowed
// when it matches one pattern with fnmatch(3) and FNM_PATHNAME: '*', '?' and "[...]"
// never match a '/', so "/opt/btrq/bin/*" allows the programs in that directory and
// nothing below it. Patterns must be absolute as well. The path is matched as written:
// symbolic links are not resolved (an allowed directory is the operator's to keep).
// An empty list allows nothing: the worker does not offer exec at all.

#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace btrq::analytics {

// InvalidArgument naming the first pattern that is empty or not absolute.
Status ValidateExecCommands(const std::vector<std::string>& patterns);

// The program (argv[0]) of exec `params`; InvalidArgument when the params are bad or the
// program is not an absolute, normal path.
Result<std::string> ExecProgram(const Fields& params);

// Whether `program` (from ExecProgram) matches one of `patterns`.
bool ExecAllowed(const std::vector<std::string>& patterns, std::string_view program);

// OK when exec `params` name an allowed program; InvalidArgument (permanent) otherwise,
// naming the program.
Status CheckExecAllowed(const std::vector<std::string>& patterns, const Fields& params);

}  // namespace btrq::analytics
