#include "common/logging.h"

#include <chrono>
#include <cstdio>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/json_writer.h"
#include "common/time_util.h"

namespace btrq {
namespace {

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Our level names, the same words the config accepts.
std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

void Append(spdlog::memory_buf_t* dest, std::string_view s) {
  dest->append(s.data(), s.data() + s.size());
}

int64_t ToNanos(spdlog::log_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Fixed-width microseconds keeps columns aligned in text logs.
constexpr int kTimestampDigits = 6;

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(&dest, FormatTimestamp(ToNanos(msg.time), kTimestampDigits));
    Append(&dest, " ");
    Append(&dest, LevelName(msg.level));
    Append(&dest, " [");
    Append(&dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    Append(&dest, "] ");
    Append(&dest, std::string_view(msg.payload.data(), msg.payload.size()));
    Append(&dest, "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(&dest, "{\"ts\":\"");
    Append(&dest, FormatTimestamp(ToNanos(msg.time), kTimestampDigits));
    Append(&dest, "\",\"level\":\"");
    Append(&dest, LevelName(msg.level));
    Append(&dest, "\",\"component\":\"");
    Append(&dest, JsonEscape(std::string_view(msg.logger_name.data(), msg.logger_name.size())));
    Append(&dest, "\",\"msg\":\"");
    Append(&dest, JsonEscape(std::string_view(msg.payload.data(), msg.payload.size())));
    Append(&dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::shared_ptr<spdlog::logger> MakeLogger(const LogOptions& options, std::string_view component,
                                           std::vector<spdlog::sink_ptr> sinks) {
  auto logger =
      std::make_shared<spdlog::logger>(std::string(component), sinks.begin(), sinks.end());
  if (options.format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  logger->set_level(ToSpdlog(options.level));
  logger->flush_on(spdlog::level::warn);
  return logger;
}

Status InitLogging(const LogOptions& options, std::string_view component) {
  if (component.empty()) return Status::InvalidArgument("InitLogging: empty component name");
  try {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    spdlog::set_default_logger(MakeLogger(options, component, {sink}));
  } catch (const spdlog::spdlog_ex& e) {
    return Status::Internal(std::string("InitLogging: ") + e.what());
  }
  return Status::OK();
}

std::string RedactSecret(std::string_view secret) {
  return secret.empty() ? std::string() : std::string("<redacted>");
}

RateLimiter::RateLimiter(const Options& options, const Clock* clock)
    : options_(options), clock_(clock) {}

RateLimiter::Decision RateLimiter::Allow(std::string_view key) {
  const SteadyTime now = clock_->Now();
  MutexLock lock(&mu_);
  Bucket* bucket = nullptr;
  auto it = buckets_.find(std::string(key));
  if (it != buckets_.end()) {
    bucket = &it->second;
  } else {
    if (buckets_.size() >= options_.max_keys) {
      // Forget keys whose window ended; their pending counts stay in total_suppressed_.
      for (auto e = buckets_.begin(); e != buckets_.end();) {
        e = now - e->second.window_start >= options_.interval ? buckets_.erase(e) : std::next(e);
      }
    }
    if (buckets_.size() < options_.max_keys) {
      bucket = &buckets_.emplace(std::string(key), Bucket{now, 0, 0}).first->second;
    } else {
      bucket = &overflow_;
    }
  }
  if (bucket->count > 0 && now - bucket->window_start >= options_.interval) {
    bucket->window_start = now;
    bucket->count = 0;
  }
  if (bucket->count == 0) bucket->window_start = now;
  Decision d;
  if (bucket->count < options_.max_per_interval) {
    ++bucket->count;
    d.allowed = true;
    d.suppressed = bucket->suppressed;
    bucket->suppressed = 0;
  } else {
    ++bucket->suppressed;
    ++total_suppressed_;
  }
  return d;
}

uint64_t RateLimiter::total_suppressed() const {
  MutexLock lock(&mu_);
  return total_suppressed_;
}

}  // namespace btrq
