#include "worker/dependency_pause.h"

#include <algorithm>

namespace btrq::worker {

void DependencyPause::Down(SteadyTime now) {
  if (!paused_) {
    interval_ = options_.probe_initial;
  } else if (probe_out_) {
    // A failed probe lengthens the wait; the other tasks handed back as the outage
    // began only restart it.
    interval_ = std::min(interval_ * 2, options_.probe_max);
  }
  paused_ = true;
  probe_out_ = false;
  next_probe_ = now + Nanos(interval_);
}

void DependencyPause::Up() {
  paused_ = false;
  probe_out_ = false;
  interval_ = 0;
}

bool DependencyPause::TakeProbe(SteadyTime now) {
  if (!paused_ || now < next_probe_) return false;
  next_probe_ = now + Nanos(interval_);
  probe_out_ = true;
  return true;
}

std::optional<SteadyTime> DependencyPause::NextProbe() const {
  if (!paused_) return std::nullopt;
  return next_probe_;
}

}  // namespace btrq::worker
