// A result is a pure function of what was pinned: the stream params travel in the pin
// (journaled with it, never read at dispatch), a pin from an old journal is read again
// before its tasks dispatch, and the scheduler never waits for BTrDB (its catalog calls
// run on the CatalogRunner's threads).

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "broker/scheduler.h"
#include "common/coding.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_stream_catalog.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/broker/journal_test_util.h"

namespace btrq::broker {
namespace {

using btrq::testing::BorrowedCatalog;
using btrq::testing::FakeClock;
using btrq::testing::FakeStreamCatalog;
using btrq::testing::TestUuid;

constexpr int64_t kChunk = 10;

JobSpec Spec() {
  JobSpec s;
  s.collection = "c";
  s.chunk = kChunk;
  s.analytic = "quality";
  s.params = {{"stuck_min", int64_t{4}}};
  return s;
}

HelloMsg Hello(const std::string& id) {
  HelloMsg h;
  h.worker_id = id;
  h.analytics = {"quality"};
  return h;
}

const FieldValue* Param(const TaskSpec& t, const std::string& name) {
  for (const auto& [n, v] : t.params) {
    if (n == name) return &v;
  }
  return nullptr;
}

class SchedulerPinningTest : public ::testing::Test {
 protected:
  SchedulerPinningTest() {
    catalog_.AddStream(TestUuid(1), 0, 3 * kChunk - 1, /*version=*/44);
    catalog_.SetParams(TestUuid(1), {{"rate", 5.0}, {"min", -1.0}, {"max", 1.0}});
  }

  void Start() {
    sched_.reset();
    JournalOptions jo;
    jo.dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> journal, Journal::Open(jo, &clock_));
    ASSERT_OK_AND_ASSIGN(sched_, Scheduler::Create(options_, &clock_, &catalog_,
                                                   std::move(journal)));
    sched_->OnWorkerHello(Hello("w1"));
    ASSERT_OK(sched_->OnWorkerCredit("w1", 1000));
  }

  // Expands until the pins made are durable, then dispatches.
  std::vector<TaskSpec> Dispatch() {
    sched_->Expand();
    EXPECT_OK(sched_->SyncJournal());
    sched_->Expand();
    return sched_->NextDispatch("w1");
  }

  SchedulerOptions options_;
  FakeClock clock_;
  FakeStreamCatalog catalog_;
  TempDir dir_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerPinningTest, TasksCarryTheParamsPinnedWithTheVersionAcrossARestart) {
  Start();
  ASSERT_OK(sched_->SubmitJob(Spec(), {}).status());
  ASSERT_OK(sched_->SyncJournal());
  sched_->Expand();
  ASSERT_OK(sched_->SyncJournal());
  // The annotations change after the pin: the job keeps what it pinned.
  catalog_.SetParams(TestUuid(1), {{"rate", 50.0}});
  const std::vector<TaskSpec> first = Dispatch();
  ASSERT_EQ(first.size(), 3u);
  for (const TaskSpec& t : first) {
    EXPECT_EQ(t.version, 44u);
    ASSERT_NE(Param(t, "rate"), nullptr);
    EXPECT_EQ(*Param(t, "rate"), FieldValue(5.0));
    EXPECT_EQ(*Param(t, "max"), FieldValue(1.0));
    EXPECT_EQ(*Param(t, "stuck_min"), FieldValue(int64_t{4}));
  }

  // A crash, then a restart while BTrDB is away: the same tasks, the same params.
  const int pins_before = catalog_.pin_calls();
  catalog_.FailPin(Status::Unavailable("btrdb away"));
  Start();
  const std::vector<TaskSpec> again = Dispatch();
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].key, first[i].key);
    EXPECT_EQ(again[i].params, first[i].params);
  }
  EXPECT_EQ(catalog_.pin_calls(), pins_before);  // nothing asked of BTrDB
}

// A journal written before pins carried params: kPin without its tail.
std::string OldPinRecord(JobId job, uint32_t index, uint64_t version, int64_t earliest,
                         int64_t latest) {
  std::string out;
  out.push_back(static_cast<char>(RecordType::kPin));
  PutVarint64(&out, job);
  PutVarint64(&out, index);
  PutVarint64(&out, version);
  PutVarsint64(&out, earliest);
  PutVarsint64(&out, latest);
  out.push_back(1);  // has_data
  return out;
}

TEST(PinRecord, CarriesTheParamsAndAnOldRecordDecodesWithoutThem) {
  StreamPin pin{9, -5, 77, true};
  pin.params = {{"rate", 30.0}, {"min", int64_t{-2}}, {"unit", std::string("V")}};
  std::string rec;
  EncodePin(&rec, 3, 1, pin);
  ASSERT_OK_AND_ASSIGN(JournalRecord decoded, DecodeRecord(rec));
  EXPECT_EQ(decoded.type, RecordType::kPin);
  EXPECT_EQ(decoded.pin, pin);

  ASSERT_OK_AND_ASSIGN(JournalRecord old, DecodeRecord(OldPinRecord(3, 1, 9, -5, 77)));
  EXPECT_FALSE(old.pin.params_pinned);
  EXPECT_TRUE(old.pin.params.empty());
  EXPECT_EQ(old.pin.version, 9u);
  EXPECT_EQ(old.pin.latest, 77);
  // And a pin still without params is written in the old form, so it stays "unpinned".
  rec.clear();
  EncodePin(&rec, 3, 1, old.pin);
  EXPECT_EQ(rec, OldPinRecord(3, 1, 9, -5, 77));
}

