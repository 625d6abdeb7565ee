// Results awaiting the sink's ACK: due at once, resent after 1s, 2s, 4s ... capped at 10s,
// settled by an ACK of their key, forgotten when their job is cancelled.

#include "worker/delivery.h"

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace btrq::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using std::chrono::milliseconds;
using std::chrono::seconds;

TaskResult MakeResult(JobId job, int64_t start, uint32_t attempt = 1) {
  TaskResult r;
  r.task.key.job = job;
  r.task.key.stream.bytes[0] = 1;
  r.task.key.start = start;
  r.task.attempt = attempt;
  r.end = start + 10;
  r.worker_id = std::string(1, 'w');  // not = "w": GCC 12 warns falsely (-Wrestrict)
  r.fields = {{"n", int64_t{1}}};
  return r;
}

std::vector<int64_t> Starts(const std::vector<const TaskResult*>& results) {
  std::vector<int64_t> out;
  for (const TaskResult* r : results) out.push_back(r->task.key.start);
  return out;
}

class ResultDeliveryTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  ResultDelivery delivery_{DeliveryOptions{}, &clock_};
};

TEST_F(ResultDeliveryTest, ANewResultIsDueAtOnceAndOnlyOnce) {
  delivery_.Add(MakeResult(1, 100));
  std::vector<const TaskResult*> due;
  EXPECT_EQ(delivery_.CollectDue(&due), 0u) << "a first send is not a resend";
  EXPECT_THAT(Starts(due), ElementsAre(100));
  due.clear();
  delivery_.CollectDue(&due);
  EXPECT_THAT(due, IsEmpty());
  EXPECT_EQ(delivery_.size(), 1u);
}

TEST_F(ResultDeliveryTest, UnackedResultsAreResentWithDoublingBackoffUpToTenSeconds) {
  delivery_.Add(MakeResult(1, 100));
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  // Resends after 1, 2, 4, 8, 10, 10 seconds.
  for (int wait_s : {1, 2, 4, 8, 10, 10}) {
    clock_.Advance(seconds(wait_s) - milliseconds(1));
    due.clear();
    EXPECT_EQ(delivery_.CollectDue(&due), 0u) << "too early before the " << wait_s << "s resend";
    clock_.Advance(milliseconds(1));
    due.clear();
    EXPECT_EQ(delivery_.CollectDue(&due), 1u) << "the " << wait_s << "s resend";
    EXPECT_THAT(Starts(due), ElementsAre(100));
  }
}

TEST_F(ResultDeliveryTest, NextDueIsTheEarliestResend) {
  EXPECT_FALSE(delivery_.NextDue().has_value());
  delivery_.Add(MakeResult(1, 100));
  EXPECT_EQ(delivery_.NextDue(), clock_.Now());
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  EXPECT_EQ(delivery_.NextDue(), clock_.Now() + seconds(1));
}

TEST_F(ResultDeliveryTest, AnAckSettlesItsKeyAndNamesTheTask) {
  delivery_.Add(MakeResult(1, 100, /*attempt=*/3));
  delivery_.Add(MakeResult(1, 200));
  std::vector<TaskRef> done;
  delivery_.Ack(MakeResult(1, 100).task.key, &done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], MakeResult(1, 100, 3).task);
  EXPECT_EQ(delivery_.size(), 1u);

  done.clear();
  delivery_.Ack(MakeResult(1, 100).task.key, &done);
  EXPECT_THAT(done, IsEmpty()) << "a repeated ACK finds nothing";
  delivery_.Ack(MakeResult(9, 9).task.key, &done);
  EXPECT_THAT(done, IsEmpty()) << "an ACK of an unknown key is harmless";
}

TEST_F(ResultDeliveryTest, OneAckSettlesTwoAttemptsOfTheSameTask) {
  delivery_.Add(MakeResult(1, 100, 1));
  delivery_.Add(MakeResult(1, 100, 2));
  std::vector<TaskRef> done;
  delivery_.Ack(MakeResult(1, 100).task.key, &done);
  EXPECT_THAT(done, UnorderedElementsAre(MakeResult(1, 100, 1).task, MakeResult(1, 100, 2).task));
  EXPECT_TRUE(delivery_.empty());
}

