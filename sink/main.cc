// btrq-sink: receives results from workers, stores exactly one per task key durably,
// ACKs once durable, serves them back over gRPC.
//
//   btrq-sink [--config FILE] [--set section.key=value]... [--listen ENDPOINT]
//             [--control-listen HOST:PORT] [--http-listen HOST:PORT] [--data-dir DIR]

#include <memory>

#include "common/clock.h"
#include "common/daemon.h"
#include "sink/sink.h"

namespace btrq::sink {
namespace {

Status RunFromCommandLine(int argc, char** argv) {
  BTRQ_ASSIGN_OR_RETURN(
      DaemonCommandLine command_line,
      LoadDaemonConfig(
          "btrq-sink: stores analytic results durably, exactly once per task", "sink",
          {
              {"--listen", "sink.listen", "ZeroMQ endpoint for workers (sink.listen)"},
              {"--control-listen", "sink.control_listen", "gRPC host:port (sink.control_listen)"},
              {"--http-listen", "sink.http_listen",
               "HTTP host:port for /metrics (sink.http_listen)"},
              {"--data-dir", "sink.data_dir", "result store directory (sink.data_dir)"},
          },
          argc, argv));
  if (command_line.help_printed) return Status::OK();
  const BtrqConfig& config = command_line.config;
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Sink> sink,
                        Sink::Create(config.sink, SystemClock::Default(), config.curve));
  return RunUntilShutdown(*sink);
}

}  // namespace
}  // namespace btrq::sink

int main(int argc, char** argv) {
  return btrq::DaemonExitCode("btrq-sink", btrq::sink::RunFromCommandLine(argc, argv));
}
