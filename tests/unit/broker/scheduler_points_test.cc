// Points read, as workers report them in DONE items (DoneItem::points_read), summed by
// the scheduler per job, per worker and overall; and the job's stream count.

#include <gtest/gtest.h>

#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;

constexpr int64_t kChunk = 10;

class SchedulerPointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t i = 1; i <= 2; ++i) catalog_.AddStream(TestUuid(i), 0, 3 * kChunk - 1);
    SchedulerOptions options;
    options.seed = 1;
    ASSERT_OK_AND_ASSIGN(sched_, Scheduler::Create(options, &clock_, &catalog_, nullptr));
    JobSpec spec;
    spec.collection = "c";
    spec.chunk = kChunk;
    spec.analytic = "count";
    spec.max_attempts = 1;
    ASSERT_OK_AND_ASSIGN(job_, sched_->SubmitJob(spec, [](const Status&) {}));
    HelloMsg hello;
    hello.worker_id = "w1";
    hello.analytics = {"count"};
    sched_->OnWorkerHello(hello);
    ASSERT_OK(sched_->OnWorkerCredit("w1", 100));
    sched_->Expand();
    tasks_ = sched_->NextDispatch("w1");
    ASSERT_EQ(tasks_.size(), 6u);  // 2 streams x 3 chunks
  }

  DoneItem Item(const TaskSpec& t, int64_t points, ErrorClass error = ErrorClass::kNone) {
    DoneItem item;
    item.task = TaskRef{t.key, t.attempt};
    item.error = error;
    item.message = error == ErrorClass::kNone ? "" : "bad";
    item.points_read = points;
    return item;
  }

  FakeClock clock_;
  FakeStreamCatalog catalog_;
  std::unique_ptr<Scheduler> sched_;
  JobId job_ = 0;
  std::vector<TaskSpec> tasks_;
};

TEST_F(SchedulerPointsTest, AcceptedDonesAddTheirPointsToJobWorkerAndTotal) {
  DoneMsg done;
  done.items = {Item(tasks_[0], 100), Item(tasks_[1], 250),
                Item(tasks_[2], 7, ErrorClass::kPermanent),  // a failed attempt read too
                Item(tasks_[3], 0)};                          // absent on the wire = 0
  EXPECT_EQ(sched_->OnWorkerDone("w1", done).accepted, 4u);

  ASSERT_OK_AND_ASSIGN(JobInfo info, sched_->GetJob(job_));
  EXPECT_EQ(info.counts.points_read, 357u);
  EXPECT_EQ(info.counts.streams, 2u);
  EXPECT_EQ(sched_->Stats().points_total, 357u);
  ASSERT_EQ(sched_->Workers().size(), 1u);
  EXPECT_EQ(sched_->Workers()[0].points_read, 357u);
}

TEST_F(SchedulerPointsTest, RejectedDonesAddNothing) {
  DoneMsg done;
  done.items = {Item(tasks_[0], 100)};
  ASSERT_EQ(sched_->OnWorkerDone("w1", done).accepted, 1u);
  // The same DONE again: its lease is gone.
  EXPECT_EQ(sched_->OnWorkerDone("w1", done).accepted, 0u);
  // From a worker that never said HELLO.
  DoneMsg other;
  other.items = {Item(tasks_[1], 1000)};
  EXPECT_EQ(sched_->OnWorkerDone("stranger", other).accepted, 0u);

  ASSERT_OK_AND_ASSIGN(JobInfo info, sched_->GetJob(job_));
  EXPECT_EQ(info.counts.points_read, 100u);
  EXPECT_EQ(sched_->Stats().points_total, 100u);
}

}  // namespace
}  // namespace btrq::broker
