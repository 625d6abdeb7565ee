#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;

TEST(SplitHostPortTest, SplitsHostAndPort) {
  ASSERT_OK_AND_ASSIGN(auto v4, SplitHostPort("127.0.0.1:8080"));
  EXPECT_EQ(v4.first, "127.0.0.1");
  EXPECT_EQ(v4.second, 8080);
  ASSERT_OK_AND_ASSIGN(auto v6, SplitHostPort("[::1]:0"));
  EXPECT_EQ(v6.first, "::1");
  EXPECT_EQ(v6.second, 0);
}

TEST(SplitHostPortTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "localhost", ":80", "host:", "host:8a", "host:65536", "host:-1"}) {
    EXPECT_EQ(SplitHostPort(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServer::Options MakeOptions(std::string listen) {
    return {std::move(listen), "test.http_listen", [] { return std::string("m 1\n"); },
            &ready_};
  }
  std::atomic<bool> ready_{false};
};

TEST_F(HttpServerTest, AnEmptyListenAddressLeavesHttpOff) {
  HttpServer server;
  ASSERT_OK(server.Start(MakeOptions("")));
  EXPECT_EQ(server.endpoint(), "");
  server.Stop();
}

TEST_F(HttpServerTest, ServesMetricsLivenessAndReadiness) {
  HttpServer server;
  server.routes().Get("/extra", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("extra\n", "text/plain");
  });
  ASSERT_OK(server.Start(MakeOptions("127.0.0.1:0")));
  ASSERT_THAT(server.endpoint(), HasSubstr("127.0.0.1:"));
  EXPECT_NE(server.endpoint(), "127.0.0.1:0");

  httplib::Client client("http://" + server.endpoint());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body, "m 1\n");
  EXPECT_EQ(metrics->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  for (const char* path : {"/livez", "/healthz"}) {
    auto live = client.Get(path);
    ASSERT_TRUE(live) << path;
    EXPECT_EQ(live->status, 200) << path;
    EXPECT_EQ(live->body, "ok\n") << path;
  }
  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(not_ready->body, "not ready\n");
  ready_ = true;
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
  auto extra = client.Get("/extra");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->body, "extra\n");

  server.Stop();
  server.Stop();  // idempotent
  EXPECT_FALSE(client.Get("/livez"));
}

// Sends `request` on a fresh connection to `endpoint` and reads until the server closes
// it or 5 s pass; returns what arrived.
std::string RawExchange(const std::string& endpoint, const std::string& request) {
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got;
}

TEST_F(HttpServerTest, RequestBodiesAreRefusedWith413BeforeTheyAreRead) {
  HttpServer server;
  ASSERT_OK(server.Start(MakeOptions("127.0.0.1:0")));
  // A 1 GiB POST announced, 16 bytes sent: answered from the headers, connection closed.
  const std::string big = RawExchange(
      server.endpoint(),
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n0123456789abcdef");
  EXPECT_THAT(big, HasSubstr("HTTP/1.1 413"));
  const std::string chunked = RawExchange(
      server.endpoint(),
      "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n");
  EXPECT_THAT(chunked, HasSubstr("HTTP/1.1 413"));
  const std::string garbage = RawExchange(
      server.endpoint(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 9x\r\n\r\n");
  EXPECT_THAT(garbage, ::testing::Not(HasSubstr("HTTP/1.1 200")));
  // Requests without a body are served as before.
  httplib::Client client("http://" + server.endpoint());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  server.Stop();
}

TEST_F(HttpServerTest, AnAddressItCannotBindIsUnavailableAndNamesTheConfigKey) {
  HttpServer server;
  // 192.0.2.1 (TEST-NET-1) is no address of this host, so bind() fails.
  const Status status = server.Start(MakeOptions("192.0.2.1:0"));
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("cannot listen on test.http_listen 192.0.2.1:0"));
  EXPECT_EQ(server.endpoint(), "");
}

TEST_F(HttpServerTest, AMalformedListenAddressIsInvalid) {
  HttpServer server;
  EXPECT_EQ(server.Start(MakeOptions("nope")).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace btrq
