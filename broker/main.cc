// btrq-broker: owns jobs, expands them into tasks, dispatches them to workers by credit,
// tracks leases and retries, journals what matters, serves the control API and /metrics.
//
//   btrq-broker [--config FILE] [--set section.key=value]... [--data-dir DIR]
//               [--listen-control HOST:PORT] [--listen-tasks tcp://HOST:PORT]
//               [--listen-http HOST:PORT] [--btrdb HOST:PORT[,HOST:PORT...]]
//   btrq-broker [--config FILE] [--data-dir DIR] --salvage-journal
//               repairs a journal the broker refuses to open, prints what it dropped, exits

#include <cstdio>
#include <memory>

#include "broker/broker.h"
#include "broker/journal_salvage.h"
#include "common/clock.h"
#include "common/daemon.h"

namespace btrq::broker {
namespace {

Status RunFromCommandLine(int argc, char** argv) {
  BTRQ_ASSIGN_OR_RETURN(
      DaemonCommandLine command_line,
      LoadDaemonConfig(
          "btrq-broker: expands jobs into tasks and dispatches them to btrq workers", "broker",
          {
              {"--data-dir", "broker.data_dir", "journal directory (broker.data_dir)"},
              {"--listen-control", "broker.control_listen",
               "gRPC host:port (broker.control_listen)"},
              {"--listen-tasks", "broker.tasks_listen",
               "ZeroMQ endpoint for workers (broker.tasks_listen)"},
              {"--listen-http", "broker.http_listen",
               "HTTP host:port for /metrics (broker.http_listen)"},
              {"--btrdb", "btrdb.endpoints", "BTrDB endpoints host:port,... (btrdb.endpoints)"},
              {"--salvage-journal", "",
               "repair the journal in the data dir (keep every valid record, back up the "
               "original, print what was dropped) and exit; stop the broker first",
               /*is_switch=*/true},
          },
          argc, argv));
  if (command_line.help_printed) return Status::OK();
  if (command_line.extra_flags.count("--salvage-journal") != 0) {
    BTRQ_ASSIGN_OR_RETURN(
        const SalvageReport report,
        SalvageJournal(command_line.config.broker.data_dir, DecodeRecordValidator(),
                       SystemClock::Default()->WallNanos()));
    std::fputs(FormatSalvageReport(report).c_str(), stdout);
    return Status::OK();
  }
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Broker> broker,
                        Broker::Create(command_line.config, SystemClock::Default()));
  return RunUntilShutdown(*broker);
}

}  // namespace
}  // namespace btrq::broker

int main(int argc, char** argv) {
  return btrq::DaemonExitCode("btrq-broker", btrq::broker::RunFromCommandLine(argc, argv));
}
