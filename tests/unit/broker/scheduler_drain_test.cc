// Issue #14: DrainWorker was not journaled, so a drain requested and acknowledged was
// forgotten by a broker restart. It holds until its worker leaves: a worker that says
// HELLO to a restarted broker is draining again (and is told so), through compactions too.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;

class SchedulerDrainTest : public ::testing::Test {
 protected:
  // A broker (re)started on dir_'s journal.
  void Restart() {
    sched_.reset();
    JournalOptions jo;
    jo.dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> journal, Journal::Open(jo, &clock_, &env_));
    ASSERT_OK_AND_ASSIGN(sched_, Scheduler::Create(SchedulerOptions(), &clock_, &catalog_,
                                                   std::move(journal)));
  }

  bool Hello(const std::string& worker) {
    HelloMsg hello;
    hello.worker_id = worker;
    hello.analytics = {"count"};
    return sched_->OnWorkerHello(hello);
  }

  bool Draining(const std::string& worker) {
    for (const WorkerInfo& w : sched_->Workers()) {
      if (w.id == worker) return w.draining;
    }
    ADD_FAILURE() << "no worker " << worker;
    return false;
  }

  TempDir dir_;
  FaultEnv env_;
  FakeClock clock_;
  FakeStreamCatalog catalog_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerDrainTest, ADrainSurvivesABrokerRestart) {
  Restart();
  EXPECT_FALSE(Hello("w1"));
  EXPECT_FALSE(Hello("w2"));
  ASSERT_OK(sched_->DrainWorker("w1"));
  ASSERT_OK(sched_->SyncJournal());
  Restart();
  EXPECT_TRUE(Hello("w1"));  // to be told DRAIN again
  EXPECT_TRUE(Draining("w1"));
  EXPECT_FALSE(Hello("w2"));
  EXPECT_FALSE(Draining("w2"));
  ASSERT_OK(sched_->OnWorkerCredit("w1", 4));
  EXPECT_TRUE(sched_->NextDispatch("w1").empty());
}

TEST_F(SchedulerDrainTest, ADrainEndsWhenItsWorkerLeaves) {
  Restart();
  EXPECT_FALSE(Hello("w1"));
  ASSERT_OK(sched_->DrainWorker("w1"));
  EXPECT_EQ(sched_->OnWorkerBye("w1"), 0u);
  ASSERT_OK(sched_->SyncJournal());
  Restart();
  EXPECT_FALSE(Hello("w1"));  // started again after its drain: it works
  EXPECT_FALSE(Draining("w1"));
}

TEST_F(SchedulerDrainTest, ADrainSurvivesCompaction) {
  Restart();
  EXPECT_FALSE(Hello("w1"));
  ASSERT_OK(sched_->DrainWorker("w1"));
  ASSERT_OK(sched_->SyncJournal());
  ASSERT_OK(sched_->Compact());
  Restart();
  EXPECT_TRUE(Hello("w1"));
  EXPECT_TRUE(Draining("w1"));
}

TEST_F(SchedulerDrainTest, DrainingAStrangerIsNotFoundAndNotJournaled) {
  Restart();
  EXPECT_EQ(sched_->DrainWorker("nobody").code(), StatusCode::kNotFound);
  ASSERT_OK(sched_->SyncJournal());
  Restart();
  EXPECT_FALSE(Hello("nobody"));
}

}  // namespace
}  // namespace btrq::broker
