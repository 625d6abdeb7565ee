#include "broker/lease_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

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

TEST(LeaseTable, ATimeoutNearInt64SaturatesInsteadOfExpiringAtOnce) {
  // A task_timeout near int64's end wrapped now + timeout into the past: the lease expired
  // on the next tick and the task burnt its attempts.
  LeaseTable t;
  const Nanos huge(INT64_MAX - 5);
  ASSERT_TRUE(t.Grant(kKey, 1, "w1", kT0, huge, 0));
  EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(3600)).empty());
  EXPECT_EQ(t.NextDeadline(), SteadyTime::max());
  EXPECT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(10)));
  EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(7200)).empty());
  EXPECT_EQ(t.size(), 1u);
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

// A finished task's result may wait for the sink through an outage of any length: its
// renewals are not capped, and the lease says it finished when taken back.
TEST(LeaseTable, AFinishedLeaseIsRenewedPastTheCapAndStaysFinished) {
  LeaseTable t;
  ASSERT_TRUE(t.Grant(kKey, 1, "w1", kT0, seconds(10), 0));
  EXPECT_FALSE(t.Find(kKey)->finished);
  for (int s = 5; s <= 60; s += 5) {
    // The first renewal says finished; later ones need not repeat it.
    const TaskProgress said = s == 5 ? TaskProgress::kFinished : TaskProgress::kRunning;
    ASSERT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(s), said));
    EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(s)).empty()) << s;
  }
  EXPECT_EQ(t.NextDeadline(), kT0 + seconds(70));
  std::vector<Lease> expired = t.ExpireBefore(kT0 + seconds(71));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_TRUE(expired[0].finished);
  // A new grant of the key starts unfinished.
  ASSERT_TRUE(t.Grant(kKey, 1, "w2", kT0 + seconds(80), seconds(10), 0));
  EXPECT_FALSE(t.Find(kKey)->finished);
}

// A stall of the broker: every deadline and the renewal cap move on by the gap, in order,
// and renewed leases leave no stale deadline behind to expire them early.
TEST(LeaseTable, PostponeMovesDeadlinesAndTheCapByTheGap) {
  LeaseTable t;
  const TaskKey other{1, TestUuid(2), 0};
  ASSERT_TRUE(t.Grant(kKey, 1, "w1", kT0, seconds(10), 0));
  ASSERT_TRUE(t.Grant(other, 1, "w2", kT0 + seconds(1), seconds(10), 1));
  ASSERT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(5)));  // deadline kT0 + 15
  t.Postpone(seconds(30));
  EXPECT_TRUE(t.ExpireBefore(kT0 + seconds(40)).empty());
  EXPECT_EQ(t.NextDeadline(), kT0 + seconds(41));
  // The cap was granted + 2 x 10 s; it is now 30 s later as well.
  ASSERT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(48)));
  EXPECT_EQ(t.Find(kKey)->deadline, kT0 + seconds(50));
  std::vector<Lease> expired = t.ExpireBefore(kT0 + seconds(60));
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].key, other);
  EXPECT_EQ(expired[1].key, kKey);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LeaseTable, TheLastRenewalSaysWhetherTheTaskIsQueued) {
  LeaseTable t;
  ASSERT_TRUE(t.Grant(kKey, 1, "w1", kT0, seconds(10), 0));
  EXPECT_FALSE(t.Find(kKey)->queued);  // not known to wait: as if it ran
  ASSERT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(1), TaskProgress::kQueued));
  EXPECT_TRUE(t.Find(kKey)->queued);
  ASSERT_TRUE(t.Renew(kKey, 1, "w1", kT0 + seconds(2), TaskProgress::kRunning));
  EXPECT_FALSE(t.Find(kKey)->queued);
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

TEST(LeaseTable, WorkerNamesOutliveTheirLastLeaseUntilTheNextGrant) {
  LeaseTable t;
  const std::string long_name(64, 'w');
  t.Grant(kKey, 1, long_name, kT0, seconds(10), 0);
  LeaseReject why;
  std::optional<Lease> l = t.Complete(kKey, 1, long_name, &why);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->worker, long_name);
  // The name's slot is reused by a new worker; the old one is no longer known.
  ASSERT_TRUE(t.Grant(kKey, 1, "other", kT0, seconds(10), 0));
  EXPECT_TRUE(t.RemoveWorker(long_name).empty());
  EXPECT_EQ(t.Find(kKey)->worker, "other");
  EXPECT_EQ(t.RemoveWorker("other").size(), 1u);
}

