#include "sink/result_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::sink {
namespace {

using ::testing::ElementsAre;

Uuid StreamN(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  return u;
}

TaskResult MakeResult(JobId job, uint8_t stream, int64_t start, uint32_t attempt = 1,
                      std::string worker = "w1") {
  TaskResult r;
  r.task.key = TaskKey{job, StreamN(stream), start};
  r.task.attempt = attempt;
  r.end = start + 100;
  r.version = 42;
  r.worker_id = std::move(worker);
  r.fields = {{"count", int64_t{10}}, {"score", 0.5}, {"note", std::string("ok")}};
  r.duration_ns = 1234;
  r.points_read = 10;
  return r;
}

class ResultStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ResultStore> OpenStore(bool read_only = false) {
    ResultStoreOptions options;
    options.path = dir_.File("results.db");
    options.read_only = read_only;
    auto store = ResultStore::Open(options, &clock_);
    EXPECT_OK(store);
    return store.ok() ? std::move(*store) : nullptr;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
};

TEST_F(ResultStoreTest, StoresAResultAndReadsItBack) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TaskResult r = MakeResult(7, 1, 1000);
  ASSERT_OK_AND_ASSIGN(auto outcomes, store->PutBatch({r}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kStored));

  ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(r.task.key));
  EXPECT_EQ(got.result.task, r.task);
  EXPECT_EQ(got.result.end, r.end);
  EXPECT_EQ(got.result.version, r.version);
  EXPECT_EQ(got.result.worker_id, r.worker_id);
  EXPECT_EQ(got.result.fields, r.fields);
  EXPECT_EQ(got.result.duration_ns, r.duration_ns);
  EXPECT_EQ(got.result.points_read, r.points_read);
  EXPECT_EQ(got.stored_at, clock_.WallNanos());
}

TEST_F(ResultStoreTest, FirstResultWinsAndLaterDuplicatesAreDroppedAndCounted) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutBatch({MakeResult(7, 1, 1000, 1, "first")}));
  ASSERT_OK_AND_ASSIGN(auto outcomes, store->PutBatch({MakeResult(7, 1, 1000, 2, "second")}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kDuplicate));

  ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(TaskKey{7, StreamN(1), 1000}));
  EXPECT_EQ(got.result.worker_id, "first");
  EXPECT_EQ(got.result.task.attempt, 1u);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 1u);
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_EQ(stats.jobs, 1u);
}

TEST_F(ResultStoreTest, GroupCommitReportsEachItemIncludingDuplicatesWithinTheBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutBatch({MakeResult(1, 1, 0)}));
  ASSERT_OK_AND_ASSIGN(auto outcomes,
                       store->PutBatch({MakeResult(1, 1, 0), MakeResult(1, 1, 100),
                                        MakeResult(2, 1, 0), MakeResult(1, 1, 100, 2, "late")}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kDuplicate, PutOutcome::kStored,
                                    PutOutcome::kStored, PutOutcome::kDuplicate));
  EXPECT_THAT(store->CountJob(1).value_or(0), 2u);
  EXPECT_THAT(store->CountJob(2).value_or(0), 1u);
  EXPECT_THAT(store->CountJob(3).value_or(99), 0u);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 3u);
  EXPECT_EQ(stats.duplicates, 2u);
  EXPECT_EQ(stats.jobs, 2u);
}

TEST_F(ResultStoreTest, RejectsJobZeroWithoutStoringAnythingOfTheBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto outcomes = store->PutBatch({MakeResult(1, 1, 0), MakeResult(0, 1, 0)});
  EXPECT_EQ(outcomes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->CountJob(1).value_or(99), 0u);
}

TEST_F(ResultStoreTest, ReopenAfterCloseKeepsResultsAndCounters) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->PutBatch({MakeResult(3, 1, 0), MakeResult(3, 2, 0), MakeResult(3, 1, 0)}));
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 2u);
  EXPECT_EQ(stats.duplicates, 1u);
  ASSERT_OK_AND_ASSIGN(auto outcomes, store->PutBatch({MakeResult(3, 2, 0)}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kDuplicate));
}

