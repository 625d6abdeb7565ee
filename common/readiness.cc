#include "common/readiness.h"

#include <regex>

namespace btrq {
namespace {

// The fixed text before the details of each line.
constexpr std::string_view kPrefix[] = {"btrdb-lite: ready on ", "btrq-broker: ready (",
                                        "btrq-sink: ready (", "btrq-worker: ready ("};

std::string_view Prefix(Daemon daemon) { return kPrefix[static_cast<int>(daemon)]; }

// The capture groups of `re` in `line`; InvalidArgument naming `daemon` when it fails.
Result<std::smatch> Match(Daemon daemon, const std::string& line, const std::regex& re) {
  std::smatch m;
  if (!std::regex_search(line, m, re)) {
    return Status::InvalidArgument("not a " + std::string(DaemonName(daemon)) +
                                   " ready line: " + line);
  }
  return m;
}

}  // namespace

std::string_view DaemonName(Daemon daemon) {
  switch (daemon) {
    case Daemon::kBtrdbLite: return "btrdb-lite";
    case Daemon::kBroker: return "btrq-broker";
    case Daemon::kSink: return "btrq-sink";
    case Daemon::kWorker: return "btrq-worker";
  }
  return "?";
}

std::string ReadyPattern(Daemon daemon) {
  std::string pattern;
  for (char c : Prefix(daemon)) {
    if (c == '(') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

bool ReadyOnStdout(Daemon daemon) { return daemon == Daemon::kBtrdbLite; }

std::string BtrdbLiteReadyLine(std::string_view address) {
  return std::string(Prefix(Daemon::kBtrdbLite)) + std::string(address);
}

std::string BrokerReadyLine(std::string_view control, std::string_view tasks,
                            std::string_view http) {
  return std::string(Prefix(Daemon::kBroker)) + "control " + std::string(control) + ", tasks " +
         std::string(tasks) + ", http " + std::string(http) + ")";
}

std::string SinkReadyLine(std::string_view results, std::string_view control,
                          std::string_view http) {
  return std::string(Prefix(Daemon::kSink)) + "results " + std::string(results) +
         ", control " + std::string(control) + ", http " + std::string(http) + ")";
}

std::string WorkerReadyLine(std::string_view id, uint32_t threads, std::string_view broker,
                            std::string_view sink) {
  return std::string(Prefix(Daemon::kWorker)) + "id " + std::string(id) + ", " +
         std::to_string(threads) + " threads, broker " + std::string(broker) + ", sink " +
         std::string(sink) + ")";
}

Result<std::string> ParseBtrdbLiteReady(std::string_view line) {
  static const std::regex re(ReadyPattern(Daemon::kBtrdbLite) + R"((\S+))");
  const std::string text(line);
  BTRQ_ASSIGN_OR_RETURN(std::smatch m, Match(Daemon::kBtrdbLite, text, re));
  return m[1].str();
}

Result<BrokerReady> ParseBrokerReady(std::string_view line) {
  static const std::regex re(ReadyPattern(Daemon::kBroker) +
                             R"(control ([^,]+), tasks ([^,]+), http ([^)]+)\))");
  const std::string text(line);
  BTRQ_ASSIGN_OR_RETURN(std::smatch m, Match(Daemon::kBroker, text, re));
  return BrokerReady{m[1].str(), m[2].str(), m[3].str()};
}

Result<SinkReady> ParseSinkReady(std::string_view line) {
  static const std::regex re(ReadyPattern(Daemon::kSink) +
                             R"(results ([^,]+), control ([^,]+), http ([^)]+)\))");
  const std::string text(line);
  BTRQ_ASSIGN_OR_RETURN(std::smatch m, Match(Daemon::kSink, text, re));
  return SinkReady{m[1].str(), m[2].str(), m[3].str()};
}

Result<std::string> ParseWorkerReady(std::string_view line) {
  static const std::regex re(ReadyPattern(Daemon::kWorker) + R"(id ([^,]+),)");
  const std::string text(line);
  BTRQ_ASSIGN_OR_RETURN(std::smatch m, Match(Daemon::kWorker, text, re));
  return m[1].str();
}

}  // namespace btrq
