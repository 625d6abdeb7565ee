#pragma once

// The scheduler's test fixture: a Scheduler over a fake stream catalog, a fake clock and
// a journal in a temporary directory (whose disk can be made to fail), with helpers to
// submit jobs, connect workers and drive them.

#include <map>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::StatusIs;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr int64_t kChunk = 10;

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() {
    options_.window_per_job = 64;
    options_.heartbeat_interval = seconds(1);
    options_.liveness = 3;
    options_.retry_backoff = BackoffOptions{milliseconds(100), seconds(1), 2.0, Jitter::kNone};
    options_.seed = 1;
  }

  // A scheduler without a journal (durable at once) or with one in dir_.
  void Start(bool with_journal = false) {
    sched_.reset();
    std::unique_ptr<Journal> journal;
    if (with_journal) {
      JournalOptions jo;
      jo.dir = dir_.path();
      auto j = Journal::Open(jo, &clock_, &env_);
      ASSERT_OK(j);
      journal = std::move(*j);
    }
    auto s = Scheduler::Create(options_, &clock_, &catalog_, std::move(journal));
    ASSERT_OK(s);
    sched_ = std::move(*s);
    sched_->SetWakeup(wakeups_.Hook());
  }

  // The dispatcher loop's journal step once the sync interval has passed: hands the
  // buffer to the journal thread, waits for its wakeup, and collects the group (which
  // runs the durable callbacks here).
  Status PollJournalAfterInterval() {
    clock_.Advance(milliseconds(2));
    const uint64_t seen = wakeups_.count();
    Status s = sched_->PollJournal();
    if (!s.ok() || !sched_->journal()->group_in_flight()) return s;
    if (!wakeups_.WaitBeyond(seen)) return Status::DeadlineExceeded("the journal group never finished");
    return sched_->PollJournal();
  }

  // Streams 1..n with `chunks` chunks each: [0, chunks * kChunk).
  void AddStreams(uint32_t n, int64_t chunks) {
    for (uint32_t i = 1; i <= n; ++i) catalog_.AddStream(TestUuid(i), 0, chunks * kChunk - 1);
  }

  JobSpec Spec(std::string analytic = "quality") {
    JobSpec s;
    s.collection = "c";
    s.chunk = kChunk;
    s.analytic = std::move(analytic);
    s.max_attempts = 3;
    s.task_timeout = std::chrono::nanoseconds(seconds(10)).count();
    return s;
  }

  JobId Submit(const JobSpec& spec) {
    Status durable = Status::Internal("on_durable did not run");
    auto id = sched_->SubmitJob(spec, [&durable](const Status& s) { durable = s; });
    EXPECT_OK(id);
    if (sched_->journal() != nullptr) EXPECT_OK(PollJournalAfterInterval());
    EXPECT_OK(durable);
    return id.ok() ? *id : 0;
  }

  void Hello(const std::string& id, std::vector<std::string> analytics = {"quality"},
             uint32_t credit = 1000) {
    HelloMsg h;
    h.worker_id = id;
    h.host = "h";
    h.threads = 4;
    h.analytics = std::move(analytics);
    sched_->OnWorkerHello(h);
    if (credit > 0) ASSERT_OK(sched_->OnWorkerCredit(id, credit));
  }

  // Expands (making pins durable when journaling) and dispatches to `worker`.
  std::vector<TaskSpec> Dispatch(const std::string& worker, size_t max_n = SIZE_MAX) {
    sched_->Expand();
    if (sched_->journal() != nullptr) {
      EXPECT_OK(sched_->SyncJournal());
      sched_->Expand();
    }
    return sched_->NextDispatch(worker, max_n);
  }

  DoneOutcome Done(const std::string& worker, const TaskSpec& t,
                   ErrorClass error = ErrorClass::kNone, std::string message = "") {
    DoneMsg m;
    m.items.push_back(DoneItem{TaskRef{t.key, t.attempt}, error, std::move(message)});
    return sched_->OnWorkerDone(worker, m);
  }

  // Dispatches and completes everything `ok` says is fine (others fail permanently),
  // until nothing is left to dispatch. Returns the keys completed ok.
  std::vector<TaskKey> RunAll(const std::string& worker,
                              const std::function<bool(const TaskSpec&)>& ok = {}) {
    std::vector<TaskKey> done;
    for (;;) {
      std::vector<TaskSpec> batch = Dispatch(worker, 16);
      if (batch.empty()) break;
      for (const TaskSpec& t : batch) {
        const bool good = !ok || ok(t);
        EXPECT_EQ(Done(worker, t, good ? ErrorClass::kNone : ErrorClass::kPermanent, "bad chunk").accepted, 1u);
        if (good) done.push_back(t.key);
      }
      EXPECT_OK(sched_->OnWorkerCredit(worker, static_cast<uint32_t>(batch.size())));
    }
    return done;
  }

  JobInfo Info(JobId id) {
    auto info = sched_->GetJob(id);
    EXPECT_OK(info);
    return info.ok() ? *info : JobInfo{};
  }

  SchedulerOptions options_;
  FakeClock clock_;
  FakeStreamCatalog catalog_;
  TempDir dir_;
  FaultEnv env_;
  WakeupCounter wakeups_;
  std::unique_ptr<Scheduler> sched_;
};

}  // namespace btrq::broker
