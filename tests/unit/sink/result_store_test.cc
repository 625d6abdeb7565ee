#include "sink/result_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "common/text.h"
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
  Status OpenStoreStatus(bool read_only) {
    ResultStoreOptions options;
    options.path = dir_.File("results.db");
    options.read_only = read_only;
    return ResultStore::Open(options, &clock_).status();
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
  EXPECT_THAT(store->CountJob(1, 0).value_or(0), 2u);
  EXPECT_THAT(store->CountJob(2, 0).value_or(0), 1u);
  EXPECT_THAT(store->CountJob(3, 0).value_or(99), 0u);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 3u);
  EXPECT_EQ(stats.duplicates, 2u);
  EXPECT_EQ(stats.jobs, 2u);
}

// Batches of up to 100 results go through the multi-row INSERT (16 rows per statement)
// and the single-row tail. Keys repeat within batches and across them, so duplicates land
// anywhere in a statement: every outcome, stored row and counter must match a model in
// which the first result of each key wins.
TEST_F(ResultStoreTest, LargeBatchesWithScatteredDuplicatesMatchAFirstWinsModel) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::mt19937 rng(12345);
  std::map<TaskKey, uint32_t> first_attempt;  // the model
  std::map<JobId, uint64_t> per_job;
  uint64_t duplicates = 0;
  uint32_t attempt = 0;
  for (int batch_index = 0; batch_index < 40; ++batch_index) {
    std::vector<TaskResult> batch;
    const size_t size = 1 + rng() % 100;
    for (size_t i = 0; i < size; ++i) {
      // 2 jobs x 4 streams x 40 chunks: about a third of the keys repeat.
      const JobId job = 1 + rng() % 2;
      const uint8_t stream = static_cast<uint8_t>(rng() % 4);
      const int64_t start = static_cast<int64_t>(rng() % 40) * 100;
      batch.push_back(MakeResult(job, stream, start, ++attempt));
    }
    std::vector<PutOutcome> expected;
    for (const TaskResult& r : batch) {
      const bool fresh = first_attempt.emplace(r.task.key, r.task.attempt).second;
      expected.push_back(fresh ? PutOutcome::kStored : PutOutcome::kDuplicate);
      if (fresh) {
        ++per_job[r.task.key.job];
      } else {
        ++duplicates;
      }
    }
    ASSERT_OK_AND_ASSIGN(auto outcomes, store->PutBatch(batch));
    ASSERT_EQ(outcomes, expected) << "batch " << batch_index << " of " << size;
  }
  for (const auto& [key, attempt_stored] : first_attempt) {
    ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(key));
    EXPECT_EQ(got.result.task.attempt, attempt_stored) << key.ToString();
  }
  for (const auto& [job, n] : per_job) EXPECT_EQ(store->CountJob(job, 0).value_or(0), n);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, first_attempt.size());
  EXPECT_EQ(stats.duplicates, duplicates);
}

TEST_F(ResultStoreTest, RejectsJobZeroWithoutStoringAnythingOfTheBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto outcomes = store->PutBatch({MakeResult(1, 1, 0), MakeResult(0, 1, 0)});
  EXPECT_EQ(outcomes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->CountJob(1, 0).value_or(99), 0u);
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
  EXPECT_EQ(reader->CountJob(5, 0).value_or(0), 1u);
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
    ASSERT_OK_AND_ASSIGN(auto page, store->ReadPage(9, 0, after, 2));
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
  ASSERT_OK_AND_ASSIGN(auto page, store->ReadPage(r.task.key.job, 0, std::nullopt, 10));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].result.task.key.job, r.task.key.job);
  EXPECT_EQ(page[0].result.version, r.version);
}

TEST_F(ResultStoreTest, OutcomesFollowTheBatchOrderAndTheFirstOfEqualKeysWins) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Out of key order (the store inserts in key order), with an in-batch duplicate whose
  // first occurrence sorts after a different key.
  ASSERT_OK_AND_ASSIGN(auto outcomes,
                       store->PutBatch({MakeResult(4, 3, 0, 1, "first"), MakeResult(4, 1, 0),
                                        MakeResult(4, 3, 0, 2, "second"), MakeResult(4, 2, 0)}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kStored, PutOutcome::kStored,
                                    PutOutcome::kDuplicate, PutOutcome::kStored));
  ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(TaskKey{4, StreamN(3), 0}));
  EXPECT_EQ(got.result.worker_id, "first");
  EXPECT_EQ(store->CountJob(4, 0).value_or(0), 3u);
}

