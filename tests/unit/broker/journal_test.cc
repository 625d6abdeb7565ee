#include "broker/journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "broker/journal_records.h"
#include "common/crc32c.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::FakeClock;
using btrq::testing::StatusIs;
using btrq::testing::TestUuid;
using std::chrono::milliseconds;

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions Options() const {
    JournalOptions o;
    o.dir = dir_.path();
    o.sync_interval = milliseconds(2);
    return o;
  }
  Result<std::unique_ptr<Journal>> Open(JournalOptions o) {
    Result<std::unique_ptr<Journal>> j = Journal::Open(o, &clock_, &env_);
    if (j.ok()) (*j)->SetWakeup(wakeups_.Hook());
    return j;
  }
  Result<std::unique_ptr<Journal>> Open() { return Open(Options()); }
  std::vector<std::string> Recovered(const Journal& j) { return RecoveredPayloads(j); }
  std::string LogPath() const { return dir_.path() + "/journal.log"; }
  uint64_t LogSize() const { return std::filesystem::file_size(LogPath()); }
  void FlipByteAt(uint64_t offset) {
    std::fstream f(LogPath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x5A));
  }

  // The dispatcher loop's journal step once the sync interval has passed: hands the
  // buffer to the journal thread, waits for its wakeup, collects the group.
  Status PollAfterInterval(Journal& j) {
    clock_.Advance(milliseconds(2));
    const uint64_t seen = wakeups_.count();
    Status s = j.Poll();
    if (!s.ok() || !j.group_in_flight()) return s;
    if (!wakeups_.WaitBeyond(seen)) return Status::DeadlineExceeded("the group never finished");
    return j.Poll();
  }

  TempDir dir_;
  FakeClock clock_;
  FaultEnv env_;
  WakeupCounter wakeups_;
};

// Holds the journal thread inside its next fdatasync until opened; later syncs pass.
class SyncGate {
 public:
  // For FaultEnv::before_sync: says the sync started, then waits for Open().
  std::function<void()> Hook() {
    return [this] {
      if (used_.exchange(true)) return;
      started_.set_value();
      opened_.wait();
    };
  }
  SyncGate() = default;
  SyncGate(const SyncGate&) = delete;
  SyncGate& operator=(const SyncGate&) = delete;
  ~SyncGate() { Open(); }  // never leaves the journal thread stuck after a failed test
  void WaitStarted() { started_.get_future().wait(); }
  void Open() {
    if (!opened_once_.exchange(true)) open_.set_value();
  }

 private:
  std::promise<void> started_;
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
  std::atomic<bool> used_{false};
  std::atomic<bool> opened_once_{false};
};

TEST_F(JournalTest, RecordsSurviveReopenInOrder) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    EXPECT_EQ(j->Append("one"), 1u);
    EXPECT_EQ(j->Append(std::string(100000, 'x')), 2u);
    EXPECT_EQ(j->Append("3"), 3u);  // never empty: an empty frame reads as zero fill
    ASSERT_OK(j->Sync());
    EXPECT_EQ(j->durable_seq(), 3u);
  }
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"one", std::string(100000, 'x'), "3"}));
  EXPECT_EQ(j->recovery().truncated_bytes, 0u);
}

TEST_F(JournalTest, GroupCommitWritesAndSyncsOncePerInterval) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  int acked = 0;
  for (int i = 0; i < 100; ++i) j->Append("done");
  j->AppendAcked("job", [&](const Status& s) {
    EXPECT_OK(s);
    ++acked;
  });
  ASSERT_OK(j->Poll());
  EXPECT_FALSE(j->group_in_flight());  // not due yet
  EXPECT_EQ(acked, 0);
  EXPECT_EQ(j->NextSyncAt(), clock_.Now() + milliseconds(2));
  ASSERT_OK(PollAfterInterval(*j));
  EXPECT_EQ(j->stats().writes, 1u);
  EXPECT_EQ(j->stats().syncs, 1u);
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(j->durable_seq(), 101u);
  EXPECT_FALSE(j->NextSyncAt().has_value());
  EXPECT_FALSE(j->group_in_flight());
}

