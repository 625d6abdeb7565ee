#include "broker/dashboard/history.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace btrq::dashboard {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

StatsView Stats(uint64_t queue_depth, double tasks_per_second = 0) {
  StatsView s;
  s.queue_depth = queue_depth;
  s.in_flight = queue_depth / 2;
  s.workers = 3;
  s.tasks_per_second = tasks_per_second;
  s.points_per_second = tasks_per_second * 1000;
  return s;
}

TEST(DashboardHistory, KeepsSamplesOldestFirstWithTheirFigures) {
  testing::FakeClock clock;
  DashboardHistory history;
  EXPECT_TRUE(history.Sample(clock.Now(), clock.WallNanos(), Stats(10, 1.5)));
  clock.Advance(seconds(1));
  EXPECT_TRUE(history.Sample(clock.Now(), clock.WallNanos(), Stats(20, 2.5)));

  const std::vector<HistorySample> samples = history.Samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].queue_depth, 10u);
  EXPECT_EQ(samples[0].in_flight, 5u);
  EXPECT_EQ(samples[0].workers, 3u);
  EXPECT_EQ(samples[0].tasks_per_second, 1.5);
  EXPECT_EQ(samples[0].points_per_second, 1500);
  EXPECT_EQ(samples[1].queue_depth, 20u);
  EXPECT_EQ(samples[1].wall_ns - samples[0].wall_ns, 1'000'000'000);
}

TEST(DashboardHistory, DropsSamplesCloserThanTheMinimumInterval) {
  testing::FakeClock clock;
  DashboardHistory history;  // min_interval 900 ms
  EXPECT_TRUE(history.Sample(clock.Now(), clock.WallNanos(), Stats(1)));
  clock.Advance(milliseconds(500));
  EXPECT_FALSE(history.Sample(clock.Now(), clock.WallNanos(), Stats(2)));
  clock.Advance(milliseconds(399));
  EXPECT_FALSE(history.Sample(clock.Now(), clock.WallNanos(), Stats(3)));
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(history.Sample(clock.Now(), clock.WallNanos(), Stats(4)));

  const std::vector<HistorySample> samples = history.Samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].queue_depth, 4u);
}

TEST(DashboardHistory, TimeGoingBackwardsIsIgnored) {
  testing::FakeClock clock;
  DashboardHistory history;
  const SteadyTime later = clock.Now() + seconds(5);
  EXPECT_TRUE(history.Sample(later, clock.WallNanos(), Stats(1)));
  EXPECT_FALSE(history.Sample(clock.Now(), clock.WallNanos(), Stats(2)));
  EXPECT_EQ(history.Samples().size(), 1u);
}

TEST(DashboardHistory, ForgetsSamplesOlderThanTheWindow) {
  testing::FakeClock clock;
  DashboardHistory history;  // 10 minutes
  for (int i = 0; i < 900; ++i) {  // 15 minutes, one a second
    ASSERT_TRUE(history.Sample(clock.Now(), clock.WallNanos(), Stats(static_cast<uint64_t>(i))));
    clock.Advance(seconds(1));
  }
  const std::vector<HistorySample> samples = history.Samples();
  // The newest (i = 899) and every sample up to 600 s before it.
  ASSERT_EQ(samples.size(), 601u);
  EXPECT_EQ(samples.front().queue_depth, 299u);
  EXPECT_EQ(samples.back().queue_depth, 899u);
}

TEST(DashboardHistory, OptionsSetWindowAndInterval) {
  testing::FakeClock clock;
  HistoryOptions options;
  options.window = minutes(1);
  options.min_interval = seconds(10);
  DashboardHistory history(options);
  for (int i = 0; i < 100; ++i) {
    history.Sample(clock.Now(), clock.WallNanos(), Stats(static_cast<uint64_t>(i)));
    clock.Advance(seconds(1));
  }
  // Samples at 0, 10, ..., 90 s; the window keeps 30..90.
  const std::vector<HistorySample> samples = history.Samples();
  ASSERT_EQ(samples.size(), 7u);
  EXPECT_EQ(samples.front().queue_depth, 30u);
  EXPECT_EQ(samples.back().queue_depth, 90u);
}

}  // namespace
}  // namespace btrq::dashboard
