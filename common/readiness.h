#pragma once

// The line each daemon prints once it serves, and what supervisors (cluster/, the test
// harnesses) wait for. One home for the text: the daemons format it with the functions
// below, the waiters match it with ReadyPattern() and read endpoints back with the parsers.
// Changing a line changes what operators' scripts grep for: keep the prefixes stable.
//
//   btrdb-lite: ready on HOST:PORT                                  (stdout)
//   btrq-broker: ready (control HOST:PORT, tasks tcp://..., http HOST:PORT|off)  (log)
//   btrq-sink: ready (results tcp://..., control HOST:PORT, http HOST:PORT|off)  (log)
//   btrq-worker: ready (id ID, N threads, broker tcp://..., sink tcp://...)       (log)

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq {

enum class Daemon { kBtrdbLite, kBroker, kSink, kWorker };

// "btrdb-lite", "btrq-broker", "btrq-sink", "btrq-worker".
std::string_view DaemonName(Daemon daemon);
// An ECMAScript regex that matches the daemon's ready line (anywhere in a log line, so
// that spdlog's "[time] [info] " prefix and JSON log lines match too).
std::string ReadyPattern(Daemon daemon);
// Whether the ready line goes to stdout (btrdb-lite) rather than the log on stderr.
bool ReadyOnStdout(Daemon daemon);

std::string BtrdbLiteReadyLine(std::string_view address);
std::string BrokerReadyLine(std::string_view control, std::string_view tasks,
                            std::string_view http);
std::string SinkReadyLine(std::string_view results, std::string_view control,
                          std::string_view http);
std::string WorkerReadyLine(std::string_view id, uint32_t threads, std::string_view broker,
                            std::string_view sink);

// The endpoints a ready line names. InvalidArgument when `line` is no such ready line.
struct BrokerReady {
  std::string control, tasks, http;
};
struct SinkReady {
  std::string results, control, http;
};
Result<std::string> ParseBtrdbLiteReady(std::string_view line);
Result<BrokerReady> ParseBrokerReady(std::string_view line);
Result<SinkReady> ParseSinkReady(std::string_view line);
// The worker's id.
Result<std::string> ParseWorkerReady(std::string_view line);

}  // namespace btrq
