// Bounds on the scheduler's work whatever happens around it (issue #14, section 6): a
// compaction that fails on a full disk is retried after a pause, not on every loop turn.

#include <gtest/gtest.h>

#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(SchedulerBounds, AFailedCompactionIsRetriedAfterADoublingPauseNotEveryTick) {
  TempDir dir;
  FaultEnv env;
  FakeClock clock;
  FakeStreamCatalog catalog;
  SchedulerOptions options;
  options.compact_after_bytes = 1;  // every tick wants to compact
  JournalOptions jo;
  jo.dir = dir.path();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> journal, Journal::Open(jo, &clock, &env));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> sched,
                       Scheduler::Create(options, &clock, &catalog, std::move(journal)));
  JobSpec spec;
  spec.collection = "c";
  spec.analytic = "quality";
  ASSERT_OK(sched->SubmitJob(spec, [](const Status&) {}).status());
  ASSERT_OK(sched->SyncJournal());
  ASSERT_GT(sched->journal()->file_bytes(), 1u);

  env.fail_writes = true;  // the disk is full
  int attempts = 0;
  // Ten loop turns per 100 ms for 8 s: the pauses are 1, 2 and 4 s, so 4 tries in all
  // (at 0, 1, 3 and 7 s), where every turn tried before.
  for (int turn = 0; turn < 800; ++turn) {
    if (!sched->Tick().compaction.ok()) ++attempts;
    clock.Advance(milliseconds(10));
  }
  EXPECT_EQ(attempts, 4);

  env.fail_writes = false;  // space again: the next due try succeeds
  clock.Advance(seconds(8));
  EXPECT_OK(sched->Tick().compaction);
}

}  // namespace
}  // namespace btrq::broker
