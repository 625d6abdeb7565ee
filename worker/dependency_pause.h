#pragma once

// Whether a worker takes tasks while BTrDB cannot be reached. A task handed back as "not
// attempted: dependency down" pauses the worker; while paused it takes one task at a time
// as a probe, at most one per probe interval (1 s, doubling to 5 s: the cap of a BTrDB
// connection's reconnect backoff, so a probe at the cap always really connects); any
// other outcome (BTrDB answered, or the task needed no BTrDB) resumes it. A pure state
// machine over the times its caller passes; not thread-safe.

#include <cstdint>
#include <optional>

#include "common/clock.h"

namespace btrq::worker {

struct PauseOptions {
  int64_t probe_initial = 1'000'000'000;  // ns between the outage and the first probe
  int64_t probe_max = 5'000'000'000;      // cap of the doubling
};

class DependencyPause {
 public:
  explicit DependencyPause(const PauseOptions& options = PauseOptions()) : options_(options) {}

  // A task came back not attempted at `now`: paused; the next probe waits the current
  // interval, doubled first when a probe was taken since the last Down.
  void Down(SteadyTime now);
  // The dependency answered: resumed, interval reset.
  void Up();
  bool paused() const { return paused_; }
  // While paused: true when a probe task may be taken now (the caller then takes one
  // task, and asks again only once it has none); the next probe is then an interval
  // away, in case this one never reports (cancelled). Always false when not paused.
  bool TakeProbe(SteadyTime now);
  // When TakeProbe turns true; nullopt when not paused.
  std::optional<SteadyTime> NextProbe() const;

 private:
  const PauseOptions options_;
  bool paused_ = false;
  bool probe_out_ = false;  // a probe was taken since the last Down
  int64_t interval_ = 0;    // ns; 0 when not paused
  SteadyTime next_probe_{};
};

}  // namespace btrq::worker
