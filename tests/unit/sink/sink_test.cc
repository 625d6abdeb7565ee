// What Sink::Create checks and reports, without serving: each sink here is created and
// destroyed without Run (no worker traffic; tests/integration/sink has that).

#include "sink/sink.h"

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::sink {
namespace {

using ::testing::Not;
using ::testing::StartsWith;

class SinkCreateTest : public ::testing::Test {
 protected:
  SinkCreateTest() {
    options_.listen = "tcp://127.0.0.1:0";
    options_.control_listen = "127.0.0.1:0";
    options_.http_listen = "";
    options_.data_dir = dir_.File("sink");
  }

  testing::TempDir dir_;
  SinkOptions options_;
};

TEST_F(SinkCreateTest, ReportsTheBoundEndpoints) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Sink> sink, Sink::Create(options_, SystemClock::Default()));
  EXPECT_THAT(sink->results_endpoint(), StartsWith("tcp://127.0.0.1:"));
  EXPECT_THAT(sink->results_endpoint(), Not(::testing::EndsWith(":0")));
  EXPECT_THAT(sink->control_endpoint(), StartsWith("127.0.0.1:"));
  EXPECT_THAT(sink->control_endpoint(), Not(::testing::EndsWith(":0")));
  EXPECT_EQ(sink->http_endpoint(), "");
}

TEST_F(SinkCreateTest, AnEmptyBatchIsInvalid) {
  options_.commit_max_batch = 0;
  Result<std::unique_ptr<Sink>> sink = Sink::Create(options_, SystemClock::Default());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink.status().message(), "sink.commit_max_batch must be positive");
}

TEST_F(SinkCreateTest, ANonPositiveMessageLimitIsInvalid) {
  options_.max_message_bytes = 0;
  Result<std::unique_ptr<Sink>> sink = Sink::Create(options_, SystemClock::Default());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().message(), "sink.max_message_bytes must be positive");
}

TEST_F(SinkCreateTest, AnUnreadableTlsFileNamesItsConfigKey) {
  options_.tls_cert = dir_.File("missing-cert.pem");
  options_.tls_key = dir_.File("missing-key.pem");
  Result<std::unique_ptr<Sink>> sink = Sink::Create(options_, SystemClock::Default());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink.status().message(), "sink.tls_cert: cannot read " + options_.tls_cert);
}

TEST_F(SinkCreateTest, AControlAddressOfAnotherHostCannotBeListenedOn) {
  options_.control_listen = "192.0.2.1:0";
  options_.insecure = true;  // past the gate for an open listener, to the bind itself
  Result<std::unique_ptr<Sink>> sink = Sink::Create(options_, SystemClock::Default());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(sink.status().message(), "cannot listen on sink.control_listen 192.0.2.1:0");
}

// Issue #14: beyond loopback without a token, the sink does not start at all.
TEST_F(SinkCreateTest, AControlAddressBeyondLoopbackNeedsATokenOrInsecure) {
  options_.control_listen = "0.0.0.0:0";
  Result<std::unique_ptr<Sink>> sink = Sink::Create(options_, SystemClock::Default());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(sink.status().message(), ::testing::HasSubstr("sink.control_token"));
}

TEST(ResultStorePathTest, IsResultsDbInTheDataDir) {
  EXPECT_EQ(ResultStorePath("var/sink"), "var/sink/results.db");
}

}  // namespace
}  // namespace btrq::sink
