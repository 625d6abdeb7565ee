#pragma once

#include <atomic>

#include "common/clock.h"

namespace btrq::testing {

// A Clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_start_ns = 1'700'000'000'000'000'000LL)
      : steady_ns_(1'000'000'000LL), wall_ns_(wall_start_ns) {}
  SteadyTime Now() const override { return SteadyTime(Nanos(steady_ns_.load())); }
  int64_t WallNanos() const override { return wall_ns_.load(); }
  void Advance(Nanos d) {
    steady_ns_ += d.count();
    wall_ns_ += d.count();
  }

 private:
  std::atomic<int64_t> steady_ns_;
  std::atomic<int64_t> wall_ns_;
};

}  // namespace btrq::testing
