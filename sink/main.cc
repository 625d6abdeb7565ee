// btrq-sink: receives results from workers, stores exactly one per task key durably,
// ACKs once durable, serves them back over gRPC.
//
//   btrq-sink [--config FILE] [--set section.key=value]... [--listen ENDPOINT]
//             [--control-listen HOST:PORT] [--http-listen HOST:PORT] [--data-dir DIR]

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
#include "sink/sink.h"

namespace btrq::sink {
namespace {

std::atomic<Sink*> g_sink{nullptr};

// Only an eventfd write (Sink::Shutdown): nothing else is safe in a signal handler.
void OnSignal(int /*signo*/) {
  if (Sink* sink = g_sink.load()) sink->Shutdown();
}

Status InstallSignalHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGTERM, SIGINT}) {
    if (sigaction(signo, &action, nullptr) != 0) {
      return Status::Internal("sigaction failed");
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  return Status::OK();
}

Status RunFromCommandLine(int argc, char** argv) {
  CLI::App app("btrq-sink: stores analytic results durably, exactly once per task");
  std::string config_path;
  std::vector<std::string> sets;
  std::string listen, control_listen, http_listen, data_dir;
  app.add_option("--config", config_path, "YAML config file");
  app.add_option("--set", sets, "section.key=value, overrides the file and environment");
  app.add_option("--listen", listen, "ZeroMQ endpoint for workers (sink.listen)");
  app.add_option("--control-listen", control_listen, "gRPC host:port (sink.control_listen)");
  app.add_option("--http-listen", http_listen, "HTTP host:port for /metrics (sink.http_listen)");
  app.add_option("--data-dir", data_dir, "result store directory (sink.data_dir)");
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
  dedicated(listen, "sink.listen", "--listen");
  dedicated(control_listen, "sink.control_listen", "--control-listen");
  dedicated(http_listen, "sink.http_listen", "--http-listen");
  dedicated(data_dir, "sink.data_dir", "--data-dir");

  BtrqConfig config;
  BTRQ_RETURN_IF_ERROR(
      LoadConfigWithOverrides(config_path, Env::Process(), overrides, &config));
  BTRQ_RETURN_IF_ERROR(InitLogging(config.log, "sink"));
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<Sink> sink,
                        Sink::Create(config.sink, SystemClock::Default(), config.curve));
  g_sink = sink.get();
  BTRQ_RETURN_IF_ERROR(InstallSignalHandlers());
  const Status status = sink->Run();
  // Late signals must not reach a destroyed sink; the run is over anyway.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  g_sink = nullptr;
  return status;
}

}  // namespace
}  // namespace btrq::sink

int main(int argc, char** argv) {
  const btrq::Status s = btrq::sink::RunFromCommandLine(argc, argv);
  if (!s.ok()) std::fprintf(stderr, "btrq-sink: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
