// The lease's hard cap (broker/lease_table.h): heartbeats renew a lease, but never past
// kMaxLeaseTimeouts x task_timeout after it was granted, so a task whose executor hangs
// on a live, heartbeating worker is taken back.

#include <gtest/gtest.h>

#include "broker/lease_table.h"

namespace btrq::broker {
namespace {

using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime() + seconds(1000);
const TaskKey kKey{1, Uuid(), 0};

TEST(LeaseCapTest, HeartbeatsRenewALeaseOnlyUpToItsCap) {
  LeaseTable t;
  ASSERT_TRUE(t.Grant(kKey, 1, "w", kT0, seconds(10), 0));
  for (int s = 2; s <= 30; s += 2) {
    EXPECT_TRUE(t.Renew(kKey, 1, "w", kT0 + seconds(s)));  // the worker heartbeats on
    if (s < 20) {
      EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(s)).empty()) << s;
    }
  }
  EXPECT_EQ(t.NextDeadline(), kT0 + kMaxLeaseTimeouts * seconds(10));
  const std::vector<Lease> expired = t.ExpireBefore(kT0 + seconds(30));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, kKey);
}

TEST(LeaseCapTest, ARenewalNeverShortensALease) {
  LeaseTable t;
  ASSERT_TRUE(t.Grant(kKey, 1, "w", kT0, seconds(10), 0));
  ASSERT_TRUE(t.Renew(kKey, 1, "w", kT0 + seconds(1)));
  EXPECT_EQ(t.NextDeadline(), kT0 + seconds(11));
  ASSERT_TRUE(t.Renew(kKey, 1, "w", kT0 + seconds(15)));
  EXPECT_EQ(t.NextDeadline(), kT0 + seconds(20));
}

}  // namespace
}  // namespace btrq::broker