TEST_F(JournalTest, PollNeverWaitsForTheDiskAndCallbacksRunOnlyInPoll) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  SyncGate gate;
  env_.before_sync = gate.Hook();
  std::vector<std::string> events;
  const std::thread::id owner = std::this_thread::get_id();
  j->AppendAcked("job 1", [&](const Status& s) {
    EXPECT_OK(s);
    EXPECT_EQ(std::this_thread::get_id(), owner);
    events.push_back("job 1 durable");
  });
  clock_.Advance(milliseconds(2));
  const uint64_t seen = wakeups_.count();
  ASSERT_OK(j->Poll());  // hands the group over and returns
  gate.WaitStarted();    // the journal thread is inside fdatasync now
  EXPECT_TRUE(j->group_in_flight());
  EXPECT_FALSE(j->NextSyncAt().has_value());  // the wakeup will tell
  // The owner keeps appending and polling while the disk is busy.
  j->AppendAcked("job 2", [&](const Status& s) {
    EXPECT_OK(s);
    events.push_back("job 2 durable");
  });
  clock_.Advance(milliseconds(2));
  ASSERT_OK(j->Poll());
  EXPECT_EQ(j->durable_seq(), 0u);
  EXPECT_TRUE(events.empty());

  gate.Open();
  ASSERT_TRUE(wakeups_.WaitBeyond(seen));
  EXPECT_TRUE(events.empty());  // not until the owner polls
  EXPECT_EQ(j->NextSyncAt(), SteadyTime{});  // a finished group awaits collection
  ASSERT_OK(j->Poll());  // collects group 1 and hands over group 2, now due
  EXPECT_EQ(events, (std::vector<std::string>{"job 1 durable"}));
  EXPECT_EQ(j->durable_seq(), 1u);
  ASSERT_OK(j->Sync());
  EXPECT_EQ(events, (std::vector<std::string>{"job 1 durable", "job 2 durable"}));
  EXPECT_EQ(j->durable_seq(), 2u);
  EXPECT_EQ(j->stats().syncs, 2u);
}

TEST_F(JournalTest, OnSyncIsToldEachSyncOnTheOwnersThread) {
  JournalOptions o = Options();
  std::vector<Nanos> syncs;
  const std::thread::id owner = std::this_thread::get_id();
  o.on_sync = [&](Nanos d) {
    EXPECT_EQ(std::this_thread::get_id(), owner);
    syncs.push_back(d);
  };
  ASSERT_OK_AND_ASSIGN(auto j, Open(o));
  j->Append("a");
  ASSERT_OK(PollAfterInterval(*j));
  j->Append("b");
  ASSERT_OK(j->Sync());
  ASSERT_EQ(syncs.size(), 2u);
  EXPECT_EQ(j->stats().last_sync_duration, syncs[1]);
}

TEST_F(JournalTest, DestroyingTheJournalFinishesTheGroupInFlight) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    j->Append("handed over");
    clock_.Advance(milliseconds(2));
    ASSERT_OK(j->Poll());
    j->Append("still buffered");
  }
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"handed over"}));
}

TEST_F(JournalTest, UnsyncedRecordsAreLostOnCrashButSyncedOnesAreNot) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    j->Append("durable");
    ASSERT_OK(j->Sync());
    j->Append("buffered only");  // the process dies before the group commit
  }
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"durable"}));
}

