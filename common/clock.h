#pragma once

// Time as a seam: leases, heartbeats and backoff read a Clock, never the system directly,
// so tests drive time with a FakeClock (tests/support/fake_clock.h).

#include <chrono>
#include <cstdint>

namespace btrq {

using Nanos = std::chrono::nanoseconds;
// Monotonic time, for deadlines and intervals.
using SteadyTime = std::chrono::time_point<std::chrono::steady_clock, Nanos>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for leases, heartbeats and backoff.
  virtual SteadyTime Now() const = 0;
  // Wall-clock nanoseconds since the Unix epoch, for timestamps shown to people and
  // for `now` in job specs.
  virtual int64_t WallNanos() const = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override;
  int64_t WallNanos() const override;
  // A process-wide instance, for mains; libraries take a Clock* instead.
  static SystemClock* Default();
};

}  // namespace btrq
