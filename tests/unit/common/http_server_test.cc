#include "common/http_server.h"

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