TEST_F(JournalTest, TornTailIsCutOffAndAppendsContinue) {
  uint64_t good = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    j->Append("a");
    j->Append("b");
    ASSERT_OK(j->Sync());
    good = LogSize();
    j->Append("a record cut short by the crash");
    ASSERT_OK(j->Sync());
  }
  std::filesystem::resize_file(LogPath(), LogSize() - 5);
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"a", "b"}));
    EXPECT_GT(j->recovery().truncated_bytes, 0u);
    EXPECT_EQ(LogSize(), good);
    j->Append("c");
    ASSERT_OK(j->Sync());
  }
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(JournalTest, CorruptLastRecordIsCutOff) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    j->Append("keep");
    j->Append("garbled");
    ASSERT_OK(j->Sync());
  }
  FlipByteAt(LogSize() - 3);
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(j->recovery().truncated_bytes, 8u + 7u);
}

TEST_F(JournalTest, CorruptRecordInTheMiddleFailsOpen) {
  uint64_t middle = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    j->Append("first");
    ASSERT_OK(j->Sync());
    middle = LogSize();
    j->Append("second");
    j->Append("third");
    ASSERT_OK(j->Sync());
  }
  FlipByteAt(middle + 8 + 2);  // inside "second"'s payload
  Result<std::unique_ptr<Journal>> refused = Open();
  ASSERT_THAT(refused.status(), StatusIs(StatusCode::kIoError));
  EXPECT_NE(refused.status().message().find("corrupt record at offset " + std::to_string(middle)),
            std::string::npos);
  // journal_damage_test.cc: what --salvage-journal then keeps.
}

TEST_F(JournalTest, AFileWithAForeignHeaderIsRefused) {
  const std::string payload = "some other format";
  std::string frame(8, '\0');
  const uint32_t len = static_cast<uint32_t>(payload.size());
  const uint32_t crc = Crc32c(payload);
  for (int i = 0; i < 4; ++i) {
    frame[i] = static_cast<char>((len >> (8 * i)) & 0xFF);
    frame[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  }
  std::ofstream(LogPath(), std::ios::binary) << frame << payload;
  Result<std::unique_ptr<Journal>> j = Open();
  ASSERT_THAT(j.status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(JournalTest, FullDiskFailsAcknowledgedRecordsAndKeepsTheRest) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  j->Append("before");
  ASSERT_OK(j->Sync());
  env_.fail_writes = true;
  env_.partial_bytes = 5;  // a torn frame reaches the file before ENOSPC
  Status acked_status;
  j->Append("done record");
  j->AppendAcked("job record", [&](const Status& s) { acked_status = s; });
  const Status s = j->Sync();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_EQ(acked_status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(acked_status.message().find("No space left"), std::string::npos);
  EXPECT_EQ(j->durable_seq(), 1u);

  env_.fail_writes = false;
  ASSERT_OK(j->Sync());
  EXPECT_EQ(j->durable_seq(), 3u);
  j.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Open());
  EXPECT_EQ(Recovered(*reopened), (std::vector<std::string>{"before", "done record"}));
  EXPECT_EQ(reopened->recovery().truncated_bytes, 0u);
}

TEST_F(JournalTest, AFailedGroupIsRetriedAheadOfLaterRecords) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  env_.fail_writes = true;
  env_.partial_bytes = 3;
  Status acked_status;
  j->Append("a");
  j->AppendAcked("job", [&](const Status& s) { acked_status = s; });
  clock_.Advance(milliseconds(2));
  const uint64_t seen = wakeups_.count();
  ASSERT_OK(j->Poll());
  j->Append("b");  // while the group is in flight
  ASSERT_TRUE(wakeups_.WaitBeyond(seen));
  env_.fail_writes = false;
  EXPECT_EQ(j->Poll().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(acked_status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(j->stats().failures, 1u);
  EXPECT_EQ(j->durable_seq(), 0u);
  ASSERT_OK(j->Sync());
  EXPECT_EQ(j->durable_seq(), 3u);
  j.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Open());
  EXPECT_EQ(Recovered(*reopened), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reopened->recovery().truncated_bytes, 0u);
}

TEST_F(JournalTest, FailedSyncIsReportedToo) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  env_.fail_syncs = true;
  env_.error_number = EIO;
  Status acked_status;
  j->AppendAcked("job", [&](const Status& s) { acked_status = s; });
  EXPECT_EQ(j->Sync().code(), StatusCode::kIoError);
  EXPECT_EQ(acked_status.code(), StatusCode::kIoError);
}

TEST_F(JournalTest, RewriteReplacesTheLogAtomically) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    for (int i = 0; i < 50; ++i) j->Append("old " + std::to_string(i));
    ASSERT_OK(j->Sync());
    int acked = 0;
    j->AppendAcked("pending", [&](const Status& s) { acked += s.ok(); });
    ASSERT_OK(j->Rewrite({"snap1", "snap2"}));
    EXPECT_EQ(acked, 1);
    j->Append("after");
    ASSERT_OK(j->Sync());
  }
  EXPECT_FALSE(std::filesystem::exists(LogPath() + ".tmp"));
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"snap1", "snap2", "after"}));
}

