#include "common/zmq_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;
using std::chrono::milliseconds;
constexpr milliseconds kDeadline(5000);

std::string Text(const zmq::message_t& m) { return m.to_string(); }

// Receives one message within `timeout`, or fails the test.
std::vector<std::string> RecvWithin(zmq::socket_t& s, milliseconds timeout = kDeadline) {
  std::vector<std::string> out;
  Result<bool> ready = PollIn(s, timeout);
  EXPECT_OK(ready);
  if (!ready.ok() || !*ready) {
    ADD_FAILURE() << "no message within " << timeout.count() << " ms";
    return out;
  }
  std::vector<zmq::message_t> frames;
  Result<bool> got = RecvMultipart(s, 16, &frames);
  EXPECT_OK(got);
  for (const auto& f : frames) out.push_back(Text(f));
  return out;
}

Status Send(zmq::socket_t& s, std::vector<std::string_view> frames) {
  return SendMultipart(s, frames, /*dont_wait=*/false);
}

// ROUTER and DEALER exchange a request and a reply over `endpoint`.
void RoundTrip(zmq::context_t& ctx, const std::string& endpoint, SocketOptions server_options,
               SocketOptions client_options) {
  ASSERT_OK_AND_ASSIGN(zmq::socket_t router,
                       MakeSocket(ctx, zmq::socket_type::router, server_options));
  ASSERT_OK_AND_ASSIGN(std::string bound, Bind(router, endpoint));
  client_options.routing_id = "worker-1";
  ASSERT_OK_AND_ASSIGN(zmq::socket_t dealer,
                       MakeSocket(ctx, zmq::socket_type::dealer, client_options));
  ASSERT_OK(Connect(dealer, bound));

  ASSERT_OK(Send(dealer, {"hello", "world"}));
  EXPECT_EQ(RecvWithin(router), (std::vector<std::string>{"worker-1", "hello", "world"}));
  ASSERT_OK(Send(router, {"worker-1", "reply"}));
  EXPECT_EQ(RecvWithin(dealer), (std::vector<std::string>{"reply"}));
}

TEST(ZmqUtil, RouterDealerOverInproc) {
  zmq::context_t ctx;
  RoundTrip(ctx, "inproc://zmq-util-test", {}, {});
}

TEST(ZmqUtil, RouterDealerOverTcpOnAFreePort) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t probe, MakeSocket(ctx, zmq::socket_type::router, {}));
  ASSERT_OK_AND_ASSIGN(std::string bound, Bind(probe, "tcp://127.0.0.1:*"));
  EXPECT_EQ(bound.rfind("tcp://127.0.0.1:", 0), 0u) << bound;
  EXPECT_NE(bound, "tcp://127.0.0.1:*");
  RoundTrip(ctx, "tcp://127.0.0.1:*", {}, {});
}

TEST(ZmqUtil, BindListenTakesPortZeroAsAnyFreePort) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t router, MakeSocket(ctx, zmq::socket_type::router, {}));
  ASSERT_OK_AND_ASSIGN(std::string bound, BindListen(router, "tcp://127.0.0.1:0"));
  EXPECT_EQ(bound.rfind("tcp://127.0.0.1:", 0), 0u) << bound;
  EXPECT_NE(bound, "tcp://127.0.0.1:0");
  EXPECT_GT(std::stoi(bound.substr(bound.rfind(':') + 1)), 0);
  // Other addresses pass through as Bind() takes them.
  ASSERT_OK_AND_ASSIGN(zmq::socket_t other, MakeSocket(ctx, zmq::socket_type::router, {}));
  EXPECT_EQ(BindListen(other, "inproc://bind-listen").value_or(""), "inproc://bind-listen");
}

TEST(ZmqUtil, CurveRoundTripWithGeneratedKeys) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(CurveKeyPair server, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair client, GenerateCurveKeyPair());
  SocketOptions server_options;
  server_options.curve_server = CurveServerKeys{server.secret_key};
  SocketOptions client_options;
  client_options.curve_client = CurveClientKeys{server.public_key, client.public_key,
                                                client.secret_key};
  RoundTrip(ctx, "tcp://127.0.0.1:*", server_options, client_options);
}

