#include "broker/lease_table.h"

#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"

namespace btrq::broker {
namespace {

using btrq::testing::TestUuid;
using std::chrono::seconds;

const TaskKey kKey{1, TestUuid(1), 0};
const SteadyTime kT0{seconds(100)};

TEST(LeaseTable, CompleteAcceptsOnlyTheLiveLeaseAndSaysWhyNot) {
  LeaseTable t;
  ASSERT_TRUE(t.Grant(kKey, 2, "w1", kT0, seconds(10), 3));
  EXPECT_FALSE(t.Grant(kKey, 3, "w2", kT0, seconds(10), 3));  // one lease per key
  LeaseReject why;
  EXPECT_FALSE(t.Complete(kKey, 1, "w1", &why));
  EXPECT_EQ(why, LeaseReject::kWrongAttempt);
  EXPECT_FALSE(t.Complete(kKey, 2, "w2", &why));
  EXPECT_EQ(why, LeaseReject::kWrongWorker);
  EXPECT_FALSE(t.Complete(TaskKey{1, TestUuid(9), 0}, 1, "w1", &why));
  EXPECT_EQ(why, LeaseReject::kUnknownTask);
  std::optional<Lease> l = t.Complete(kKey, 2, "w1", &why);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(why, LeaseReject::kNone);
  EXPECT_EQ(l->stream_index, 3u);
  // A second DONE for the same attempt is stale.
  EXPECT_FALSE(t.Complete(kKey, 2, "w1", &why));
  EXPECT_EQ(why, LeaseReject::kUnknownTask);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTable, RenewExtendsOnlyForTheHolder) {
  LeaseTable t;
  t.Grant(kKey, 1, "w1", kT0, seconds(10), 0);
  EXPECT_FALSE(t.Renew(kKey, 1, "w2", kT0 + seconds(5)));
  EXPECT_FALSE(t.Renew(kKey, 2, "w1", kT0 + seconds(5)));
  EXPECT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(5)));
  EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(12)).empty());
  std::vector<Lease> expired = t.ExpireBefore(kT0 + seconds(16));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, kKey);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTable, ExpireBeforeReturnsEarliestFirst) {
  LeaseTable t;
  t.Grant(TaskKey{1, TestUuid(1), 0}, 1, "w", kT0 + seconds(3), seconds(1), 0);
  t.Grant(TaskKey{1, TestUuid(1), 10}, 1, "w", kT0, seconds(1), 0);
  EXPECT_EQ(t.NextDeadline(), kT0 + seconds(1));
  std::vector<Lease> expired = t.ExpireBefore(kT0 + seconds(10));
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].key.start, 10);
}

TEST(LeaseTable, RemoveWorkerAndRemoveJob) {
  LeaseTable t;
  t.Grant(TaskKey{1, TestUuid(1), 0}, 1, "a", kT0, seconds(1), 0);
  t.Grant(TaskKey{1, TestUuid(1), 10}, 1, "b", kT0, seconds(1), 0);
  t.Grant(TaskKey{2, TestUuid(1), 0}, 1, "a", kT0, seconds(1), 0);
  EXPECT_EQ(t.RemoveWorker("a").size(), 2u);
  EXPECT_EQ(t.RemoveJob(1).size(), 1u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.NextDeadline().has_value());
}

}  // namespace
}  // namespace btrq::broker
