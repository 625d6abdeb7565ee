// btrq-broker: owns jobs, expands them into tasks, dispatches them to workers by credit,
// tracks leases and retries, journals what matters, serves the control API and /metrics.
//
//   btrq-broker [--config FILE] [--set section.key=value]... [--data-dir DIR]
//               [--listen-control HOST:PORT] [--listen-tasks tcp://HOST:PORT]
//               [--listen-http HOST:PORT] [--btrdb HOST:PORT[,HOST:PORT...]]

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "broker/broker.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/options.h"

namespace btrq::broker {
namespace {

std::atomic<Broker*> g_broker{nullptr};

// Only an eventfd write (Broker::Shutdown): nothing else is safe in a signal handler.
void OnSignal(int /*signo*/) {
  if (Broker* broker = g_broker.load()) broker->Shutdown();
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
  CLI::App app("btrq-broker: expands jobs into tasks and dispatches them to btrq workers");
  std::string config_path;
  std::vector<std::string> sets;
  std::string data_dir, listen_control, listen_tasks, listen_http, btrdb;
  app.add_option("--config", config_path, "YAML config file");
  app.add_option("--set", sets, "section.key=value, overrides the file and environment");
  app.add_option("--data-dir", data_dir, "journal directory (broker.data_dir)");
  app.add_option("--listen-control", listen_control, "gRPC host:port (broker.control_listen)");
  app.add_option("--listen-tasks", listen_tasks, "ZeroMQ endpoint for workers (broker.tasks_listen)");
  app.add_option("--listen-http", listen_http, "HTTP host:port for /metrics (broker.http_listen)");
  app.add_option("--btrdb", btrdb, "BTrDB endpoints host:port,... (btrdb.endpoints)");
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
  dedicated(data_dir, "broker.data_dir", "--data-dir");
  dedicated(listen_control, "broker.control_listen", "--listen-control");
  dedicated(listen_tasks, "broker.tasks_listen", "--listen-tasks");
  dedicated(listen_http, "broker.http_listen", "--listen-http");
  dedicated(btrdb, "btrdb.endpoints", "--btrdb");

  BtrqConfig config;
  BTRQ_RETURN_IF_ERROR(LoadConfigWithOverrides(config_path, Env::Process(), overrides, &config));
  BTRQ_RETURN_IF_ERROR(InitLogging(config.log, "broker"));
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Broker> broker,
                        Broker::Create(config, SystemClock::Default()));
  g_broker = broker.get();
  BTRQ_RETURN_IF_ERROR(InstallSignalHandlers());
  const Status status = broker->Run();
  // Late signals must not reach a destroyed broker; the run is over anyway.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  g_broker = nullptr;
  return status;
}

}  // namespace
}  // namespace btrq::broker

int main(int argc, char** argv) {
  const btrq::Status s = btrq::broker::RunFromCommandLine(argc, argv);
  if (!s.ok()) std::fprintf(stderr, "btrq-broker: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