TEST(ZmqUtil, CurveClientWithTheWrongServerKeyGetsNothingThrough) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(CurveKeyPair server, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair impostor, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair client, GenerateCurveKeyPair());
  SocketOptions server_options;
  server_options.curve_server = CurveServerKeys{server.secret_key};
  ASSERT_OK_AND_ASSIGN(zmq::socket_t router,
                       MakeSocket(ctx, zmq::socket_type::router, server_options));
  ASSERT_OK_AND_ASSIGN(std::string bound, Bind(router, "tcp://127.0.0.1:*"));
  SocketOptions client_options;
  client_options.curve_client = CurveClientKeys{impostor.public_key, client.public_key,
                                                client.secret_key};
  ASSERT_OK_AND_ASSIGN(zmq::socket_t dealer,
                       MakeSocket(ctx, zmq::socket_type::dealer, client_options));
  ASSERT_OK(Connect(dealer, bound));
  ASSERT_OK(Send(dealer, {"secret"}));
  // The handshake fails, so the message can never arrive; a short window shows it.
  ASSERT_OK_AND_ASSIGN(bool ready, PollIn(router, milliseconds(300)));
  EXPECT_FALSE(ready);
}

// Waits for `event` on a socket monitor (zmq_socket_monitor over inproc PAIR).
bool WaitForMonitorEvent(zmq::socket_t& monitor, uint16_t event) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<std::string> frames = RecvWithin(monitor);
    if (frames.size() != 2 || frames[0].size() < 2) return false;
    uint16_t got;
    std::memcpy(&got, frames[0].data(), sizeof(got));
    if (got == event) return true;
  }
  return false;
}

TEST(ZmqUtil, MaxMsgSizeDropsTheOversizedPeerAndLaterConnectionsWork) {
  zmq::context_t ctx;
  SocketOptions server_options;
  server_options.max_msg_size = 1024;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t router,
                       MakeSocket(ctx, zmq::socket_type::router, server_options));
  ASSERT_EQ(zmq_socket_monitor(router.handle(), "inproc://router-monitor",
                               ZMQ_EVENT_DISCONNECTED),
            0);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.connect("inproc://router-monitor");
  ASSERT_OK_AND_ASSIGN(std::string bound, Bind(router, "tcp://127.0.0.1:*"));

  SocketOptions big_options;
  big_options.routing_id = "big";
  big_options.reconnect_ivl_ms = 10;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t big, MakeSocket(ctx, zmq::socket_type::dealer, big_options));
  ASSERT_OK(Connect(big, bound));
  const std::string oversized(4096, 'x');
  ASSERT_OK(Send(big, {oversized}));
  ASSERT_TRUE(WaitForMonitorEvent(monitor, ZMQ_EVENT_DISCONNECTED));

  // The same peer, reconnected, and a new one both get through; the oversized message
  // never does.
  SocketOptions small_options;
  small_options.routing_id = "small";
  ASSERT_OK_AND_ASSIGN(zmq::socket_t small,
                       MakeSocket(ctx, zmq::socket_type::dealer, small_options));
  ASSERT_OK(Connect(small, bound));
  ASSERT_OK(Send(small, {"ok"}));
  ASSERT_OK(Send(big, {"after"}));
  std::vector<std::vector<std::string>> got = {RecvWithin(router), RecvWithin(router)};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::vector<std::string>>{{"big", "after"}, {"small", "ok"}}));
  zmq_socket_monitor(router.handle(), nullptr, 0);
}

