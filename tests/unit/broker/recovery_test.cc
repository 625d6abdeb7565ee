#include "broker/recovery.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"

namespace btrq::broker {
namespace {

using btrq::testing::TestUuid;

constexpr int64_t kChunk = 10;
constexpr JobId kJob = 7;

JobSpec Spec() {
  JobSpec s;
  s.collection = "c";
  s.chunk = kChunk;
  s.analytic = "quality";
  s.max_attempts = 3;
  return s;
}

JournalRecord Record(RecordType type) {
  JournalRecord r;
  r.type = type;
  r.job = kJob;
  return r;
}

JournalRecord Streams(uint32_t n) {
  JournalRecord r = Record(RecordType::kStreams);
  for (uint32_t i = 1; i <= n; ++i) r.streams.push_back(TestUuid(i));
  return r;
}

JournalRecord AtChunk(RecordType type, uint32_t stream, int64_t start, uint32_t attempt = 0) {
  JournalRecord r = Record(type);
  r.stream_index = stream;
  r.start = start;
  r.attempt = attempt;
  return r;
}

// Applies `rec` and expects it to leave the job in the scheduler's hands (kNone).
void ApplyOk(const JournalRecord& rec, LiveJob* job) {
  ASSERT_OK_AND_ASSIGN(ApplyEffect effect, ApplyJobRecord(rec, job));
  EXPECT_EQ(effect, ApplyEffect::kNone);
}

class RecoveryTest : public ::testing::Test {
 protected:
  RecoveryTest() : job_(MakeLiveJob(kJob, /*nonce=*/0, Spec(), /*submitted_wall_ns=*/1000, 0)) {}
  std::unique_ptr<LiveJob> job_;
};

TEST_F(RecoveryTest, MakeLiveJobSetsIdentityAndExpander) {
  EXPECT_EQ(job_->id, kJob);
  EXPECT_EQ(job_->spec.analytic, "quality");
  EXPECT_EQ(job_->submitted_wall_ns, 1000);
  EXPECT_EQ(job_->state, JobState::kQueued);
  EXPECT_FALSE(job_->durable);
  ASSERT_NE(job_->expander, nullptr);
  EXPECT_FALSE(job_->expander->listed());
}

TEST_F(RecoveryTest, StreamsListTheJobOnce) {
  ApplyOk(Streams(2), job_.get());
  EXPECT_TRUE(job_->expander->listed());
  EXPECT_EQ(job_->state, JobState::kExpanding);
  EXPECT_EQ(job_->expander->streams().size(), 2u);
  // A second list (a replayed duplicate) changes nothing.
  job_->state = JobState::kRunning;
  ApplyOk(Streams(3), job_.get());
  EXPECT_EQ(job_->expander->streams().size(), 2u);
  EXPECT_EQ(job_->state, JobState::kRunning);
}

TEST_F(RecoveryTest, RecordsBeyondTheStreamListAreInternal) {
  for (RecordType type : {RecordType::kPin, RecordType::kDone, RecordType::kDoneRange,
                          RecordType::kDead, RecordType::kAttemptFailed}) {
    // Before the list: no stream index is valid.
    Result<ApplyEffect> before = ApplyJobRecord(AtChunk(type, 0, 0, 1), job_.get());
    ASSERT_FALSE(before.ok()) << static_cast<int>(type);
    EXPECT_EQ(before.status().code(), StatusCode::kInternal);
  }
  ApplyOk(Streams(1), job_.get());
  Result<ApplyEffect> beyond = ApplyJobRecord(AtChunk(RecordType::kDone, 1, 0), job_.get());
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.status().code(), StatusCode::kInternal);
  EXPECT_EQ(job_->done, 0u);
}

TEST_F(RecoveryTest, PinIsUsableAfterReplay) {
  ApplyOk(Streams(2), job_.get());
  JournalRecord pin = AtChunk(RecordType::kPin, 1, 0);
  pin.pin = StreamPin{5, 0, 99, true};
  ApplyOk(pin, job_.get());
  EXPECT_FALSE(job_->expander->pinned(0));
  ASSERT_TRUE(job_->expander->pinned(1));
  EXPECT_EQ(job_->expander->pin(1), pin.pin);
}

TEST_F(RecoveryTest, DoneAndDoneRangeCountChunksOnce) {
  ApplyOk(Streams(1), job_.get());
  ApplyOk(AtChunk(RecordType::kAttemptFailed, 0, 0, 1), job_.get());
  ApplyOk(AtChunk(RecordType::kDone, 0, 0), job_.get());
  EXPECT_EQ(job_->done, 1u);
  EXPECT_TRUE(job_->failed_attempts.empty());  // done: its failed attempts no longer matter
  JournalRecord range = AtChunk(RecordType::kDoneRange, 0, 0);
  range.end = 4 * kChunk;  // overlaps the chunk already done
  ApplyOk(range, job_.get());
  EXPECT_EQ(job_->done, 4u);
  ApplyOk(AtChunk(RecordType::kDone, 0, 2 * kChunk), job_.get());  // a duplicate
  EXPECT_EQ(job_->done, 4u);
}

TEST_F(RecoveryTest, AttemptFailedKeepsTheHighestAttempt) {
  ApplyOk(Streams(1), job_.get());
  ApplyOk(AtChunk(RecordType::kAttemptFailed, 0, kChunk, 2), job_.get());
  ApplyOk(AtChunk(RecordType::kAttemptFailed, 0, kChunk, 1), job_.get());
  EXPECT_EQ(job_->failed_attempts.at(ChunkId{0, kChunk}), 2u);
  EXPECT_EQ(job_->retried, 2u);
  JournalRecord retried = Record(RecordType::kRetried);
  retried.value = 9;
  ApplyOk(retried, job_.get());
  EXPECT_EQ(job_->retried, 9u);
}

TEST_F(RecoveryTest, DeadLettersAreCountedOnce) {
  ApplyOk(Streams(2), job_.get());
  JournalRecord dead = AtChunk(RecordType::kDead, 1, kChunk, 3);
  dead.message = "boom";
  ApplyOk(dead, job_.get());
  ApplyOk(dead, job_.get());
  EXPECT_EQ(job_->dead, 1u);
  const DeadLetter& d = job_->dead_letters.at(ChunkId{1, kChunk});
  EXPECT_EQ(d.key, (TaskKey{kJob, TestUuid(2), kChunk}));
  EXPECT_EQ(d.attempt, 3u);
  EXPECT_EQ(d.error, "boom");
}

TEST_F(RecoveryTest, RetryRequeuesDeadLetters) {
  ApplyOk(Streams(1), job_.get());
  ApplyOk(AtChunk(RecordType::kDead, 0, 0, 3), job_.get());
  ApplyOk(AtChunk(RecordType::kDead, 0, kChunk, 3), job_.get());
  job_->state = JobState::kDoneWithFailures;
  job_->finished_wall_ns = 5;
  ASSERT_OK_AND_ASSIGN(ApplyEffect effect, ApplyJobRecord(Record(RecordType::kRetry), job_.get()));
  EXPECT_EQ(effect, ApplyEffect::kRequeue);
  EXPECT_EQ(job_->state, JobState::kRunning);
  EXPECT_EQ(job_->dead, 0u);
  EXPECT_TRUE(job_->dead_letters.empty());
  EXPECT_EQ(job_->retried, 2u);
  EXPECT_EQ(job_->finished_wall_ns, 0);
}

TEST_F(RecoveryTest, CancelAndFailureRetireTheJob) {
  ApplyOk(Streams(1), job_.get());
  JournalRecord cancel = Record(RecordType::kCancel);
  cancel.wall_ns = 123;
  ASSERT_OK_AND_ASSIGN(ApplyEffect effect, ApplyJobRecord(cancel, job_.get()));
  EXPECT_EQ(effect, ApplyEffect::kRetire);
  EXPECT_EQ(job_->state, JobState::kCancelled);
  EXPECT_EQ(job_->finished_wall_ns, 123);

  auto other = MakeLiveJob(kJob, /*nonce=*/0, Spec(), 0, 0);
  JournalRecord failed = Record(RecordType::kJobFailed);
  failed.message = "no such collection";
  failed.wall_ns = 456;
  ASSERT_OK_AND_ASSIGN(effect, ApplyJobRecord(failed, other.get()));
  EXPECT_EQ(effect, ApplyEffect::kRetire);
  EXPECT_EQ(other->state, JobState::kFailed);
  EXPECT_EQ(other->error, "no such collection");
  EXPECT_EQ(other->finished_wall_ns, 456);
}

TEST_F(RecoveryTest, RecordsThatAreNotPerJobAreInternal) {
  for (RecordType type : {RecordType::kNextJobId, RecordType::kJob, RecordType::kJobSummary}) {
    Result<ApplyEffect> r = ApplyJobRecord(Record(type), job_.get());
    ASSERT_FALSE(r.ok()) << static_cast<int>(type);
    EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  }
}

TEST_F(RecoveryTest, SnapshotOfAnUnlistedJobIsItsSpec) {
  std::vector<std::string> out;
  SnapshotJob(*job_, {}, nullptr, &out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(out[0]));
  EXPECT_EQ(r.type, RecordType::kJob);
  EXPECT_EQ(r.job, kJob);
  EXPECT_EQ(r.wall_ns, 1000);
  EXPECT_EQ(r.spec.analytic, "quality");
}

// Replays a snapshot into a fresh job: the kJob record first, then the rest.
std::unique_ptr<LiveJob> Replay(const std::vector<std::string>& records, JobInfo* summary) {
  std::unique_ptr<LiveJob> job;
  for (const std::string& payload : records) {
    Result<JournalRecord> r = DecodeRecord(payload);
    EXPECT_OK(r.status());
    if (!r.ok()) return nullptr;
    if (r->type == RecordType::kJob) {
      job = MakeLiveJob(r->job, r->nonce, r->spec, r->wall_ns, 0);
    } else if (r->type == RecordType::kJobSummary) {
      *summary = r->info;
    } else {
      EXPECT_NE(job, nullptr) << "a record before the job's";
      if (job == nullptr) return nullptr;
      EXPECT_OK(ApplyJobRecord(*r, job.get()).status());
    }
  }
  return job;
}

TEST_F(RecoveryTest, SnapshotReplaysToTheSameState) {
  ApplyOk(Streams(2), job_.get());
  JournalRecord pin = AtChunk(RecordType::kPin, 0, 0);
  pin.pin = StreamPin{3, 0, 5 * kChunk - 1, true};
  ApplyOk(pin, job_.get());
  JournalRecord range = AtChunk(RecordType::kDoneRange, 0, 0);
  range.end = 2 * kChunk;
  ApplyOk(range, job_.get());
  ApplyOk(AtChunk(RecordType::kDone, 0, 4 * kChunk), job_.get());
  JournalRecord dead = AtChunk(RecordType::kDead, 0, 3 * kChunk, 3);
  dead.message = "bad data";
  ApplyOk(dead, job_.get());
  job_->retried = 4;

  // Attempts in use elsewhere (a lease, the queue), as the scheduler gathers them.
  const std::map<ChunkId, uint32_t> used = {{ChunkId{0, 2 * kChunk}, 2}};
  JobInfo info;
  info.id = kJob;
  info.state = JobState::kDoneWithFailures;
  std::vector<std::string> out;
  SnapshotJob(*job_, used, &info, &out);

  JobInfo summary;
  std::unique_ptr<LiveJob> back = Replay(out, &summary);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->id, kJob);
  EXPECT_EQ(back->expander->streams(), job_->expander->streams());
  ASSERT_TRUE(back->expander->pinned(0));
  EXPECT_EQ(back->expander->pin(0), pin.pin);
  EXPECT_FALSE(back->expander->pinned(1));
  EXPECT_EQ(back->done, 3u);
  EXPECT_EQ(back->dead, 1u);
  EXPECT_EQ(back->dead_letters.at(ChunkId{0, 3 * kChunk}).error, "bad data");
  EXPECT_EQ(back->failed_attempts, used);
  EXPECT_EQ(back->retried, 4u);  // kRetried comes after the kAttemptFailed records
  EXPECT_EQ(summary.id, kJob);
  EXPECT_EQ(summary.state, JobState::kDoneWithFailures);
}

}  // namespace
}  // namespace btrq::broker