// Many random operations against a plain model of the contract (a map of leases), so the
// hash index, the per-timeout deadline queues, their stale entries and sweeps, and the
// worker interning all agree with it.
TEST(LeaseTable, AgreesWithAModelOverRandomOperations) {
  struct Model {
    uint32_t attempt;
    std::string worker;
    SteadyTime deadline;
    Nanos timeout;
    SteadyTime granted;
    uint32_t stream_index;
  };
  std::map<TaskKey, Model> model;
  LeaseTable t;
  std::mt19937_64 rng(7);
  const std::vector<std::string> workers = {"a", "b", "a-worker-name-longer-than-sso:1234:abcdef"};
  const std::vector<Nanos> timeouts = {seconds(5), seconds(10), seconds(7)};
  const auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  const auto random_key = [&] {
    return TaskKey{1 + pick(3), TestUuid(static_cast<uint32_t>(1 + pick(2))),
                   static_cast<int64_t>(pick(6))};
  };
  const auto check_lease = [&](const Lease& l) {
    auto it = model.find(l.key);
    ASSERT_NE(it, model.end());
    EXPECT_EQ(l.attempt, it->second.attempt);
    EXPECT_EQ(l.worker, it->second.worker);
    EXPECT_EQ(l.deadline, it->second.deadline);
    EXPECT_EQ(l.stream_index, it->second.stream_index);
  };
  SteadyTime now = kT0;
  for (int step = 0; step < 200000 && !::testing::Test::HasFailure(); ++step) {
    now += std::chrono::milliseconds(pick(400));
    const TaskKey key = random_key();
    const uint32_t attempt = static_cast<uint32_t>(1 + pick(2));
    const std::string& worker = workers[pick(workers.size())];
    switch (pick(10)) {
      case 0:
      case 1:
      case 2: {
        const Nanos timeout = timeouts[pick(timeouts.size())];
        const bool granted = t.Grant(key, attempt, worker, now, timeout, static_cast<uint32_t>(step));
        EXPECT_EQ(granted, model.count(key) == 0);
        if (granted) {
          model[key] = Model{attempt, worker, now + timeout, timeout, now, static_cast<uint32_t>(step)};
        }
        break;
      }
      case 3:
      case 4: {
        auto it = model.find(key);
        const bool holder = it != model.end() && it->second.attempt == attempt && it->second.worker == worker;
        EXPECT_EQ(t.Renew(key, attempt, worker, now), holder);
        if (holder) {
          Model& m = it->second;
          m.deadline = std::max(m.deadline, std::min(now + m.timeout, m.granted + kMaxLeaseTimeouts * m.timeout));
        }
        break;
      }
      case 5:
      case 6: {
        auto it = model.find(key);
        LeaseReject expected = LeaseReject::kNone;
        if (it == model.end()) {
          expected = LeaseReject::kUnknownTask;
        } else if (it->second.attempt != attempt) {
          expected = LeaseReject::kWrongAttempt;
        } else if (it->second.worker != worker) {
          expected = LeaseReject::kWrongWorker;
        }
        LeaseReject why = LeaseReject::kNone;
        std::optional<Lease> l = t.Complete(key, attempt, worker, &why);
        EXPECT_EQ(why, expected);
        EXPECT_EQ(l.has_value(), expected == LeaseReject::kNone);
        if (l) {
          check_lease(*l);
          model.erase(key);
        }
        break;
      }
      case 7: {
        std::vector<Lease> expired = t.ExpireBefore(now);
        size_t due = 0;
        for (const auto& [k, m] : model) due += m.deadline < now;
        EXPECT_EQ(expired.size(), due);
        for (size_t i = 0; i < expired.size(); ++i) {
          EXPECT_LT(expired[i].deadline, now);
          if (i > 0) {
            EXPECT_LE(expired[i - 1].deadline, expired[i].deadline);
          }
          check_lease(expired[i]);
          model.erase(expired[i].key);
        }
        break;
      }
      case 8: {
        if (pick(20) != 0) break;
        std::vector<Lease> removed = t.RemoveWorker(worker);
        size_t held = 0;
        for (const auto& [k, m] : model) held += m.worker == worker;
        EXPECT_EQ(removed.size(), held);
        for (const Lease& l : removed) {
          check_lease(l);
          model.erase(l.key);
        }
        break;
      }
      case 9: {
        if (pick(20) != 0) break;
        std::vector<Lease> removed = t.RemoveJob(key.job);
        size_t held = 0;
        for (const auto& [k, m] : model) held += k.job == key.job;
        EXPECT_EQ(removed.size(), held);
        for (const Lease& l : removed) {
          check_lease(l);
          model.erase(l.key);
        }
        break;
      }
    }
    ASSERT_EQ(t.size(), model.size()) << "step " << step;
    std::optional<SteadyTime> earliest;
    for (const auto& [k, m] : model) {
      if (!earliest || m.deadline < *earliest) earliest = m.deadline;
    }
    ASSERT_EQ(t.NextDeadline(), earliest) << "step " << step;
    const Lease* found = t.Find(key);
    ASSERT_EQ(found != nullptr, model.count(key) == 1) << "step " << step;
    if (found) check_lease(*found);
  }
  size_t visited = 0;
  t.ForEach([&](const Lease& l) {
    ++visited;
    check_lease(l);
  });
  EXPECT_EQ(visited, model.size());
}

}  // namespace
}  // namespace btrq::broker
