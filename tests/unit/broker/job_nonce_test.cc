// A job's nonce (its incarnation, common/ids.h) in the broker: drawn at submit, in every
// task key the job dispatches, journaled with the job's record and its summary (an old
// record without it reads as nonce 0), kept by replay and compaction; and a DONE or
// HEARTBEAT naming the job's id with another nonce matches nothing of the job.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "broker/journal_records.h"
#include "broker/scheduler.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;

constexpr JobNonce kNonce = 0x9f3a1c2b4d5e6f70;

JobSpec Spec() {
  JobSpec s;
  s.name = "n";
  s.collection = "c";
  s.chunk = 10;
  s.analytic = "count";
  s.max_attempts = 1;
  return s;
}

TEST(JobNonceJournal, ANewJobRecordRoundTripsItsNonce) {
  std::string payload;
  EncodeJob(&payload, 12, kNonce, Spec(), -7);
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(payload));
  EXPECT_EQ(r.type, RecordType::kJob);
  EXPECT_EQ(r.job, 12u);
  EXPECT_EQ(r.nonce, kNonce);
  EXPECT_EQ(r.wall_ns, -7);
  EXPECT_EQ(r.spec.analytic, "count");
  for (size_t n = 1; n < 9; ++n) {  // a cut tail is a malformed record, not nonce 0
    EXPECT_FALSE(DecodeRecord(payload.substr(0, payload.size() - n)).ok()) << n;
  }
  payload[payload.size() - 9] = 2;  // an unknown tail marker
  EXPECT_FALSE(DecodeRecord(payload).ok());
}

TEST(JobNonceJournal, AnOldFormatJobRecordReadsAsNonceZero) {
  std::string legacy;
  EncodeJob(&legacy, 12, /*nonce=*/0, Spec(), -7);  // nonce 0: the bytes before nonces
  std::string with;
  EncodeJob(&with, 12, kNonce, Spec(), -7);
  ASSERT_EQ(with.substr(0, legacy.size()), legacy);
  EXPECT_EQ(with.size(), legacy.size() + 9);  // marker + fixed64
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(legacy));
  EXPECT_EQ(r.type, RecordType::kJob);
  EXPECT_EQ(r.nonce, 0u);
}

TEST(JobNonceJournal, SummariesKeepTheNonceAndOldOnesReadAsZero) {
  JobInfo info;
  info.id = 12;
  info.nonce = kNonce;
  info.spec = Spec();
  info.state = JobState::kDone;
  info.counts.total = info.counts.done = 3;
  std::string payload;
  EncodeJobSummary(&payload, info);
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(payload));
  EXPECT_EQ(r.type, RecordType::kJobSummary);
  EXPECT_EQ(r.info.nonce, kNonce);
  EXPECT_EQ(r.info.counts.done, 3u);
  info.nonce = 0;
  std::string legacy;
  EncodeJobSummary(&legacy, info);
  EXPECT_EQ(legacy, payload.substr(0, payload.size() - 9));
  ASSERT_OK_AND_ASSIGN(JournalRecord old, DecodeRecord(legacy));
  EXPECT_EQ(old.info.nonce, 0u);
}

class JobNonceSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.AddStream(TestUuid(1), 0, 29);  // 3 chunks
    Open();
  }

  // A scheduler over the journal in dir_ (replaying what it holds).
  void Open() {
    sched_.reset();
    JournalOptions jo;
    jo.dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> journal, Journal::Open(jo, &clock_));
    SchedulerOptions options;
    options.seed = 1;
    ASSERT_OK_AND_ASSIGN(sched_,
                         Scheduler::Create(options, &clock_, &catalog_, std::move(journal)));
  }

  JobId Submit() {
    Result<JobId> id = sched_->SubmitJob(Spec(), [](const Status&) {});
    EXPECT_OK(id);
    EXPECT_OK(sched_->SyncJournal());
    return id.value_or(0);
  }

  // Tasks for worker w1 (which says HELLO and gives credit first).
  std::vector<TaskSpec> Dispatch() {
    HelloMsg hello;
    hello.worker_id = "w1";
    hello.analytics = {"count"};
    sched_->OnWorkerHello(hello);
    EXPECT_OK(sched_->OnWorkerCredit("w1", 100));
    sched_->Expand();
    EXPECT_OK(sched_->SyncJournal());  // the pins are usable once durable
    sched_->Expand();
    return sched_->NextDispatch("w1");
  }

  FakeClock clock_;
  FakeStreamCatalog catalog_;
  TempDir dir_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(JobNonceSchedulerTest, EachJobGetsItsOwnNonzeroNonceInEveryTaskKey) {
  const JobId a = Submit();
  const JobId b = Submit();
  ASSERT_OK_AND_ASSIGN(JobInfo ia, sched_->GetJob(a));
  ASSERT_OK_AND_ASSIGN(JobInfo ib, sched_->GetJob(b));
  EXPECT_NE(ia.nonce, 0u);
  EXPECT_NE(ib.nonce, 0u);
  EXPECT_NE(ia.nonce, ib.nonce);
  const std::vector<TaskSpec> tasks = Dispatch();
  ASSERT_EQ(tasks.size(), 6u);
  for (const TaskSpec& t : tasks) EXPECT_EQ(t.key.nonce, t.key.job == a ? ia.nonce : ib.nonce);
}

