#include "common/router_inbox.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/zmq_util.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::milliseconds kDeadline(5000);

// A ROUTER with an inbox and a DEALER peer "w1", over inproc.
class RouterInboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RouterInboxOptions options;
    options.log_prefix = "test";
    options.reasons = {"wrong_type", "envelope"};
    options.limits.max_frame_bytes = 1024;
    ASSERT_OK_AND_ASSIGN(inbox_, RouterInbox::Create(options, &registry_, &limiter_, nullptr));
    ASSERT_OK_AND_ASSIGN(router_, MakeSocket(context_, zmq::socket_type::router, {}));
    ASSERT_OK(Bind(router_, "inproc://router-inbox-test").status());
    SocketOptions dealer_options;
    dealer_options.routing_id = "w1";
    ASSERT_OK_AND_ASSIGN(dealer_, MakeSocket(context_, zmq::socket_type::dealer, dealer_options));
    ASSERT_OK(Connect(dealer_, "inproc://router-inbox-test"));
  }

  // Sends `frames` from the dealer and receives what the router makes of them.
  RouterMessage RoundTrip(std::vector<std::string_view> frames) {
    RouterMessage in;
    EXPECT_OK(SendMultipart(dealer_, frames, /*dont_wait=*/false));
    Result<bool> ready = PollIn(router_, kDeadline);
    EXPECT_TRUE(ready.ok() && *ready) << "nothing arrived within the deadline";
    Result<bool> received = inbox_->Receive(router_, &in);
    EXPECT_OK(received);
    EXPECT_TRUE(received.ok() && *received);
    return in;
  }

  std::string Count(std::string_view reason) {
    const std::string prefix = "btrq_bad_messages_total{reason=\"" + std::string(reason) + "\"} ";
    const std::string text = registry_.Render();
    const size_t at = text.find(prefix);
    if (at == std::string::npos) return "absent";
    return text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size());
  }

  SystemClock clock_;
  metrics::Registry registry_;
  RateLimiter limiter_{RateLimiter::Options{}, &clock_};
  std::unique_ptr<RouterInbox> inbox_;
  zmq::context_t context_;
  zmq::socket_t router_;
  zmq::socket_t dealer_;
};

TEST_F(RouterInboxTest, NothingWaitingIsFalse) {
  RouterMessage in;
  ASSERT_OK_AND_ASSIGN(bool received, inbox_->Receive(router_, &in));
  EXPECT_FALSE(received);
}

TEST_F(RouterInboxTest, DecodesAWellFormedMessageWithItsEnvelope) {
  HelloMsg hello;
  hello.worker_id = "w1";
  const std::string body = EncodeMessage(Message(hello));
  RouterMessage in = RoundTrip({body});
  ASSERT_TRUE(in.message.has_value()) << in.dropped;
  EXPECT_EQ(in.dropped, "");
  EXPECT_EQ(in.identity(), "w1");
  EXPECT_EQ(in.Envelope(), std::vector<std::string>{"w1"});
  ASSERT_TRUE(std::holds_alternative<HelloMsg>(*in.message));
  EXPECT_EQ(std::get<HelloMsg>(*in.message).worker_id, "w1");
}

TEST_F(RouterInboxTest, KeepsAnEmptyDelimiterInTheEnvelope) {
  const std::string body = EncodeMessage(Message(CreditMsg{4}));
  RouterMessage in = RoundTrip({"", body});
  ASSERT_TRUE(in.message.has_value()) << in.dropped;
  EXPECT_EQ(in.Envelope(), (std::vector<std::string>{"w1", ""}));
}

TEST_F(RouterInboxTest, CountsEveryReasonFromZero) {
  for (std::string_view reason : {"too_large", "bad_version", "unknown_type", "malformed", "limits",
                                  "bad_field", "wrong_type", "envelope"}) {
    EXPECT_EQ(Count(reason), "0") << reason;
  }
}

TEST_F(RouterInboxTest, DropsAndCountsABodyThatDoesNotDecode) {
  RouterMessage in = RoundTrip({"not msgpack at all"});
  EXPECT_FALSE(in.message.has_value());
  EXPECT_NE(in.dropped, "");
  EXPECT_EQ(in.identity(), "w1");
  EXPECT_EQ(Count(in.dropped), "1");
}

TEST_F(RouterInboxTest, DropsAFrameOverTheLimitAsTooLarge) {
  const std::string big(2048, 'x');
  RouterMessage in = RoundTrip({big});
  EXPECT_EQ(in.dropped, "too_large");
  EXPECT_EQ(Count("too_large"), "1");
}

TEST_F(RouterInboxTest, DropsANonEmptyDelimiterAsEnvelope) {
  const std::string body = EncodeMessage(Message(CreditMsg{4}));
  RouterMessage in = RoundTrip({"x", body});
  EXPECT_FALSE(in.message.has_value());
  EXPECT_EQ(in.dropped, "envelope");
  EXPECT_EQ(Count("envelope"), "1");
}

TEST_F(RouterInboxTest, DropsTooManyFramesAsEnvelopeFromNobody) {
  RouterMessage in = RoundTrip({"", "a", "b"});
  EXPECT_FALSE(in.message.has_value());
  EXPECT_EQ(in.dropped, "envelope");
  EXPECT_TRUE(in.frames.empty());
  EXPECT_EQ(in.identity(), "");
  EXPECT_EQ(Count("envelope"), "1");
}

TEST_F(RouterInboxTest, CountBadAddsAReasonFirstSeen) {
  EXPECT_EQ(Count("stale_done"), "absent");
  inbox_->CountBad("stale_done", "w1", "DONE for an old attempt");
  inbox_->CountBad("stale_done", "w1", "DONE for an old attempt");
  EXPECT_EQ(Count("stale_done"), "2");
  EXPECT_THAT(registry_.Render(), Not(HasSubstr("reason=\"\"")));
}

TEST(PeerNameTest, TextAsIsBinaryAsHexEmptyAsUnknown) {
  EXPECT_EQ(PeerName("worker-1"), "worker-1");
  EXPECT_EQ(PeerName(std::string_view("\x00\x01\xff", 3)), "0001ff");
  EXPECT_EQ(PeerName(""), "(unknown)");
}

}  // namespace
}  // namespace btrq
