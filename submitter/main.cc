// btrq: the command-line client of btrq (docs/cli.md).
//
//   btrq submit|status|top|jobs|show|cancel|retry|results|workers|drain|keygen|demo [flags]

#include <unistd.h>

#include <csignal>
#include <iostream>

#include <grpc/support/log.h>

#include "common/config.h"
#include "submitter/cli.h"

namespace {

// gRPC's own log lines are noise to a CLI user: every failure reaches them as a message.
void DropGrpcLog(gpr_log_func_args* /*args*/) {}

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(DropGrpcLog);
  std::signal(SIGPIPE, SIG_IGN);  // `btrq results | head` ends with a write error, not a signal
  btrq::submitter::CliOptions options;
  options.out_tty = ::isatty(STDOUT_FILENO) == 1;
  options.err_tty = ::isatty(STDERR_FILENO) == 1;
  return btrq::submitter::RunCli(argc, argv, std::cout, std::cerr, btrq::Env::Process(), options);
}
