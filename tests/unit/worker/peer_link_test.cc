#include "worker/peer_link.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq::worker {
namespace {

using btrq::testing::FakeClock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kDeadline(10000);

// A fake peer: a ROUTER bound to 127.0.0.1 on a free port.
class FakeRouter {
 public:
  explicit FakeRouter(zmq::context_t* context, std::optional<CurveServerKeys> curve = {}) {
    SocketOptions o;
    o.linger_ms = 0;
    o.curve_server = std::move(curve);
    Result<zmq::socket_t> s = MakeSocket(*context, zmq::socket_type::router, o);
    EXPECT_OK(s.status());
    socket_ = std::move(*s);
    // As the broker's: a reconnecting worker's new socket takes over its routing id.
    socket_.set(zmq::sockopt::router_handover, 1);
    Result<std::string> bound = Bind(socket_, "tcp://127.0.0.1:*");
    EXPECT_OK(bound.status());
    endpoint_ = bound.ok() ? *bound : "";
  }

  const std::string& endpoint() const { return endpoint_; }

  // The next frame from a DEALER: its routing id and body; nullopt after the deadline.
  std::optional<std::pair<std::string, std::string>> Receive() {
    Result<bool> ready = PollIn(socket_, kDeadline);
    if (!ready.ok() || !*ready) return std::nullopt;
    std::vector<zmq::message_t> frames;
    Result<bool> got = RecvMultipart(socket_, 2, &frames);
    if (!got.ok() || !*got || frames.size() != 2) return std::nullopt;
    return std::make_pair(frames[0].to_string(), frames[1].to_string());
  }

  Status SendTo(const std::string& routing_id, std::string_view body) {
    const std::string_view frames[] = {routing_id, body};
    return SendMultipart(socket_, frames, /*dont_wait=*/false);
  }

 private:
  zmq::socket_t socket_;
  std::string endpoint_;
};

class PeerLinkTest : public ::testing::Test {
 protected:
  PeerLinkOptions Options(const std::string& endpoint) {
    PeerLinkOptions o;
    o.peer = "broker";
    o.endpoint = endpoint;
    o.routing_id = "worker-1";
    o.max_message_bytes = 1024;
    o.silence = seconds(3);
    o.reconnects = &reconnects_;
    return o;
  }

  // Receives from `link` until `want` messages or bad frames arrived, or the deadline.
  void ReceiveUntil(PeerLink& link, size_t want, size_t max_per_turn = 512) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (messages_.size() + bad_.size() < want && std::chrono::steady_clock::now() < deadline) {
      Result<bool> ready = PollIn(link.socket(), milliseconds(100));
      ASSERT_OK(ready.status());
      if (!*ready) continue;
      link.Receive(
          max_per_turn, [] { return true; },
          [this](Message m) { messages_.push_back(std::move(m)); },
          [this](std::string_view reason, const std::string&, std::string_view) {
            bad_.emplace_back(reason);
          });
    }
  }

  zmq::context_t context_;
  FakeClock clock_;
  RateLimiter limiter_{RateLimiter::Options(), &clock_};
  metrics::Counter reconnects_;
  std::vector<Message> messages_;
  std::vector<std::string> bad_;
};

TEST_F(PeerLinkTest, SendsWithItsRoutingIdAndReceivesReplies) {
  FakeRouter router(&context_);
  PeerLink link(Options(router.endpoint()), &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  EXPECT_TRUE(link.Send(EncodeMessage(Message(CreditMsg{5})), MessageType::kCredit));
  auto got = router.Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first, "worker-1");
  ASSERT_OK_AND_ASSIGN(Message sent, DecodeMessage(got->second));
  ASSERT_TRUE(std::holds_alternative<CreditMsg>(sent));
  EXPECT_EQ(std::get<CreditMsg>(sent).credit, 5u);

  clock_.Advance(seconds(1));
  ASSERT_OK(router.SendTo("worker-1", EncodeMessage(Message(BrokerHeartbeatMsg{}))));
  ReceiveUntil(link, 1);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<BrokerHeartbeatMsg>(messages_[0]));
  EXPECT_EQ(link.heard(), clock_.Now());
  EXPECT_TRUE(bad_.empty());
}