// Runs `sql` on a raw connection to `path`; fails the test on error.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The columns of the results table before schema 3.
constexpr char kOldColumns[] = R"sql(
  job INTEGER NOT NULL, stream BLOB NOT NULL, start INTEGER NOT NULL,
  end_ns INTEGER NOT NULL, version INTEGER NOT NULL, attempt INTEGER NOT NULL,
  worker TEXT NOT NULL, duration_ns INTEGER NOT NULL, points_read INTEGER NOT NULL,
  stored_at INTEGER NOT NULL, fields BLOB NOT NULL)sql";  // no closing parenthesis

// A result store as an older schema left it: `schema` (its schema_version rows and
// results table), the jobs and counters tables, job 6's one result `old` (stored at 77)
// and `duplicates` counted.
std::string OldStoreSql(const std::string& schema, int duplicates, const TaskResult& old) {
  return schema + R"sql(
CREATE TABLE jobs(job INTEGER PRIMARY KEY, results INTEGER NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO jobs(job, results) VALUES(6, 1);
INSERT INTO counters(name, value) VALUES('duplicates', )sql" +
         std::to_string(duplicates) + ");\nINSERT INTO results VALUES(6, x'" +
         HexOf(old.task.key.stream.AsBytes()) + "', " + std::to_string(old.task.key.start) +
         ", 600, 42, " + std::to_string(old.task.attempt) + ", '" + old.worker_id +
         "', 1234, 10, 77, x'" + HexOf(EncodeFields(old.fields)) + "');";
}

TEST_F(ResultStoreTest, OpeningASchemaVersionOneDatabaseMigratesItsResultsAndCounters) {
  const std::string path = dir_.File("results.db");
  const TaskResult old = MakeResult(6, 1, 500, 3, "old-worker");
  // A database as the first release wrote it: schema 1, one result, one duplicate seen.
  RawExec(path, OldStoreSql(R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES(1);
CREATE TABLE results()sql" + std::string(kOldColumns) +
                                ",\n  PRIMARY KEY(job, stream, start)) WITHOUT ROWID;",
                            1, old));

  // Read-only openers need the writer to migrate first.
  EXPECT_EQ(OpenStoreStatus(/*read_only=*/true).code(), StatusCode::kFailedPrecondition);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(old.task.key));
  EXPECT_EQ(got.result.worker_id, "old-worker");
  EXPECT_EQ(got.result.task.attempt, 3u);
  EXPECT_EQ(got.result.fields, old.fields);
  EXPECT_EQ(got.stored_at, 77);
  ASSERT_OK_AND_ASSIGN(auto outcomes,
                       store->PutBatch({MakeResult(6, 1, 500), MakeResult(6, 1, 600)}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kDuplicate, PutOutcome::kStored));
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 2u);
  EXPECT_EQ(stats.duplicates, 2u);
  ASSERT_OK_AND_ASSIGN(auto page, store->ReadPage(6, 0, std::nullopt, 10));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[1].result.task.key.start, 600);
  auto reader = OpenStore(/*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->CountJob(6, 0).value_or(0), 2u);
}

// A result of incarnation `nonce` of a job (TaskKey::nonce).
TaskResult Incarnation(JobNonce nonce, JobId job, uint8_t stream, int64_t start,
                       std::string worker) {
  TaskResult r = MakeResult(job, stream, start, 1, std::move(worker));
  r.task.key.nonce = nonce;
  return r;
}

constexpr JobNonce kOld = 0x9f3a1c2b4d5e6f70;  // an earlier job 12, from a journal since lost
constexpr JobNonce kNew = 0xf000000000000001;  // the new job 12 (as an int64: negative)

TEST_F(ResultStoreTest, TwoIncarnationsOfAJobIdKeepTheirOwnResults) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(auto first, store->PutBatch({Incarnation(kOld, 12, 1, 0, "old")}));
  EXPECT_THAT(first, ElementsAre(PutOutcome::kStored));
  // The same (job, stream, start) of another incarnation is no duplicate; the same
  // incarnation's again is.
  ASSERT_OK_AND_ASSIGN(auto second, store->PutBatch({Incarnation(kNew, 12, 1, 0, "new"),
                                                     Incarnation(kNew, 12, 1, 0, "again")}));
  EXPECT_THAT(second, ElementsAre(PutOutcome::kStored, PutOutcome::kDuplicate));
  ASSERT_OK_AND_ASSIGN(auto third, store->PutBatch({Incarnation(kOld, 12, 1, 0, "late")}));
  EXPECT_THAT(third, ElementsAre(PutOutcome::kDuplicate));

  ASSERT_OK_AND_ASSIGN(StoredResult old_one, store->Get(Incarnation(kOld, 12, 1, 0, "").task.key));
  EXPECT_EQ(old_one.result.worker_id, "old");
  EXPECT_EQ(old_one.result.task.key.nonce, kOld);
  ASSERT_OK_AND_ASSIGN(StoredResult new_one, store->Get(Incarnation(kNew, 12, 1, 0, "").task.key));
  EXPECT_EQ(new_one.result.worker_id, "new");
  EXPECT_EQ(new_one.result.task.key.nonce, kNew);
  EXPECT_EQ(store->Get(MakeResult(12, 1, 0).task.key).status().code(), StatusCode::kNotFound);

  EXPECT_EQ(store->CountJob(12, kOld).value_or(0), 1u);
  EXPECT_EQ(store->CountJob(12, kNew).value_or(0), 1u);
  EXPECT_EQ(store->CountJob(12, 0).value_or(99), 0u);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 2u);
  EXPECT_EQ(stats.jobs, 1u);
  EXPECT_EQ(stats.duplicates, 2u);
}

TEST_F(ResultStoreTest, PagesAnswerForOneIncarnationAndTheCurrentIsTheLastToArrive) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CurrentNonce(12).value_or(99), 0u);  // no results: "legacy"
  ASSERT_OK(store
                ->PutBatch({Incarnation(kOld, 12, 1, 0, "old"),
                            Incarnation(kOld, 12, 2, 0, "old")})
                .status());
  EXPECT_EQ(store->CurrentNonce(12).value_or(0), kOld);
  ASSERT_OK(store->PutBatch({Incarnation(kNew, 12, 1, 0, "new")}).status());
  EXPECT_EQ(store->CurrentNonce(12).value_or(0), kNew);
  // A straggler of the old incarnation does not make it current again.
  ASSERT_OK(store->PutBatch({Incarnation(kOld, 12, 3, 0, "old")}).status());
  EXPECT_EQ(store->CurrentNonce(12).value_or(0), kNew);

  ASSERT_OK_AND_ASSIGN(auto old_page, store->ReadPage(12, kOld, std::nullopt, 10));
  ASSERT_EQ(old_page.size(), 3u);
  for (const StoredResult& r : old_page) EXPECT_EQ(r.result.worker_id, "old");
  // Keyset paging stays within the incarnation.
  ASSERT_OK_AND_ASSIGN(auto next, store->ReadPage(12, kOld, old_page[0].result.task.key, 10));
  EXPECT_EQ(next.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto new_page, store->ReadPage(12, kNew, std::nullopt, 10));
  ASSERT_EQ(new_page.size(), 1u);
  EXPECT_EQ(new_page[0].result.worker_id, "new");

  // Two new incarnations in one batch: the one whose first result came later is current.
  ASSERT_OK(store->PutBatch({Incarnation(kNew, 13, 1, 0, "b"), Incarnation(kOld, 13, 1, 0, "a")})
                .status());
  EXPECT_EQ(store->CurrentNonce(13).value_or(0), kOld);
}

TEST_F(ResultStoreTest, OpeningASchemaVersionTwoDatabaseReadsItsRowsAsNonceZero) {
  const std::string path = dir_.File("results.db");
  const TaskResult old = MakeResult(6, 1, 500, 3, "old-worker");
  // A database as schema 2 left it: a rowid results table keyed by (job, stream, start).
  RawExec(path, OldStoreSql(R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES(1);
INSERT INTO schema_version(version) VALUES(2);
CREATE TABLE results()sql" + std::string(kOldColumns) + R"sql();
CREATE UNIQUE INDEX results_key ON results(job, stream, start);)sql",
                            4, old));

  EXPECT_EQ(OpenStoreStatus(/*read_only=*/true).code(), StatusCode::kFailedPrecondition);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(StoredResult got, store->Get(old.task.key));  // nonce 0
  EXPECT_EQ(got.result.worker_id, "old-worker");
  EXPECT_EQ(got.result.task.key.nonce, 0u);
  EXPECT_EQ(got.result.fields, old.fields);
  EXPECT_EQ(store->CurrentNonce(6).value_or(99), 0u);
  EXPECT_EQ(store->CountJob(6, 0).value_or(0), 1u);
  // The legacy key is still a duplicate of itself, and no duplicate of a new incarnation.
  ASSERT_OK_AND_ASSIGN(auto outcomes, store->PutBatch({MakeResult(6, 1, 500),
                                                       Incarnation(kNew, 6, 1, 500, "new")}));
  EXPECT_THAT(outcomes, ElementsAre(PutOutcome::kDuplicate, PutOutcome::kStored));
  EXPECT_EQ(store->CurrentNonce(6).value_or(0), kNew);
  ASSERT_OK_AND_ASSIGN(auto legacy, store->ReadPage(6, 0, std::nullopt, 10));
  ASSERT_EQ(legacy.size(), 1u);
  EXPECT_EQ(legacy[0].result.worker_id, "old-worker");
  ASSERT_OK_AND_ASSIGN(StoreStats stats, store->Stats());
  EXPECT_EQ(stats.results, 2u);
  EXPECT_EQ(stats.duplicates, 5u);
  EXPECT_EQ(stats.jobs, 1u);
}

