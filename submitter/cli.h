#pragma once

// The `btrq` command line: argv -> subcommand -> exit code (commands.h ExitCode). main()
// calls RunCli with the process's streams and environment; tests call it in-process with
// string streams, a map environment and fake services.

#include <cstdint>
#include <functional>
#include <ostream>

#include "common/clock.h"
#include "common/config.h"

namespace btrq::submitter {

struct CliOptions {
  bool out_tty = false;  // stdout is a terminal
  bool err_tty = false;  // stderr is a terminal
  Clock* clock = nullptr;  // nullptr: SystemClock::Default()
  // Waits between `top` refreshes; nullptr: std::this_thread::sleep_for.
  std::function<void(int64_t ns)> sleep;
};

// Runs one `btrq` invocation. Errors are printed once to `err` as "btrq: MESSAGE" and give
// kExitError (service failed or unreachable) or kExitUsage (bad input, nothing sent).
// Where the broker is: --broker, else BTRQ_BROKER, else control.broker of the config file
// (--config, else BTRQ_CONFIG), else 127.0.0.1:7400; likewise the sink.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const Env& env, const CliOptions& options = CliOptions());

}  // namespace btrq::submitter
