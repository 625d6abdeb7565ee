#pragma once

// What the btrq daemon mains (btrq-broker, btrq-sink, btrq-worker) share: the command
// line (--config, --set and flags that stand for one config key each), logging, the
// SIGTERM/SIGINT handlers that ask the component to shut down, and the exit code.

#include <map>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"

namespace btrq {

// A flag of a daemon's command line. With a config key, a given value overrides that key
// (source "flag <name>", above --set); without one, the value is handed back as is.
struct DaemonFlag {
  std::string name;        // "--data-dir"
  std::string config_key;  // "broker.data_dir"; empty: not a config override
  std::string help;
  bool is_switch = false;  // takes no value; given, it appears in extra_flags as "true"
};

struct DaemonCommandLine {
  bool help_printed = false;  // --help was asked for and printed: exit 0 without running
  BtrqConfig config;
  // Values of the given flags without a config key, by flag name.
  std::map<std::string, std::string> extra_flags;
};

// Parses `argc`/`argv` for `--config FILE`, `--set section.key=value`... and `flags`,
// loads the config (file, environment, --set, dedicated flags) and initialises logging
// for `component`. kInvalidArgument for a bad command line (CLI11 has printed why).
Result<DaemonCommandLine> LoadDaemonConfig(const std::string& description,
                                           const std::string& component,
                                           const std::vector<DaemonFlag>& flags, int argc,
                                           char** argv);

// Called from a signal handler: must be async-signal-safe (e.g. an eventfd write).
using ShutdownFn = void (*)(void* target);

// SIGTERM and SIGINT call fn(target); SIGPIPE is ignored.
Status InstallShutdownHandlers(ShutdownFn fn, void* target);

// SIGTERM and SIGINT are ignored from now on and fn is never called again: late signals
// must not reach a destroyed component.
void RemoveShutdownHandlers();

// Runs `component` (Status Run(); void Shutdown() async-signal-safe) until it returns,
// with SIGTERM/SIGINT calling its Shutdown().
template <typename Component>
Status RunUntilShutdown(Component& component) {
  BTRQ_RETURN_IF_ERROR(InstallShutdownHandlers(
      [](void* target) { static_cast<Component*>(target)->Shutdown(); }, &component));
  const Status status = component.Run();
  RemoveShutdownHandlers();
  return status;
}

// The process exit code for a daemon's final status: 0 when OK, else prints
// "<program>: <status>" to stderr and returns 1.
int DaemonExitCode(const char* program, const Status& status);

}  // namespace btrq
