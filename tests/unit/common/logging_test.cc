#include "common/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// A logger writing into a string, as InitLogging's would write to stderr.
class CapturedLogger {
 public:
  CapturedLogger(LogLevel level, LogFormat format, std::string_view component) {
    LogOptions options;
    options.level = level;
    options.format = format;
    logger_ = MakeLogger(options, component,
                         {std::make_shared<spdlog::sinks::ostream_sink_st>(out_)});
  }
  spdlog::logger* get() { return logger_.get(); }
  std::string text() {
    logger_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST(MakeLogger, TextLinesCarryUtcTimeLevelAndComponent) {
  CapturedLogger log(LogLevel::kInfo, LogFormat::kText, "broker");
  log.get()->info("hello {}", 42);
  log.get()->warn("careful");
  log.get()->debug("hidden at info");
  EXPECT_THAT(log.text(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z "
                           "info \\[broker\\] hello 42\n"
                           "[-0-9T:.Z]+ warn \\[broker\\] careful\n"));
}

TEST(MakeLogger, JsonLinesAreOneEscapedObjectPerLine) {
  CapturedLogger log(LogLevel::kDebug, LogFormat::kJson, "sink \"A\"");
  log.get()->debug("line one\nline \"two\"\\ \x01 \xff");
  log.get()->error("second");
  log.get()->trace("hidden at debug");
  EXPECT_THAT(
      log.text(),
      MatchesRegex("\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z\","
                   "\"level\":\"debug\",\"component\":\"sink \\\\\"A\\\\\"\","
                   "\"msg\":\"line one\\\\nline \\\\\"two\\\\\"\\\\\\\\ \\\\u0001 \\\\ufffd\"\\}\n"
                   "\\{\"ts\":\"[^\"]+\",\"level\":\"error\",\"component\":\"sink \\\\\"A\\\\\"\","
                   "\"msg\":\"second\"\\}\n"));
}

TEST(InitLogging, InstallsTheDefaultLoggerNamedAfterTheComponent) {
  const auto previous = spdlog::default_logger();
  LogOptions options;
  options.level = LogLevel::kWarn;
  ASSERT_OK(InitLogging(options, "worker"));
  EXPECT_EQ(spdlog::default_logger()->name(), "worker");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  ASSERT_OK(InitLogging(LogOptions(), "worker"));  // again, e.g. after reloading config
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
  EXPECT_EQ(InitLogging(options, "").code(), StatusCode::kInvalidArgument);
  spdlog::set_default_logger(previous);
}

TEST(RedactSecret, HidesValuesButShowsAbsence) {
  EXPECT_EQ(RedactSecret(""), "");
  EXPECT_EQ(RedactSecret("hunter2"), "<redacted>");
}

class RateLimiterTest : public ::testing::Test {
 protected:
  RateLimiter::Options Options(uint32_t n, size_t max_keys = 16) {
    RateLimiter::Options o;
    o.max_per_interval = n;
    o.interval = std::chrono::seconds(10);
    o.max_keys = max_keys;
    return o;
  }
  testing::FakeClock clock_;
};

TEST_F(RateLimiterTest, AllowsNPerIntervalThenReportsWhatWasSuppressed) {
  RateLimiter limiter(Options(2), &clock_);
  EXPECT_TRUE(limiter.Allow("peer-a").allowed);
  EXPECT_TRUE(limiter.Allow("peer-a").allowed);
  EXPECT_FALSE(limiter.Allow("peer-a").allowed);
  EXPECT_FALSE(limiter.Allow("peer-a").allowed);
  EXPECT_FALSE(limiter.Allow("peer-a").allowed);
  EXPECT_EQ(limiter.total_suppressed(), 3u);

  clock_.Advance(std::chrono::seconds(9));
  EXPECT_FALSE(limiter.Allow("peer-a").allowed);
  clock_.Advance(std::chrono::seconds(1));
  const RateLimiter::Decision d = limiter.Allow("peer-a");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.suppressed, 4u);
  EXPECT_EQ(limiter.Allow("peer-a").suppressed, 0u);
}

TEST_F(RateLimiterTest, KeysAreIndependent) {
  RateLimiter limiter(Options(1), &clock_);
  EXPECT_TRUE(limiter.Allow("a").allowed);
  EXPECT_FALSE(limiter.Allow("a").allowed);
  EXPECT_TRUE(limiter.Allow("b").allowed);
  EXPECT_FALSE(limiter.Allow("b").allowed);
}

TEST_F(RateLimiterTest, DistinctKeysBeyondTheCapShareOneBucket) {
  RateLimiter limiter(Options(1, /*max_keys=*/2), &clock_);
  EXPECT_TRUE(limiter.Allow("k1").allowed);
  EXPECT_TRUE(limiter.Allow("k2").allowed);
  EXPECT_TRUE(limiter.Allow("k3").allowed);   // first in the overflow bucket
  EXPECT_FALSE(limiter.Allow("k4").allowed);  // the overflow bucket is spent
  EXPECT_FALSE(limiter.Allow("k5").allowed);
  // Once windows end, expired keys make room again.
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(limiter.Allow("k6").allowed);
  EXPECT_TRUE(limiter.Allow("k7").allowed);
}

TEST_F(RateLimiterTest, LogRateLimitedAppendsTheSuppressedCount) {
  CapturedLogger log(LogLevel::kInfo, LogFormat::kText, "broker");
  RateLimiter limiter(Options(1), &clock_);
  for (int i = 0; i < 4; ++i) {
    LogRateLimited(log.get(), &limiter, "peer-7", spdlog::level::warn, "bad frame #{} from {}", i,
                   "peer-7");
  }
  clock_.Advance(std::chrono::seconds(10));
  LogRateLimited(log.get(), &limiter, "peer-7", spdlog::level::warn, "bad frame #{} from {}", 4,
                 "peer-7");
  // Below the logger's level nothing is counted.
  LogRateLimited(log.get(), &limiter, "peer-8", spdlog::level::debug, "quiet");
  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr("warn [broker] bad frame #0 from peer-7\n"));
  EXPECT_THAT(text, Not(HasSubstr("#1")));
  EXPECT_THAT(text, HasSubstr("bad frame #4 from peer-7 (3 similar messages suppressed)\n"));
  EXPECT_THAT(text, Not(HasSubstr("quiet")));
  EXPECT_EQ(limiter.total_suppressed(), 3u);
}

}  // namespace
}  // namespace btrq
