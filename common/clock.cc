#include "common/clock.h"

namespace btrq {

SteadyTime SystemClock::Now() const {
  return std::chrono::time_point_cast<Nanos>(std::chrono::steady_clock::now());
}

int64_t SystemClock::WallNanos() const {
  return std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace btrq
