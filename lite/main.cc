// btrdb-lite: a single-node BTrDB v5 server.
//   btrdb-lite [serve] [--listen HOST:PORT] [--data-dir DIR] [--enable-fault-inject]
//              [--tls-cert PEM --tls-key PEM [--api-key-file FILE]] [--log-level L]
//   btrdb-lite generate ...   (synthetic data; see generate.h)
// Prints "btrdb-lite: ready on HOST:PORT" on stdout once serving; SIGINT/SIGTERM stop it.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "common/readiness.h"
#include "lite/database.h"
#include "lite/generate.h"
#include "lite/server.h"


namespace {

// The key in `path`, trailing whitespace removed; empty when unreadable or blank.
std::string ReadKeyFile(const std::string& path) {
  btrq::Result<std::string> read = btrq::ReadFileToString(path);
  std::string key = read.ok() ? std::move(*read) : std::string();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' ||
                          key.back() == '\t')) {
    key.pop_back();
  }
  return key;
}

int Serve(int argc, char** argv) {
  btrq::lite::ServerOptions options;
  std::string log_level = "info";
  CLI::App app{"btrdb-lite: a single-node BTrDB v5 server"};
  app.add_subcommand("serve", "serve the BTrDB v5 API (the default)")->fallthrough();
  app.add_option("--listen", options.listen, "host:port to listen on")->capture_default_str();
  app.add_option("--data-dir", options.data_dir, "directory for durable storage (default: in memory)");
  app.add_flag("--enable-fault-inject", options.enable_fault_inject, "enable the FaultInject RPC");
  app.add_option("--advertised-address", options.advertised_address, "address Info reports");
  std::string api_key_file;
  app.add_option("--tls-cert", options.tls_cert_file, "PEM certificate chain: serve TLS");
  app.add_option("--tls-key", options.tls_key_file, "PEM private key of --tls-cert");
  app.add_option("--api-key-file", api_key_file,
                 "file holding the API key every call must carry as \"authorization: Bearer "
                 "KEY\" (needs TLS)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("btrdb-lite"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (!api_key_file.empty()) {
    options.api_key = ReadKeyFile(api_key_file);
    if (options.api_key.empty()) {
      std::fprintf(stderr, "btrdb-lite: --api-key-file %s is unreadable or empty\n",
                   api_key_file.c_str());
      return 1;
    }
  }

  // Block the stop signals in every thread (gRPC's inherit the mask); sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = btrq::lite::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "btrdb-lite: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const auto& rec = (*server)->database()->recovery();
  if (!options.data_dir.empty()) {
    spdlog::info("recovered {} streams from snapshot, {} log records, discarded {} torn bytes",
                 rec.snapshot_streams, rec.log_records, rec.discarded_bytes);
  }
  std::printf("%s\n", btrq::BtrdbLiteReadyLine((*server)->address()).c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "generate") {
    return btrq::lite::RunGenerate(argc - 1, argv + 1);
  }
  return Serve(argc, argv);
}