TEST_F(PeerLinkTest, BadFramesAreReportedAndStillCountAsHeard) {
  FakeRouter router(&context_);
  PeerLink link(Options(router.endpoint()), &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  // The ROUTER learns the DEALER's id from its first frame.
  ASSERT_TRUE(link.Send(EncodeMessage(Message(ByeMsg{})), MessageType::kBye));
  ASSERT_TRUE(router.Receive().has_value());
  clock_.Advance(seconds(2));
  ASSERT_OK(router.SendTo("worker-1", "not msgpack at all"));
  ASSERT_OK(router.SendTo("worker-1", std::string(1500, 'x')));  // over 1024, under 2048
  ReceiveUntil(link, 2);
  EXPECT_TRUE(messages_.empty());
  ASSERT_EQ(bad_.size(), 2u);
  EXPECT_NE(bad_[0], "too_large");
  EXPECT_EQ(bad_[1], "too_large");
  EXPECT_EQ(link.heard(), clock_.Now());
}

TEST_F(PeerLinkTest, ReceiveIsBoundedAndStopsWhenAsked) {
  FakeRouter router(&context_);
  PeerLink link(Options(router.endpoint()), &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  ASSERT_TRUE(link.Send(EncodeMessage(Message(ByeMsg{})), MessageType::kBye));
  ASSERT_TRUE(router.Receive().has_value());
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(router.SendTo("worker-1", EncodeMessage(Message(BrokerHeartbeatMsg{}))));
  }
  ReceiveUntil(link, 2, /*max_per_turn=*/2);
  EXPECT_EQ(messages_.size(), 2u);  // at most two per turn, though five wait

  // keep_going is asked before each frame: false takes none.
  size_t asked = 0;
  link.Receive(
      512, [&asked] { return ++asked < 1; }, [this](Message m) { messages_.push_back(m); },
      [](std::string_view, const std::string&, std::string_view) {});
  EXPECT_EQ(messages_.size(), 2u);
  EXPECT_EQ(asked, 1u);
  ReceiveUntil(link, 5);
  EXPECT_EQ(messages_.size(), 5u);
}

TEST_F(PeerLinkTest, SilenceCountsFromTheLastFrameOrALaterMark) {
  FakeRouter router(&context_);
  PeerLink link(Options(router.endpoint()), &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  const SteadyTime connected = clock_.Now();
  EXPECT_EQ(link.heard(), connected);
  EXPECT_EQ(link.SilenceDeadline(), connected + seconds(3));
  clock_.Advance(seconds(3));
  EXPECT_FALSE(link.Silent(clock_.Now()));  // silent only beyond the limit
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(link.Silent(clock_.Now()));
  // A later mark (results pending since then) moves the deadline.
  const SteadyTime mark = connected + seconds(2);
  EXPECT_FALSE(link.Silent(clock_.Now(), mark));
  EXPECT_EQ(link.SilenceDeadline(mark), mark + seconds(3));
}

TEST_F(PeerLinkTest, ReconnectCountsAndUsesAFreshSocket) {
  FakeRouter router(&context_);
  PeerLink link(Options(router.endpoint()), &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  EXPECT_EQ(reconnects_.value(), 0);
  clock_.Advance(seconds(10));
  ASSERT_OK(link.Reconnect());
  EXPECT_EQ(reconnects_.value(), 1);
  EXPECT_EQ(link.heard(), clock_.Now());
  ASSERT_TRUE(link.Send(EncodeMessage(Message(CreditMsg{1})), MessageType::kCredit));
  auto got = router.Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first, "worker-1");
  link.Close(0);
}

TEST_F(PeerLinkTest, SpeaksCurveWithTheServerKey) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair server, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair client, GenerateCurveKeyPair());
  FakeRouter router(&context_, CurveServerKeys{server.secret_key});
  PeerLinkOptions o = Options(router.endpoint());
  o.curve = CurveClientKeys{server.public_key, client.public_key, client.secret_key};
  PeerLink link(o, &context_, &clock_, &limiter_);
  ASSERT_OK(link.Connect());
  ASSERT_TRUE(link.Send(EncodeMessage(Message(CreditMsg{3})), MessageType::kCredit));
  auto got = router.Receive();
  ASSERT_TRUE(got.has_value());
  ASSERT_OK(router.SendTo("worker-1", EncodeMessage(Message(AckMsg{}))));
  ReceiveUntil(link, 1);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<AckMsg>(messages_[0]));
}

TEST_F(PeerLinkTest, ConnectRejectsABadEndpoint) {
  PeerLink link(Options("not-an-endpoint"), &context_, &clock_, &limiter_);
  Status s = link.Connect();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("worker.broker"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace btrq::worker