TEST_F(ResultDeliveryTest, DropJobForgetsTheCancelledJobsResults) {
  delivery_.Add(MakeResult(1, 100));
  delivery_.Add(MakeResult(2, 100));
  delivery_.Add(MakeResult(1, 200));
  EXPECT_EQ(delivery_.DropJob(1), 2u);
  EXPECT_THAT(delivery_.Pending(), ElementsAre(MakeResult(2, 100).task));
}

TEST_F(ResultDeliveryTest, ResendAllNowMakesEverythingDueWithTheBackoffReset) {
  delivery_.Add(MakeResult(1, 100));
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  clock_.Advance(seconds(1));
  delivery_.CollectDue(&due);  // backoff now 2s
  delivery_.ResendAllNow();
  due.clear();
  delivery_.CollectDue(&due);
  EXPECT_THAT(Starts(due), ElementsAre(100));
  EXPECT_EQ(delivery_.NextDue(), clock_.Now() + seconds(1));
}

TEST_F(ResultDeliveryTest, NewResultsGoOutWhileOlderOnesWaitForTheirResend) {
  delivery_.Add(MakeResult(1, 100));
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  clock_.Advance(milliseconds(500));
  delivery_.Add(MakeResult(1, 200));
  delivery_.Add(MakeResult(1, 300));
  due.clear();
  EXPECT_EQ(delivery_.CollectDue(&due), 0u);
  EXPECT_THAT(Starts(due), ElementsAre(200, 300)) << "only the new ones, in the order added";
  EXPECT_EQ(delivery_.NextDue(), clock_.Now() + milliseconds(500)) << "the first one's resend";

  clock_.Advance(milliseconds(500));
  due.clear();
  EXPECT_EQ(delivery_.CollectDue(&due), 1u);
  EXPECT_THAT(Starts(due), ElementsAre(100));
  EXPECT_EQ(delivery_.NextDue(), clock_.Now() + milliseconds(500));
}

TEST_F(ResultDeliveryTest, AResultAddedTwiceBeforeASendGoesOutOnceEach) {
  delivery_.Add(MakeResult(1, 100, 1));
  delivery_.Add(MakeResult(1, 100, 2));
  std::vector<const TaskResult*> due;
  EXPECT_EQ(delivery_.CollectDue(&due), 0u);
  EXPECT_EQ(due.size(), 2u);
  due.clear();
  delivery_.Add(MakeResult(1, 100, 3));  // the key again, while the others await an ACK
  delivery_.CollectDue(&due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0]->task.attempt, 3u);
}

TEST_F(ResultDeliveryTest, NextDueIsNeverLateAndExactAgainAfterACollect) {
  delivery_.Add(MakeResult(1, 100));
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  clock_.Advance(milliseconds(500));
  delivery_.Add(MakeResult(1, 200));
  delivery_.CollectDue(&due);
  std::vector<TaskRef> done;
  delivery_.Ack(MakeResult(1, 100).task.key, &done);
  // The earliest resend was ACKed: NextDue may still name its time, never a later one.
  ASSERT_TRUE(delivery_.NextDue().has_value());
  EXPECT_LE(*delivery_.NextDue(), clock_.Now() + seconds(1));
  clock_.Advance(milliseconds(500));
  due.clear();
  EXPECT_EQ(delivery_.CollectDue(&due), 0u);
  EXPECT_THAT(due, IsEmpty());
  EXPECT_EQ(delivery_.NextDue(), clock_.Now() + milliseconds(500)) << "exact again";

  delivery_.Ack(MakeResult(1, 200).task.key, &done);
  EXPECT_FALSE(delivery_.NextDue().has_value());
}

TEST_F(ResultDeliveryTest, AResultAckedBeforeItsFirstSendIsNotSent) {
  delivery_.Add(MakeResult(1, 100));
  delivery_.Add(MakeResult(2, 100));
  std::vector<TaskRef> done;
  delivery_.Ack(MakeResult(1, 100).task.key, &done);
  EXPECT_EQ(delivery_.DropJob(2), 1u);
  std::vector<const TaskResult*> due;
  delivery_.CollectDue(&due);
  EXPECT_THAT(due, IsEmpty());
}

}  // namespace
}  // namespace btrq::worker
