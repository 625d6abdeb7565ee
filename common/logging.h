#pragma once

// Logging through spdlog: one logger per process named after the component, writing to
// stderr as text or JSON lines. Components log with spdlog::info(...) etc. after
// InitLogging(); lines a peer can trigger go through a RateLimiter.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/options.h"
#include "common/status.h"

namespace btrq {

// A logger named `component` writing to `sinks` at `options.level`:
//   text: "2024-01-02T03:04:05.123456Z info [broker] message"
//   json: {"ts":"2024-01-02T03:04:05.123456Z","level":"info","component":"broker","msg":"..."}
// Timestamps are UTC. Not registered with spdlog.
std::shared_ptr<spdlog::logger> MakeLogger(const LogOptions& options, std::string_view component,
                                           std::vector<spdlog::sink_ptr> sinks);

// Replaces spdlog's default logger with MakeLogger(options, component, {stderr}).
// Fails (kInvalidArgument) for an empty component name.
Status InitLogging(const LogOptions& options, std::string_view component);

// What a secret looks like in logs and printed config: "" stays "" (so "not set" is
// visible), anything else becomes "<redacted>".
std::string RedactSecret(std::string_view secret);

// Lets through at most `max_per_interval` messages per key in each interval (a fixed
// window that starts at a key's first message) and counts the rest, so a misbehaving peer
// cannot flood the log. Keys are capped at `max_keys`: once full, expired keys are dropped
// and new keys share one overflow bucket, so memory stays bounded. Thread-safe.
class RateLimiter {
 public:
  struct Options {
    uint32_t max_per_interval = 5;
    Nanos interval = std::chrono::seconds(10);
    size_t max_keys = 1024;
  };
  struct Decision {
    bool allowed = false;
    // When allowed: messages suppressed for this key since its last allowed one.
    uint64_t suppressed = 0;
  };

  // `clock` must outlive the limiter.
  RateLimiter(const Options& options, const Clock* clock);

  Decision Allow(std::string_view key) BTRQ_EXCLUDES(mu_);
  // Messages suppressed since construction, over all keys.
  uint64_t total_suppressed() const BTRQ_EXCLUDES(mu_);

 private:
  struct Bucket {
    SteadyTime window_start;
    uint32_t count = 0;
    uint64_t suppressed = 0;
  };

  const Options options_;
  const Clock* const clock_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ BTRQ_GUARDED_BY(mu_);
  Bucket overflow_ BTRQ_GUARDED_BY(mu_);
  uint64_t total_suppressed_ BTRQ_GUARDED_BY(mu_) = 0;
};

// Logs fmt-formatted text through `logger` when `limiter` allows `key`, appending
// " (N similar messages suppressed)" when some were. Formats nothing when suppressed.
template <typename... Args>
void LogRateLimited(spdlog::logger* logger, RateLimiter* limiter, std::string_view key,
                    spdlog::level::level_enum level, spdlog::format_string_t<Args...> format,
                    Args&&... args) {
  if (!logger->should_log(level)) return;
  const RateLimiter::Decision d = limiter->Allow(key);
  if (!d.allowed) return;
  std::string text = fmt::format(format, std::forward<Args>(args)...);
  if (d.suppressed > 0) {
    text += " (" + std::to_string(d.suppressed) + " similar messages suppressed)";
  }
  logger->log(level, "{}", text);
}

}  // namespace btrq
