#include "common/readiness.h"

#include <gtest/gtest.h>

#include <regex>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

// The lines are what operators' scripts and older harnesses grep for: pinned here.
TEST(Readiness, LinesKeepTheirText) {
  EXPECT_EQ(BtrdbLiteReadyLine("127.0.0.1:4410"), "btrdb-lite: ready on 127.0.0.1:4410");
  EXPECT_EQ(BrokerReadyLine("127.0.0.1:7400", "tcp://127.0.0.1:7401", "off"),
            "btrq-broker: ready (control 127.0.0.1:7400, tasks tcp://127.0.0.1:7401, http off)");
  EXPECT_EQ(SinkReadyLine("tcp://127.0.0.1:7411", "127.0.0.1:7410", "127.0.0.1:7412"),
            "btrq-sink: ready (results tcp://127.0.0.1:7411, control 127.0.0.1:7410, "
            "http 127.0.0.1:7412)");
  EXPECT_EQ(WorkerReadyLine("w-1", 4, "tcp://b:1", "tcp://s:2"),
            "btrq-worker: ready (id w-1, 4 threads, broker tcp://b:1, sink tcp://s:2)");
}

TEST(Readiness, PatternsMatchTheirOwnLineInsideALogLine) {
  const std::pair<Daemon, std::string> lines[] = {
      {Daemon::kBtrdbLite, BtrdbLiteReadyLine("h:1")},
      {Daemon::kBroker, BrokerReadyLine("c", "t", "h")},
      {Daemon::kSink, SinkReadyLine("r", "c", "h")},
      {Daemon::kWorker, WorkerReadyLine("id", 1, "b", "s")},
  };
  for (const auto& [daemon, line] : lines) {
    const std::regex re(ReadyPattern(daemon));
    EXPECT_TRUE(std::regex_search("[2026-01-01 00:00:00.000] [info] " + line, re)) << line;
    for (const auto& [other, other_line] : lines) {
      if (other != daemon) {
        EXPECT_FALSE(std::regex_search(other_line, re)) << other_line;
      }
    }
  }
  EXPECT_TRUE(ReadyOnStdout(Daemon::kBtrdbLite));
  EXPECT_FALSE(ReadyOnStdout(Daemon::kBroker));
}

TEST(Readiness, ParsersReadTheEndpointsBack) {
  ASSERT_OK_AND_ASSIGN(std::string lite, ParseBtrdbLiteReady(BtrdbLiteReadyLine("127.0.0.1:9")));
  EXPECT_EQ(lite, "127.0.0.1:9");
  ASSERT_OK_AND_ASSIGN(BrokerReady broker,
                       ParseBrokerReady("[x] [info] " + BrokerReadyLine("c:1", "tcp://t:2", "h:3")));
  EXPECT_EQ(broker.control, "c:1");
  EXPECT_EQ(broker.tasks, "tcp://t:2");
  EXPECT_EQ(broker.http, "h:3");
  ASSERT_OK_AND_ASSIGN(SinkReady sink, ParseSinkReady(SinkReadyLine("tcp://r:1", "c:2", "off")));
  EXPECT_EQ(sink.results, "tcp://r:1");
  EXPECT_EQ(sink.control, "c:2");
  EXPECT_EQ(sink.http, "off");
  ASSERT_OK_AND_ASSIGN(std::string id, ParseWorkerReady(WorkerReadyLine("abc", 2, "b", "s")));
  EXPECT_EQ(id, "abc");
}

TEST(Readiness, ParsersRejectOtherLines) {
  EXPECT_EQ(ParseBrokerReady(SinkReadyLine("r", "c", "h")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseSinkReady("btrq-sink: stopped").ok());
  EXPECT_FALSE(ParseBtrdbLiteReady("btrdb-lite: ready").ok());
  EXPECT_FALSE(ParseWorkerReady(BrokerReadyLine("c", "t", "h")).ok());
}

}  // namespace
}  // namespace btrq
