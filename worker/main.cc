// btrq-worker: runs analytics on BTrDB streams for a btrq broker and delivers the results
// to a btrq sink.
//
//   btrq-worker [--config FILE] [--set section.key=value]... [--broker tcp://...]
//               [--sink tcp://...] [--threads N] [--btrdb HOST:PORT] [--http-listen H:P]
//               [--drain-timeout DURATION]
//
// SIGTERM/SIGINT drain (finish, deliver, DONE, BYE, exit 0); a second one hands the
// unfinished tasks back and exits 0 at once.

#include <stdlib.h>

#include <memory>

#include "common/clock.h"
#include "common/daemon.h"
#include "common/time_util.h"
#include "worker/worker.h"

namespace btrq::worker {
namespace {

Status RunFromCommandLine(int argc, char** argv) {
  // Every executor thread blocks in its own BTrDB call. gRPC's default polling engine
  // (epoll1) has one thread poll for all of them and hand each event over to the thread
  // that waits for it: a context switch per message. With "poll", each thread polls its
  // own connection. In bench/run scan this took a fifth off the worker's CPU and a tenth
  // off the scan's time. Read when gRPC starts, so set before any channel exists; an
  // operator's GRPC_POLL_STRATEGY wins.
  setenv("GRPC_POLL_STRATEGY", "poll", /*overwrite=*/0);
  BTRQ_ASSIGN_OR_RETURN(
      DaemonCommandLine command_line,
      LoadDaemonConfig(
          "btrq-worker: runs btrq analytics over BTrDB streams", "worker",
          {
              {"--broker", "worker.broker", "broker endpoint (worker.broker)"},
              {"--sink", "worker.sink", "sink endpoint (worker.sink)"},
              {"--threads", "worker.threads",
               "executor threads, 0 = two per hardware thread (worker.threads)"},
              {"--btrdb", "btrdb.endpoints", "BTrDB host:port list (btrdb.endpoints)"},
              {"--http-listen", "worker.http_listen",
               "HTTP host:port for /metrics (worker.http_listen)"},
              {"--drain-timeout", "",
               "how long a drain may take before handing back, 0 = no limit (default 2m)"},
          },
          argc, argv));
  if (command_line.help_printed) return Status::OK();
  WorkerConfig worker_config = WorkerConfigFrom(command_line.config);
  if (auto it = command_line.extra_flags.find("--drain-timeout");
      it != command_line.extra_flags.end()) {
    auto parsed = ParseDuration(it->second);
    if (!parsed.ok()) return parsed.status().WithContext("flag --drain-timeout");
    worker_config.drain_timeout = *parsed;
  }
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker,
                        Worker::Create(worker_config, SystemClock::Default()));
  return RunUntilShutdown(*worker);
}

}  // namespace
}  // namespace btrq::worker

int main(int argc, char** argv) {
  return btrq::DaemonExitCode("btrq-worker", btrq::worker::RunFromCommandLine(argc, argv));
}