TEST(ZmqUtil, RecvMultipartRejectsTooManyFramesAndStaysInSync) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t a, MakeSocket(ctx, zmq::socket_type::pair, {}));
  ASSERT_OK_AND_ASSIGN(zmq::socket_t b, MakeSocket(ctx, zmq::socket_type::pair, {}));
  ASSERT_OK(Bind(a, "inproc://frames"));
  ASSERT_OK(Connect(b, "inproc://frames"));
  ASSERT_OK(Send(b, {"1", "2", "3", "4", "5"}));
  ASSERT_OK(Send(b, {"next"}));
  ASSERT_OK_AND_ASSIGN(bool ready, PollIn(a, kDeadline));
  ASSERT_TRUE(ready);
  std::vector<zmq::message_t> frames;
  Result<bool> r = RecvMultipart(a, 4, &frames);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidMessage));
  EXPECT_TRUE(frames.empty());
  ASSERT_OK_AND_ASSIGN(bool got, RecvMultipart(a, 4, &frames));
  ASSERT_TRUE(got);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(Text(frames[0]), "next");
  ASSERT_OK_AND_ASSIGN(bool none, RecvMultipart(a, 4, &frames));
  EXPECT_FALSE(none);
}

TEST(ZmqUtil, RouterMandatoryReportsUnknownPeers) {
  zmq::context_t ctx;
  SocketOptions o;
  o.router_mandatory = true;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t router, MakeSocket(ctx, zmq::socket_type::router, o));
  ASSERT_OK(Bind(router, "inproc://mandatory"));
  Status s = SendMultipart(router, std::vector<std::string_view>{"nobody", "x"});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST(ZmqUtil, PollerWakesOnTheEventFd) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t s, MakeSocket(ctx, zmq::socket_type::pair, {}));
  ASSERT_OK(Bind(s, "inproc://poller"));
  ASSERT_OK_AND_ASSIGN(WakeupFd wake, WakeupFd::Create());
  Poller poller;
  const size_t socket_index = poller.AddSocket(s);
  const size_t wake_index = poller.AddFd(wake.fd());
  ASSERT_OK_AND_ASSIGN(int idle, poller.Poll(milliseconds(0)));
  EXPECT_EQ(idle, 0);
  wake.Notify();
  ASSERT_OK_AND_ASSIGN(int n, poller.Poll(kDeadline));
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(poller.Readable(wake_index));
  EXPECT_FALSE(poller.Readable(socket_index));
  wake.Drain();
  ASSERT_OK_AND_ASSIGN(int after, poller.Poll(milliseconds(0)));
  EXPECT_EQ(after, 0);
}

TEST(ZmqUtil, ErrorsAreStatusesNotExceptions) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(zmq::socket_t s, MakeSocket(ctx, zmq::socket_type::router, {}));
  EXPECT_FALSE(Bind(s, "nope://x").ok());
  EXPECT_FALSE(Bind(s, "tcp://300.0.0.1:1").ok());
  EXPECT_FALSE(Connect(s, "tcp://").ok());
  ASSERT_OK(Bind(s, "inproc://taken"));
  ASSERT_OK_AND_ASSIGN(zmq::socket_t t, MakeSocket(ctx, zmq::socket_type::router, {}));
  EXPECT_FALSE(Bind(t, "inproc://taken").ok());

  SocketOptions bad_key;
  bad_key.curve_server = CurveServerKeys{"short"};
  Result<zmq::socket_t> r = MakeSocket(ctx, zmq::socket_type::router, bad_key);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ZmqUtil, Z85AndCurveKeys) {
  const std::string raw("\x86\x4f\xd2\x6f\xb5\x59\xf7\x5b", 8);
  ASSERT_OK_AND_ASSIGN(std::string text, Z85Encode(raw));
  EXPECT_EQ(text, "HelloWorld");  // the Z85 specification's example
  ASSERT_OK_AND_ASSIGN(std::string back, Z85Decode(text));
  EXPECT_EQ(back, raw);
  EXPECT_FALSE(Z85Encode("abc").ok());
  EXPECT_FALSE(Z85Decode("abcd").ok());

  ASSERT_OK_AND_ASSIGN(CurveKeyPair pair, GenerateCurveKeyPair());
  EXPECT_EQ(pair.public_key.size(), 40u);
  EXPECT_EQ(pair.secret_key.size(), 40u);
  ASSERT_OK_AND_ASSIGN(std::string derived, CurvePublicKey(pair.secret_key));
  EXPECT_EQ(derived, pair.public_key);
  EXPECT_FALSE(CurvePublicKey("too short").ok());
}

}  // namespace
}  // namespace btrq