TEST_F(JournalTest, RewriteWaitsForTheGroupInFlightAndSubsumesIt) {
  {
    ASSERT_OK_AND_ASSIGN(auto j, Open());
    SyncGate gate;
    env_.before_sync = gate.Hook();
    int acked = 0;
    j->Append("old");
    j->AppendAcked("in flight", [&](const Status& s) { acked += s.ok(); });
    clock_.Advance(milliseconds(2));
    ASSERT_OK(j->Poll());
    gate.WaitStarted();
    j->AppendAcked("buffered", [&](const Status& s) { acked += s.ok(); });
    std::thread opener([&] { gate.Open(); });
    const Status rewritten = j->Rewrite({"snap"});
    opener.join();
    ASSERT_OK(rewritten);
    EXPECT_EQ(acked, 2);
    EXPECT_EQ(j->durable_seq(), 3u);
    EXPECT_FALSE(j->group_in_flight());
    j->Append("after");
    ASSERT_OK(j->Sync());
  }
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  EXPECT_EQ(Recovered(*j), (std::vector<std::string>{"snap", "after"}));
}

TEST_F(JournalTest, RewriteSubsumesAGroupThatFailedInFlight) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  env_.fail_syncs = true;
  env_.error_number = EIO;
  Status acked_status = Status::Internal("not run");
  j->AppendAcked("job", [&](const Status& s) { acked_status = s; });
  clock_.Advance(milliseconds(2));
  const uint64_t seen = wakeups_.count();
  ASSERT_OK(j->Poll());
  ASSERT_TRUE(wakeups_.WaitBeyond(seen));
  env_.fail_syncs = false;
  ASSERT_OK(j->Rewrite({"snap with the job"}));
  EXPECT_OK(acked_status);
  EXPECT_EQ(j->stats().failures, 1u);
  j.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Open());
  EXPECT_EQ(Recovered(*reopened), (std::vector<std::string>{"snap with the job"}));
}

// The rename of a compaction is durable only once its directory is synced: until then
// nothing it subsumed, and nothing appended after it, is acknowledged as durable.
TEST_F(JournalTest, RewriteWhoseDirectorySyncFailsAcknowledgesNothingUntilItSucceeds) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  j->Append("old");
  ASSERT_OK(j->Sync());
  Status subsumed = Status::Internal("not run");
  j->AppendAcked("pending", [&](const Status& s) { subsumed = s; });
  env_.fail_dir_syncs = true;
  env_.error_number = EIO;
  EXPECT_EQ(j->Rewrite({"snap"}).code(), StatusCode::kIoError);
  EXPECT_EQ(subsumed.code(), StatusCode::kIoError);
  EXPECT_EQ(j->durable_seq(), 1u);
  Status after = Status::Internal("not run");
  j->AppendAcked("after", [&](const Status& s) { after = s; });
  EXPECT_EQ(j->Sync().code(), StatusCode::kIoError);
  EXPECT_EQ(after.code(), StatusCode::kIoError);
  EXPECT_EQ(j->durable_seq(), 1u);

  env_.fail_dir_syncs = false;
  j->Append("later");
  ASSERT_OK(j->Sync());
  EXPECT_EQ(j->durable_seq(), j->appended_seq());
  j.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Open());
  EXPECT_EQ(Recovered(*reopened), (std::vector<std::string>{"snap", "later"}));
}