TEST_F(ResultStoreTest, ReadOnlyStoreSeesTheWritersCommitsAndCannotWrite) {
  auto writer = OpenStore();
  ASSERT_NE(writer, nullptr);
  auto reader = OpenStore(/*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK(writer->PutBatch({MakeResult(5, 1, 0)}));
  EXPECT_EQ(reader->CountJob(5).value_or(0), 1u);
  EXPECT_EQ(reader->PutBatch({MakeResult(5, 1, 100)}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(ResultStoreTest, ReadOnlyOpenOfAMissingDatabaseFails) {
  ResultStoreOptions options;
  options.path = dir_.File("absent.db");
  options.read_only = true;
  EXPECT_FALSE(ResultStore::Open(options, &clock_).ok());
}

TEST_F(ResultStoreTest, PagesWalkAJobInKeyOrderWithoutOtherJobs) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Inserted out of order, with a neighbouring job on both sides.
  ASSERT_OK(store->PutBatch({MakeResult(9, 2, 100), MakeResult(9, 1, 200), MakeResult(8, 1, 0),
                             MakeResult(9, 1, -50), MakeResult(10, 1, 0), MakeResult(9, 2, 0)}));
  std::vector<TaskKey> seen;
  std::optional<TaskKey> after;
  for (int pages = 0; pages < 10; ++pages) {
    ASSERT_OK_AND_ASSIGN(auto page, store->ReadPage(9, after, 2));
    if (page.empty()) break;
    EXPECT_LE(page.size(), 2u);
    for (const StoredResult& r : page) seen.push_back(r.result.task.key);
    after = page.back().result.task.key;
  }
  EXPECT_THAT(seen, ElementsAre(TaskKey{9, StreamN(1), -50}, TaskKey{9, StreamN(1), 200},
                                TaskKey{9, StreamN(2), 0}, TaskKey{9, StreamN(2), 100}));
}

TEST_F(ResultStoreTest, LargeJobIdsAndVersionsRoundTrip) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TaskResult r = MakeResult(std::numeric_limits<JobId>::max(), 1, 0);
  r.version = std::numeric_limits<uint64_t>::max();
  ASSERT_OK(store->PutBatch({r}));
  ASSERT_OK_AND_ASSIGN(auto page, store->ReadPage(r.task.key.job, std::nullopt, 10));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].result.task.key.job, r.task.key.job);
  EXPECT_EQ(page[0].result.version, r.version);
}

TEST(FieldsBlob, RoundTripsEveryKindOfValue) {
  const Fields fields = {{"i", int64_t{-1}},
                         {"big", std::numeric_limits<int64_t>::min()},
                         {"d", -0.1},
                         {"inf", std::numeric_limits<double>::infinity()},
                         {"s", std::string("a\0b", 3)},
                         {"", std::string()}};
  ASSERT_OK_AND_ASSIGN(Fields back, DecodeFields(EncodeFields(fields)));
  EXPECT_EQ(back, fields);

  const Fields nan = {{"nan", std::numeric_limits<double>::quiet_NaN()}};
  ASSERT_OK_AND_ASSIGN(Fields nan_back, DecodeFields(EncodeFields(nan)));
  ASSERT_EQ(nan_back.size(), 1u);
  EXPECT_TRUE(std::isnan(std::get<double>(nan_back[0].second)));
}

TEST(FieldsBlob, RejectsCorruptBlobs) {
  const std::string good = EncodeFields({{"name", std::string("value")}});
  EXPECT_FALSE(DecodeFields("").ok());
  EXPECT_FALSE(DecodeFields(good.substr(0, good.size() - 1)).ok());
  EXPECT_FALSE(DecodeFields(good + "x").ok());
  EXPECT_FALSE(DecodeFields(std::string("\x01\xff\xff\xff\xff\x0f", 6)).ok());
  std::string bad_tag = EncodeFields({{"n", int64_t{1}}});
  bad_tag[4] = 9;  // format, count, name length, name, tag
  EXPECT_FALSE(DecodeFields(bad_tag).ok());
}

}  // namespace
}  // namespace btrq::sink
