#include "analytics/exec_policy.h"

#include <fnmatch.h>

#include "analytics/exec.h"

namespace btrq::analytics {
namespace {

// Bounds of an allow-list: a worker checks its config against them, and the broker a
// HELLO's `x`, which it keeps for the worker's life and matches every exec submit against.
constexpr size_t kMaxExecCommands = 256;
constexpr size_t kMaxExecCommandBytes = 4096;  // PATH_MAX

// Absolute, and no component that a path resolution would reinterpret.
bool IsNormalAbsolutePath(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  return path.find('\0') == std::string_view::npos;
}

}  // namespace

Status ValidateExecCommands(const std::vector<std::string>& patterns) {
  if (patterns.size() > kMaxExecCommands) {
    return Status::InvalidArgument("worker.exec.commands: " + std::to_string(patterns.size()) +
                                   " patterns; the limit is " + std::to_string(kMaxExecCommands));
  }
  for (const std::string& p : patterns) {
    if (p.size() > kMaxExecCommandBytes) {
      return Status::InvalidArgument("worker.exec.commands: a pattern of " +
                                     std::to_string(p.size()) + " bytes; the limit is " +
                                     std::to_string(kMaxExecCommandBytes));
    }
    if (p.empty() || p.front() != '/') {
      return Status::InvalidArgument("worker.exec.commands: '" + p +
                                     "' is not an absolute path or pattern (begin it with /)");
    }
  }
  return Status::OK();
}

Result<std::string> ExecProgram(const Fields& params) {
  BTRQ_ASSIGN_OR_RETURN(ExecOptions options, ParseExecOptions(params));
  const std::string& program = options.argv.front();
  if (!IsNormalAbsolutePath(program)) {
    return Status::InvalidArgument(
        "exec: param 'command': the program '" + program +
        "' must be an absolute path without '.', '..' or empty parts (e.g. /usr/bin/python3)");
  }
  return program;
}

bool ExecAllowed(const std::vector<std::string>& patterns, std::string_view program) {
  const std::string path(program);
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), path.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

Status CheckExecAllowed(const std::vector<std::string>& patterns, const Fields& params) {
  BTRQ_ASSIGN_OR_RETURN(std::string program, ExecProgram(params));
  if (!ExecAllowed(patterns, program)) {
    return Status::InvalidArgument("exec: the program '" + program +
                                   "' is not allowed by this worker's worker.exec.commands");
  }
  return Status::OK();
}

}  // namespace btrq::analytics