TEST(JournalRecords, JobSpecRoundTrips) {
  JobSpec s;
  s.name = "quality-2024";
  s.collection = "sensors/";
  s.collection_prefix = true;
  s.tags = {{"unit", "volts"}};
  s.annotations = {{"rate", std::nullopt}, {"site", std::string("north")}};
  s.streams = {TestUuid(1), TestUuid(2)};
  s.start = -123;
  s.end = 456;
  s.chunk = 60;
  s.analytic = "quality";
  s.params = {{"rate", 120.5}, {"n", int64_t{-3}}, {"mode", std::string("strict")}};
  s.priority = -2;
  s.max_attempts = 5;
  s.task_timeout = 999;
  s.versions = {{TestUuid(1), 17}};
  std::string payload;
  EncodeJob(&payload, 42, /*nonce=*/0, s, -7);
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(payload));
  EXPECT_EQ(r.type, RecordType::kJob);
  EXPECT_EQ(r.job, 42u);
  EXPECT_EQ(r.wall_ns, -7);
  EXPECT_EQ(r.spec.name, s.name);
  EXPECT_EQ(r.spec.collection_prefix, true);
  EXPECT_EQ(r.spec.tags, s.tags);
  EXPECT_EQ(r.spec.annotations, s.annotations);
  EXPECT_EQ(r.spec.streams, s.streams);
  EXPECT_EQ(r.spec.start, s.start);
  EXPECT_EQ(r.spec.end, s.end);
  EXPECT_EQ(r.spec.chunk, 60);
  EXPECT_EQ(r.spec.params, s.params);
  EXPECT_EQ(r.spec.priority, -2);
  EXPECT_EQ(r.spec.max_attempts, 5u);
  EXPECT_EQ(r.spec.task_timeout, 999);
  EXPECT_EQ(r.spec.versions, s.versions);
}

TEST(JournalRecords, TruncatedOrUnknownPayloadsAreErrors) {
  std::string payload;
  EncodeDead(&payload, 1, 2, -300, 3, "boom");
  ASSERT_OK_AND_ASSIGN(JournalRecord r, DecodeRecord(payload));
  EXPECT_EQ(r.start, -300);
  EXPECT_EQ(r.message, "boom");
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(payload.substr(0, n)).ok()) << n;
  }
  EXPECT_EQ(DecodeRecord("\x7f\x01").status().code(), StatusCode::kInvalidMessage);
}

TEST_F(JournalTest, WhenDurableWaitsForEverythingAppendedSoFar) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  int ran = 0;
  j->WhenDurable([&](const Status& s) {
    EXPECT_OK(s);
    ++ran;
  });
  EXPECT_EQ(ran, 1);  // nothing pending: at once
  j->Append("cancel");
  Status answer = Status::Internal("not run");
  j->WhenDurable([&](const Status& s) { answer = s; });
  j->Append("later");  // not waited for
  EXPECT_EQ(answer.code(), StatusCode::kInternal);
  ASSERT_OK(j->Sync());
  EXPECT_OK(answer);
}

TEST_F(JournalTest, WhenDurableGetsTheErrorAndTheRecordIsKeptForRetry) {
  ASSERT_OK_AND_ASSIGN(auto j, Open());
  env_.fail_writes = true;
  j->Append("cancel");
  Status answer;
  j->WhenDurable([&](const Status& s) { answer = s; });
  EXPECT_EQ(j->Sync().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(answer.code(), StatusCode::kResourceExhausted);
  env_.fail_writes = false;
  ASSERT_OK(j->Sync());
  j.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Open());
  EXPECT_EQ(Recovered(*reopened), (std::vector<std::string>{"cancel"}));
}

}  // namespace
}  // namespace btrq::broker
