// btrq-worker: runs analytics on BTrDB streams for a btrq broker and delivers the results
// to a btrq sink.
//
//   btrq-worker [--config FILE] [--set section.key=value]... [--broker tcp://...]
//               [--sink tcp://...] [--threads N] [--btrdb HOST:PORT] [--http-listen H:P]
//               [--drain-timeout DURATION]
//
// SIGTERM/SIGINT drain (finish, deliver, DONE, BYE, exit 0); a second one hands the
// unfinished tasks back and exits 0 at once.

#include <csignal>
#include <cstdio>
#include <atomic>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/options.h"
#include "common/time_util.h"
#include "worker/worker.h"

namespace btrq::worker {
namespace {

std::atomic<Worker*> g_worker{nullptr};

// Only an atomic increment and an eventfd write: nothing else is safe in a signal handler.
void OnSignal(int /*signo*/) {
  if (Worker* worker = g_worker.load()) worker->Shutdown();
}

Status InstallSignalHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGTERM, SIGINT}) {
    if (sigaction(signo, &action, nullptr) != 0) return Status::Internal("sigaction failed");
  }
  std::signal(SIGPIPE, SIG_IGN);
  return Status::OK();
}

Status RunFromCommandLine(int argc, char** argv) {
  CLI::App app("btrq-worker: runs btrq analytics over BTrDB streams");
  std::string config_path;
  std::vector<std::string> sets;
  std::string broker, sink, threads, btrdb, http_listen, drain_timeout;
  app.add_option("--config", config_path, "YAML config file");
  app.add_option("--set", sets, "section.key=value, overrides the file and environment");
  app.add_option("--broker", broker, "broker endpoint (worker.broker)");
  app.add_option("--sink", sink, "sink endpoint (worker.sink)");
  app.add_option("--threads", threads, "executor threads, 0 = hardware (worker.threads)");
  app.add_option("--btrdb", btrdb, "BTrDB host:port list (btrdb.endpoints)");
  app.add_option("--http-listen", http_listen, "HTTP host:port for /metrics (worker.http_listen)");
  app.add_option("--drain-timeout", drain_timeout,
                 "how long a drain may take before handing back, 0 = no limit (default 2m)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return Status::OK();  // --help
    return Status::InvalidArgument("bad command line");
  }

  std::vector<ConfigOverride> overrides;
  for (const std::string& s : sets) {
    BTRQ_ASSIGN_OR_RETURN(ConfigOverride o, ParseSetFlag(s));
    overrides.push_back(std::move(o));
  }
  const auto dedicated = [&overrides](const std::string& value, const char* path,
                                      const char* flag) {
    if (!value.empty()) overrides.push_back({path, value, std::string("flag ") + flag});
  };
  dedicated(broker, "worker.broker", "--broker");
  dedicated(sink, "worker.sink", "--sink");
  dedicated(threads, "worker.threads", "--threads");
  dedicated(btrdb, "btrdb.endpoints", "--btrdb");
  dedicated(http_listen, "worker.http_listen", "--http-listen");

  BtrqConfig config;
  BTRQ_RETURN_IF_ERROR(LoadConfigWithOverrides(config_path, Env::Process(), overrides, &config));
  BTRQ_RETURN_IF_ERROR(InitLogging(config.log, "worker"));
  WorkerConfig worker_config = WorkerConfigFrom(config);
  if (!drain_timeout.empty()) {
    auto parsed = ParseDuration(drain_timeout);
    if (!parsed.ok()) return parsed.status().WithContext("flag --drain-timeout");
    worker_config.drain_timeout = *parsed;
  }
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker,
                        Worker::Create(worker_config, SystemClock::Default()));
  g_worker = worker.get();
  BTRQ_RETURN_IF_ERROR(InstallSignalHandlers());
  const Status status = worker->Run();
  // Late signals must not reach a destroyed worker; the run is over anyway.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  g_worker = nullptr;
  return status;
}

}  // namespace
}  // namespace btrq::worker

int main(int argc, char** argv) {
  const btrq::Status s = btrq::worker::RunFromCommandLine(argc, argv);
  if (!s.ok()) std::fprintf(stderr, "btrq-worker: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