TEST_F(SchedulerPinningTest, APinFromAnOldJournalIsReadAgainBeforeItsTasksDispatch) {
  {
    JournalOptions jo;
    jo.dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Journal> old, Journal::Open(jo, &clock_));
    std::string rec;
    EncodeJob(&rec, 1, /*nonce=*/0, Spec(), 0);
    old->Append(rec);
    rec.clear();
    EncodeStreams(&rec, 1, {TestUuid(1)});
    old->Append(rec);
    old->Append(OldPinRecord(1, 0, 40, 0, 3 * kChunk - 1));
    ASSERT_OK(old->Sync());
  }
  ASSERT_OK_AND_ASSIGN(JournalRecord decoded, DecodeRecord(OldPinRecord(1, 0, 40, 0, 29)));
  EXPECT_FALSE(decoded.pin.params_pinned);

  // BTrDB is away: the task waits, it never goes out without its params.
  catalog_.FailPin(Status::Unavailable("btrdb away"));
  Start();
  EXPECT_TRUE(Dispatch().empty());
  ASSERT_OK_AND_ASSIGN(JobInfo waiting, sched_->GetJob(1));
  EXPECT_NE(waiting.error.find("waiting for BTrDB"), std::string::npos) << waiting.error;
  EXPECT_EQ(waiting.counts.total, 3u);

  // Back: the params are read at the pinned version, journaled, then the tasks go.
  clock_.Advance(options_.expand_retry);
  const std::vector<TaskSpec> tasks = Dispatch();
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].version, 40u);  // as pinned, not the stream's current 44
  EXPECT_EQ(*Param(tasks[0], "min"), FieldValue(-1.0));
  ASSERT_OK_AND_ASSIGN(JobInfo running, sched_->GetJob(1));
  EXPECT_EQ(running.error, "");

  // The params read are journaled: the next restart needs no BTrDB.
  const int pins_before = catalog_.pin_calls();
  Start();
  ASSERT_EQ(Dispatch().size(), 3u);
  EXPECT_EQ(catalog_.pin_calls(), pins_before);
}

// A catalog whose calls wait until opened, as BTrDB under SIGSTOP does.
class GatedCatalog final : public StreamCatalog {
 public:
  explicit GatedCatalog(StreamCatalog* inner) : inner_(inner) {}
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  Result<std::vector<StreamRef>> ListStreams(const JobSpec& spec) override {
    Wait();
    return inner_->ListStreams(spec);
  }
  Result<StreamPin> PinStream(const Uuid& uuid, uint64_t version) override {
    Wait();
    return inner_->PinStream(uuid, version);
  }

 private:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  StreamCatalog* const inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(SchedulerCatalogTest, ExpandNeverWaitsForBtrdb) {
  FakeClock clock;
  FakeStreamCatalog fake;
  fake.AddStream(TestUuid(1), 0, 3 * kChunk - 1);
  GatedCatalog gated(&fake);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CatalogRunner> runner,
                       CatalogRunner::Start(1, [&gated]() -> Result<std::unique_ptr<StreamCatalog>> {
                         return std::unique_ptr<StreamCatalog>(new BorrowedCatalog(&gated));
                       }));
  WakeupCounter wakeups;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> sched,
                       Scheduler::Create(SchedulerOptions(), &clock, std::move(runner), nullptr));
  sched->SetWakeup(wakeups.Hook());
  // Whatever happens below, the runner's thread must not stay in the gate.
  struct OpenAtEnd {
    GatedCatalog* gate;
    ~OpenAtEnd() { gate->Open(); }
  } open_at_end{&gated};
  sched->OnWorkerHello(Hello("w1"));
  ASSERT_OK(sched->OnWorkerCredit("w1", 100));
  ASSERT_OK_AND_ASSIGN(JobId id, sched->SubmitJob(Spec(), {}));

  // The listing hangs in BTrDB; Expand returns, and so does everything else.
  for (int i = 0; i < 3; ++i) sched->Expand();
  EXPECT_TRUE(sched->NextDispatch("w1").empty());
  ASSERT_OK_AND_ASSIGN(JobInfo info, sched->GetJob(id));
  EXPECT_EQ(info.state, JobState::kExpanding);

  gated.Open();
  // The answers wake the loop: the list, then the pin.
  for (int round = 0; round < 10; ++round) {
    const uint64_t seen = wakeups.count();
    sched->Expand();
    ASSERT_OK_AND_ASSIGN(JobInfo now, sched->GetJob(id));
    if (now.counts.total_final) break;
    ASSERT_TRUE(wakeups.WaitBeyond(seen)) << "no catalog answer woke the loop";
  }
  ASSERT_OK_AND_ASSIGN(JobInfo running, sched->GetJob(id));
  EXPECT_EQ(running.state, JobState::kRunning);
  EXPECT_EQ(running.counts.total, 3u);
  EXPECT_EQ(sched->NextDispatch("w1").size(), 3u);
}

}  // namespace
}  // namespace btrq::broker
