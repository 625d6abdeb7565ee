#include "common/daemon.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <utility>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "common/options.h"

namespace btrq {
namespace {

std::atomic<ShutdownFn> g_shutdown_fn{nullptr};
std::atomic<void*> g_shutdown_target{nullptr};

// Only lock-free atomic loads and the component's async-signal-safe Shutdown.
void OnSignal(int /*signo*/) {
  if (void* target = g_shutdown_target.load()) {
    if (ShutdownFn fn = g_shutdown_fn.load()) fn(target);
  }
}

}  // namespace

Result<DaemonCommandLine> LoadDaemonConfig(const std::string& description,
                                           const std::string& component,
                                           const std::vector<DaemonFlag>& flags, int argc,
                                           char** argv) {
  CLI::App app(description);
  std::string config_path;
  std::vector<std::string> sets;
  std::vector<std::string> values(flags.size());
  app.add_option("--config", config_path, "YAML config file");
  app.add_option("--set", sets, "section.key=value, overrides the file and environment");
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i].is_switch) {
      app.add_flag_callback(flags[i].name, [&values, i] { values[i] = "true"; }, flags[i].help);
    } else {
      app.add_option(flags[i].name, values[i], flags[i].help);
    }
  }
  DaemonCommandLine out;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) {  // --help
      out.help_printed = true;
      return out;
    }
    return Status::InvalidArgument("bad command line");
  }

  std::vector<ConfigOverride> overrides;
  for (const std::string& s : sets) {
    BTRQ_ASSIGN_OR_RETURN(ConfigOverride o, ParseSetFlag(s));
    overrides.push_back(std::move(o));
  }
  for (size_t i = 0; i < flags.size(); ++i) {
    if (values[i].empty()) continue;
    if (flags[i].config_key.empty()) {
      out.extra_flags[flags[i].name] = values[i];
    } else {
      overrides.push_back({flags[i].config_key, values[i], "flag " + flags[i].name});
    }
  }
  BTRQ_RETURN_IF_ERROR(
      LoadConfigWithOverrides(config_path, Env::Process(), overrides, &out.config));
  BTRQ_RETURN_IF_ERROR(InitLogging(out.config.log, component));
  return out;
}

Status InstallShutdownHandlers(ShutdownFn fn, void* target) {
  g_shutdown_fn = fn;
  g_shutdown_target = target;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGTERM, SIGINT}) {
    if (sigaction(signo, &action, nullptr) != 0) return Status::Internal("sigaction failed");
  }
  std::signal(SIGPIPE, SIG_IGN);
  return Status::OK();
}

void RemoveShutdownHandlers() {
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  g_shutdown_target = nullptr;
  g_shutdown_fn = nullptr;
}

int DaemonExitCode(const char* program, const Status& status) {
  if (!status.ok()) std::fprintf(stderr, "%s: %s\n", program, status.ToString().c_str());
  return status.ok() ? 0 : 1;
}

}  // namespace btrq
