#include "broker/worker_registry.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using std::chrono::seconds;

HelloMsg Hello(std::string id, std::vector<std::string> analytics) {
  HelloMsg h;
  h.worker_id = std::move(id);
  h.host = "host-a";
  h.pid = 42;
  h.threads = 4;
  h.analytics = std::move(analytics);
  return h;
}

SteadyTime At(int s) { return SteadyTime{} + seconds(s); }

TEST(WorkerRegistry, InternAnalyticIsDenseAndStable) {
  WorkerRegistry r(seconds(3));
  EXPECT_EQ(r.InternAnalytic("quality"), 0u);
  EXPECT_EQ(r.InternAnalytic("stats"), 1u);
  EXPECT_EQ(r.InternAnalytic("quality"), 0u);
}

TEST(WorkerRegistry, HelloRegistersWorkerAndItsAnalytics) {
  WorkerRegistry r(seconds(3));
  const uint32_t stats = r.InternAnalytic("stats");  // known before the worker
  r.Hello(Hello("w1", {"quality", "count"}), At(1));
  const RegisteredWorker* w = r.Find("w1");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->info.host, "host-a");
  EXPECT_EQ(w->info.pid, 42);
  EXPECT_EQ(w->info.threads, 4u);
  EXPECT_EQ(w->info.last_seen, At(1));
  EXPECT_TRUE(w->CanRun(r.InternAnalytic("quality")));
  EXPECT_TRUE(w->CanRun(r.InternAnalytic("count")));
  EXPECT_FALSE(w->CanRun(stats));
  // An analytic interned after the HELLO is one the worker did not announce.
  EXPECT_FALSE(w->CanRun(r.InternAnalytic("noop")));
  EXPECT_EQ(r.Find("w2"), nullptr);
}

TEST(WorkerRegistry, HelloAgainResetsCreditAndDrainKeepsCounters) {
  WorkerRegistry r(seconds(3));
  r.Hello(Hello("w1", {"quality"}), At(0));
  ASSERT_OK(r.AddCredit("w1", 5, At(1)));
  ASSERT_OK(r.Drain("w1"));
  RegisteredWorker* w = r.Find("w1");
  w->info.in_flight = 2;
  w->info.done = 7;
  r.Hello(Hello("w1", {"stats"}), At(2));
  w = r.Find("w1");
  EXPECT_EQ(w->info.credit, 0u);
  EXPECT_FALSE(w->info.draining);
  EXPECT_EQ(w->info.in_flight, 2u);
  EXPECT_EQ(w->info.done, 7u);
  EXPECT_FALSE(w->CanRun(r.InternAnalytic("quality")));
  EXPECT_TRUE(w->CanRun(r.InternAnalytic("stats")));
}

TEST(WorkerRegistry, HelloNamesCostMemoryOnlyWhileTheirWorkerHoldsThem) {
  // Each HELLO with new unique names used to intern them for good (50 MB -> 675 MB).
  WorkerRegistry r(seconds(3));
  const uint32_t quality = r.InternAnalytic("quality");
  for (int round = 0; round < 100; ++round) {
    std::vector<std::string> names = {"quality"};
    for (int i = 0; i < 200; ++i) names.push_back("junk-" + std::to_string(round) + "-" + std::to_string(i));
    r.Hello(Hello("w1", names), At(round));
  }
  const RegisteredWorker* w = r.Find("w1");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->info.analytics.size(), 201u);  // the last HELLO's, not the sum
  EXPECT_EQ(w->can_run.size(), 1u);           // only names jobs use are interned
  EXPECT_TRUE(w->CanRun(quality));
  // A job's analytic interned later finds the workers that announced it.
  EXPECT_TRUE(w->CanRun(r.InternAnalytic("junk-99-7")));
  EXPECT_FALSE(w->CanRun(r.InternAnalytic("junk-0-7")));
}

TEST(WorkerRegistry, CreditAddsUpToTheCap) {
  WorkerRegistry r(seconds(3));
  r.Hello(Hello("w1", {}), At(0));
  ASSERT_OK(r.AddCredit("w1", 3, At(1)));
  ASSERT_OK(r.AddCredit("w1", 4, At(2)));
  EXPECT_EQ(r.Find("w1")->info.credit, 7u);
  EXPECT_EQ(r.Find("w1")->info.last_seen, At(2));
  for (int i = 0; i < 3; ++i) ASSERT_OK(r.AddCredit("w1", UINT32_MAX, At(2)));
  EXPECT_EQ(r.Find("w1")->info.credit, uint64_t{1} << 32);
}

TEST(WorkerRegistry, UnknownWorkersAreNotFound) {
  WorkerRegistry r(seconds(3));
  EXPECT_EQ(r.AddCredit("ghost", 1, At(0)).code(), StatusCode::kNotFound);
  EXPECT_EQ(r.Touch("ghost", At(0)).code(), StatusCode::kNotFound);
  EXPECT_EQ(r.Drain("ghost").code(), StatusCode::kNotFound);
  r.ReleaseLease("ghost");  // no-op
  r.Remove("ghost");        // no-op
  EXPECT_EQ(r.size(), 0u);
}

TEST(WorkerRegistry, ReleaseLeaseNeverGoesNegative) {
  WorkerRegistry r(seconds(3));
  r.Hello(Hello("w1", {}), At(0));
  r.Find("w1")->info.in_flight = 1;
  r.ReleaseLease("w1");
  r.ReleaseLease("w1");
  EXPECT_EQ(r.Find("w1")->info.in_flight, 0u);
}

TEST(WorkerRegistry, SilentAfterTheLimit) {
  WorkerRegistry r(seconds(3));
  r.Hello(Hello("w1", {}), At(0));
  r.Hello(Hello("w2", {}), At(2));
  EXPECT_EQ(r.NextSilenceDeadline(), At(3));
  EXPECT_TRUE(r.Silent(At(3)).empty());  // silent only beyond the limit
  EXPECT_EQ(r.Silent(At(4)), std::vector<std::string>{"w1"});
  ASSERT_OK(r.Touch("w1", At(4)));
  EXPECT_EQ(r.Silent(At(6)), std::vector<std::string>{"w2"});
  EXPECT_EQ(r.NextSilenceDeadline(), At(5));
  r.Remove("w2");
  EXPECT_EQ(r.NextSilenceDeadline(), At(7));
  r.Remove("w1");
  EXPECT_EQ(r.NextSilenceDeadline(), std::nullopt);
}

TEST(WorkerRegistry, ListIsById) {
  WorkerRegistry r(seconds(3));
  r.Hello(Hello("w-b", {}), At(0));
  r.Hello(Hello("w-a", {}), At(0));
  const std::vector<WorkerInfo> list = r.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "w-a");
  EXPECT_EQ(list[1].id, "w-b");
  EXPECT_EQ(r.size(), 2u);
}

}  // namespace
}  // namespace btrq::broker
