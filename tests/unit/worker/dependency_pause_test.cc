// The worker's pause while BTrDB is down: one probe at a time, spaced 1 s doubling to
// 5 s, and any answer resumes.

#include "worker/dependency_pause.h"

#include <gtest/gtest.h>

namespace btrq::worker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime() + seconds(100);

TEST(DependencyPauseTest, NotPausedTakesNoProbeAndHasNoProbeTime) {
  DependencyPause pause;
  EXPECT_FALSE(pause.paused());
  EXPECT_FALSE(pause.TakeProbe(kT0));
  EXPECT_FALSE(pause.NextProbe().has_value());
}

TEST(DependencyPauseTest, ProbesAreSpacedByADoublingIntervalUpToItsCap) {
  DependencyPause pause;
  SteadyTime now = kT0;
  pause.Down(now);
  ASSERT_TRUE(pause.paused());
  for (int64_t expected_ms : {1000, 2000, 4000, 5000, 5000}) {
    EXPECT_EQ(pause.NextProbe(), now + milliseconds(expected_ms));
    EXPECT_FALSE(pause.TakeProbe(now + milliseconds(expected_ms - 1)));
    now += milliseconds(expected_ms);
    EXPECT_TRUE(pause.TakeProbe(now));
    EXPECT_FALSE(pause.TakeProbe(now)) << "one probe per interval";
    pause.Down(now);  // the probe came back: still down
  }
}

TEST(DependencyPauseTest, HandBacksWithoutAProbeRestartTheWaitButDoNotLengthenIt) {
  DependencyPause pause;
  pause.Down(kT0);
  pause.Down(kT0 + milliseconds(10));
  pause.Down(kT0 + milliseconds(20));
  EXPECT_EQ(pause.NextProbe(), kT0 + milliseconds(1020));
}

TEST(DependencyPauseTest, AProbeThatNeverReportsIsFollowedByAnotherAnIntervalLater) {
  DependencyPause pause;
  pause.Down(kT0);
  ASSERT_TRUE(pause.TakeProbe(kT0 + seconds(1)));
  EXPECT_EQ(pause.NextProbe(), kT0 + seconds(2));
  EXPECT_TRUE(pause.TakeProbe(kT0 + seconds(2)));
}

TEST(DependencyPauseTest, AnAnswerResumesAndResetsTheInterval) {
  DependencyPause pause;
  pause.Down(kT0);
  pause.Down(kT0);
  pause.Up();
  EXPECT_FALSE(pause.paused());
  EXPECT_FALSE(pause.NextProbe().has_value());
  pause.Down(kT0 + seconds(10));
  EXPECT_EQ(pause.NextProbe(), kT0 + seconds(11));
}

}  // namespace
}  // namespace btrq::worker
