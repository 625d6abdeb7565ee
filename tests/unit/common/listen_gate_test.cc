#include "common/listen_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;

TEST(ListenGate, LoopbackIsOnlyThisHost) {
  for (const char* local : {"127.0.0.1:7400", "tcp://127.0.0.1:7401", "127.8.9.10:1",
                            "localhost:7400", "tcp://localhost:*", "[::1]:7400",
                            "tcp://[::1]:7401", "ipc:///tmp/x", "inproc://sink"}) {
    EXPECT_TRUE(IsLoopbackEndpoint(local)) << local;
  }
  for (const char* open : {"0.0.0.0:7400", "tcp://0.0.0.0:7401", "tcp://*:7401", "[::]:7400",
                           ":7400", "10.0.0.5:7400", "tcp://eth0:7401",
                           "btrq-head.example.net:7400", "128.0.0.1:7400"}) {
    EXPECT_FALSE(IsLoopbackEndpoint(open)) << open;
  }
}

// Issue #14: an empty token allowed everything on a control API anyone could reach.
TEST(ListenGate, BrokerBeyondLoopbackNeedsTokenCurveAndLeaseSecret) {
  BrokerOptions b;
  CurveOptions curve;
  EXPECT_OK(CheckBrokerListeners(b, curve));  // the defaults: loopback only

  b.control_listen = "0.0.0.0:7400";
  Status s = CheckBrokerListeners(b, curve);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("broker.control_listen '0.0.0.0:7400'"));
  EXPECT_THAT(s.message(), HasSubstr("broker.control_token"));
  EXPECT_THAT(s.message(), HasSubstr("broker.insecure: true"));
  b.control_token_file = "/etc/btrq/control-token";
  EXPECT_OK(CheckBrokerListeners(b, curve));

  b.tasks_listen = "tcp://*:7401";
  s = CheckBrokerListeners(b, curve);
  EXPECT_THAT(s.message(), HasSubstr("broker.tasks_listen"));
  EXPECT_THAT(s.message(), HasSubstr("curve.enabled"));
  curve.enabled = true;
  s = CheckBrokerListeners(b, curve);
  EXPECT_THAT(s.message(), HasSubstr("broker.lease_secret_file"));
  b.lease_secret_file = "/etc/btrq/btrq.lease";
  EXPECT_OK(CheckBrokerListeners(b, curve));

  BrokerOptions open;
  open.control_listen = "0.0.0.0:7400";
  open.tasks_listen = "tcp://0.0.0.0:7401";
  open.insecure = true;  // in so many words
  EXPECT_OK(CheckBrokerListeners(open, CurveOptions()));
}

TEST(ListenGate, SinkBeyondLoopbackNeedsTokenCurveAndLeaseSecret) {
  SinkOptions s;
  CurveOptions curve;
  EXPECT_OK(CheckSinkListeners(s, curve));
  s.listen = "tcp://0.0.0.0:7411";
  Status st = CheckSinkListeners(s, curve);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("sink.listen"));
  EXPECT_THAT(st.message(), HasSubstr("sink.insecure"));
  curve.enabled = true;
  EXPECT_THAT(CheckSinkListeners(s, curve).message(), HasSubstr("sink.lease_secret_file"));
  s.lease_secret_file = "/etc/btrq/btrq.lease";
  EXPECT_OK(CheckSinkListeners(s, curve));
  s.control_listen = "0.0.0.0:7410";
  EXPECT_THAT(CheckSinkListeners(s, curve).message(), HasSubstr("sink.control_token"));
  s.control_token = "t0ken";
  EXPECT_OK(CheckSinkListeners(s, curve));
}

}  // namespace
}  // namespace btrq