TEST_F(JobNonceSchedulerTest, TheNonceSurvivesReplayCompactionAndTheSummary) {
  const JobId id = Submit();
  ASSERT_OK_AND_ASSIGN(const JobInfo before, sched_->GetJob(id));
  Open();  // replay
  ASSERT_OK_AND_ASSIGN(JobInfo replayed, sched_->GetJob(id));
  EXPECT_EQ(replayed.nonce, before.nonce);
  ASSERT_OK(sched_->Compact());
  Open();
  ASSERT_OK_AND_ASSIGN(JobInfo compacted, sched_->GetJob(id));
  EXPECT_EQ(compacted.nonce, before.nonce);
  // Finished: the job is kept as a summary, nonce included.
  DoneMsg done;
  for (const TaskSpec& t : Dispatch()) {
    EXPECT_EQ(t.key.nonce, before.nonce);
    done.items.push_back(DoneItem{.task = TaskRef{t.key, t.attempt}});
  }
  EXPECT_EQ(sched_->OnWorkerDone("w1", done).accepted, 3u);
  ASSERT_OK_AND_ASSIGN(JobInfo finished, sched_->GetJob(id));
  EXPECT_EQ(finished.state, JobState::kDone);
  EXPECT_EQ(finished.nonce, before.nonce);
  ASSERT_OK(sched_->SyncJournal());
  Open();
  ASSERT_OK_AND_ASSIGN(JobInfo summary, sched_->GetJob(id));
  EXPECT_EQ(summary.state, JobState::kDone);
  EXPECT_EQ(summary.nonce, before.nonce);
}

TEST_F(JobNonceSchedulerTest, ADoneOrHeartbeatOfAnotherIncarnationMatchesNothing) {
  const JobId id = Submit();
  const std::vector<TaskSpec> tasks = Dispatch();
  ASSERT_EQ(tasks.size(), 3u);
  // The same job id, stream, start and attempt, from another incarnation of job `id`.
  DoneMsg other;
  HeartbeatMsg hb;
  for (const TaskSpec& t : tasks) {
    TaskKey key = t.key;
    key.nonce ^= 1;
    other.items.push_back(DoneItem{.task = TaskRef{key, t.attempt}});
    hb.running.push_back(TaskRef{key, t.attempt});
  }
  const DoneOutcome outcome = sched_->OnWorkerDone("w1", other);
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.rejected.size(), 3u);
  ASSERT_OK_AND_ASSIGN(HeartbeatOutcome renewed, sched_->OnWorkerHeartbeat("w1", hb));
  EXPECT_EQ(renewed.renewed, 0u);
  EXPECT_EQ(renewed.unknown, 3u);
  ASSERT_OK_AND_ASSIGN(JobInfo info, sched_->GetJob(id));
  EXPECT_EQ(info.counts.done, 0u);
  EXPECT_EQ(info.counts.in_flight, 3u);
  // The job's own DONEs still count.
  DoneMsg own;
  for (const TaskSpec& t : tasks) own.items.push_back(DoneItem{.task = TaskRef{t.key, t.attempt}});
  EXPECT_EQ(sched_->OnWorkerDone("w1", own).accepted, 3u);
  ASSERT_OK_AND_ASSIGN(JobInfo done, sched_->GetJob(id));
  EXPECT_EQ(done.state, JobState::kDone);
}

}  // namespace
}  // namespace btrq::broker