TEST_F(ResultStoreTest, BackgroundCheckpointsKeepTheWalBoundedAndLoseNothing) {
  ResultStoreOptions options;
  options.path = dir_.File("results.db");
  options.checkpoint_pages = 16;
  const auto wal_bytes = [&options] {
    std::error_code ec;
    const auto size = std::filesystem::file_size(options.path + "-wal", ec);
    return ec ? uintmax_t{0} : size;
  };
  constexpr int kBatches = 300;
  constexpr int kPerBatch = 10;
  uintmax_t largest_wal = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::Open(options, &clock_));
    for (int b = 0; b < kBatches; ++b) {
      std::vector<TaskResult> batch;
      for (int i = 0; i < kPerBatch; ++i) {
        batch.push_back(MakeResult(1, static_cast<uint8_t>(i), int64_t{b} * 100));
      }
      ASSERT_OK(store->PutBatch(batch));
      largest_wal = std::max(largest_wal, wal_bytes());
    }
    // The checkpointer copies the WAL into the database file while the writer is idle.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    uintmax_t db_bytes = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      db_bytes = std::filesystem::file_size(options.path, ec);
      if (!ec && db_bytes > 100 * 1024) break;
      std::this_thread::yield();
    }
    EXPECT_GT(db_bytes, 100 * 1024u);
  }
  // 300 batches wrote far more than 8 x 16 pages of WAL; the inline backstop restarts it.
  // Bound: 8 x 16 pages plus one commit's (at most 64 here), of 4 KiB + a 24-byte frame
  // header each; without checkpoints it would reach thousands of pages.
  EXPECT_LT(largest_wal, uintmax_t{(8 * 16 + 64) * (4096 + 24) + 32});
  ASSERT_OK_AND_ASSIGN(auto store, ResultStore::Open(options, &clock_));
  EXPECT_EQ(store->CountJob(1, 0).value_or(0), uint64_t{kBatches * kPerBatch});
  ASSERT_OK_AND_ASSIGN(StoredResult last,
                       store->Get(TaskKey{1, StreamN(kPerBatch - 1), (kBatches - 1) * 100}));
  EXPECT_EQ(last.result.points_read, 10);
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
