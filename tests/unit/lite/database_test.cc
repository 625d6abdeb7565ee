#include "lite/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "btrdb/status_mapping.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::lite {
namespace {

namespace fs = std::filesystem;
using ::btrq::testing::StatusIs;
using ::testing::ElementsAre;

Uuid Id(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  return u;
}

std::vector<Point> ReadAll(const Database& db, const Uuid& id, uint64_t version = 0) {
  auto d = db.Data(id);
  EXPECT_TRUE(d.ok());
  StreamData::Cursor c(*d, kMinTime, kMaxTime, version == 0 ? (*d)->version() : version);
  std::vector<Point> out(1000);
  std::vector<Point> all;
  while (size_t n = c.Next(out.data(), out.size())) all.insert(all.end(), out.begin(), out.begin() + n);
  return all;
}

std::unique_ptr<Database> OpenAt(const std::string& dir) {
  DatabaseOptions o;
  o.data_dir = dir;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

std::vector<std::string> Logs(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Database, CreateValidatesAndRejectsDuplicates) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  EXPECT_OK(db->Create(Id(1), "sensors/a", {{"name", "v1"}, {"unit", "volts"}}, {{"rate", "120"}}));
  EXPECT_EQ(BtrdbCodeOf(db->Create(Id(1), "sensors/a", {}, {})), 417u);
  EXPECT_EQ(BtrdbCodeOf(db->Create(Id(2), "", {}, {})), 407u);
  EXPECT_EQ(BtrdbCodeOf(db->Create(Id(2), "c", {{"9bad", "x"}}, {})), 408u);
  EXPECT_EQ(BtrdbCodeOf(db->Create(Id(2), "c", {{"name", std::string(300, 'x')}}, {})), 409u);
  ASSERT_OK_AND_ASSIGN(auto meta, db->Meta(Id(1)));
  EXPECT_EQ(meta->property_version, 1u);
  ASSERT_OK_AND_ASSIGN(auto data, db->Data(Id(1)));
  EXPECT_EQ(data->version(), kFirstVersion);
}

TEST(Database, InsertRejectsBadValuesAndTimes) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "c", {}, {}));
  EXPECT_EQ(BtrdbCodeOf(db->Insert(Id(1), {{1, std::nan("")}}, MergePolicy::kNever).status()), 425u);
  EXPECT_EQ(BtrdbCodeOf(db->Insert(Id(1), {{1, HUGE_VAL}}, MergePolicy::kNever).status()), 425u);
  EXPECT_EQ(BtrdbCodeOf(db->Insert(Id(1), {{kMaxTime - 1, 1}}, MergePolicy::kNever).status()), 413u);
  EXPECT_EQ(BtrdbCodeOf(db->Insert(Id(9), {{1, 1}}, MergePolicy::kNever).status()), 404u);
  ASSERT_OK_AND_ASSIGN(uint64_t v, db->Insert(Id(1), {}, MergePolicy::kNever));
  EXPECT_EQ(v, kFirstVersion);  // empty insert: current version
  ASSERT_OK_AND_ASSIGN(v, db->Insert(Id(1), {{kMinTime, 1}, {kMaxTime - 2, 2}}, MergePolicy::kNever));
  EXPECT_EQ(v, kFirstVersion + 1);
}

TEST(Database, PropertyVersionIsCompareAndSet) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "c", {{"name", "a"}}, {}));
  EXPECT_EQ(BtrdbCodeOf(db->SetAnnotations(Id(1), 0, {{"rate", "30"}}, {})), 423u);
  EXPECT_OK(db->SetAnnotations(Id(1), 1, {{"rate", "30"}, {"distil.x", "1"}}, {}));
  EXPECT_OK(db->SetTags(Id(1), 2, std::string("moved"), {{"unit", "amps"}}, {"name"}));
  ASSERT_OK_AND_ASSIGN(auto meta, db->Meta(Id(1)));
  EXPECT_EQ(meta->property_version, 3u);
  EXPECT_EQ(meta->collection, "moved");
  EXPECT_EQ(meta->tags, (KeyValues{{"unit", "amps"}}));
  EXPECT_EQ(meta->annotations, (KeyValues{{"distil.x", "1"}, {"rate", "30"}}));
}

TEST(Database, LookupByCollectionAndFilters) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "grid/a", {{"name", "v"}}, {{"rate", "120"}}));
  ASSERT_OK(db->Create(Id(2), "grid/b", {{"name", "i"}}, {}));
  ASSERT_OK(db->Create(Id(3), "gridx", {{"name", "v"}}, {}));
  EXPECT_EQ(db->Lookup("grid", true, {}, {}).size(), 3u);
  EXPECT_EQ(db->Lookup("grid", false, {}, {}).size(), 0u);
  EXPECT_EQ(db->Lookup("grid/a", false, {}, {}).size(), 1u);
  EXPECT_EQ(db->Lookup("", true, {{"name", "v"}}, {}).size(), 2u);
  EXPECT_EQ(db->Lookup("", true, {}, {{"rate", std::nullopt}}).size(), 1u);
  EXPECT_THAT(db->ListCollections("grid/"), ElementsAre("grid/a", "grid/b"));
  ASSERT_OK(db->Obliterate(Id(1)));
  EXPECT_EQ(BtrdbCodeOf(db->Data(Id(1)).status()), 404u);
}

TEST(DatabaseDurability, ReopenRecoversEverythingAcknowledged) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {{"name", "n"}}, {}));
    ASSERT_OK(db->Create(Id(2), "gone", {}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}, {2, 2}}, MergePolicy::kNever).status());
    ASSERT_OK(db->Insert(Id(1), {{2, 20}}, MergePolicy::kReplace).status());
    ASSERT_OK(db->Delete(Id(1), 1, 2).status());
    ASSERT_OK(db->SetAnnotations(Id(1), 1, {{"rate", "1"}}, {}));
    ASSERT_OK(db->Obliterate(Id(2)));
  }
  auto db = OpenAt(dir.path());
  EXPECT_EQ(db->recovery().log_records, 7u);
  EXPECT_THAT(ReadAll(*db, Id(1)), ElementsAre(Point{2, 20}));
  EXPECT_THAT(ReadAll(*db, Id(1), 12), ElementsAre(Point{1, 1}, Point{2, 20}));
  EXPECT_THAT(ReadAll(*db, Id(1), 11), ElementsAre(Point{1, 1}, Point{2, 2}));
  ASSERT_OK_AND_ASSIGN(auto data, db->Data(Id(1)));
  EXPECT_EQ(data->version(), 13u);
  ASSERT_OK_AND_ASSIGN(auto meta, db->Meta(Id(1)));
  EXPECT_EQ(meta->annotations.at("rate"), "1");
  EXPECT_EQ(meta->property_version, 2u);
  EXPECT_EQ(BtrdbCodeOf(db->Data(Id(2)).status()), 404u);
}

TEST(DatabaseDurability, TornTailOfTheLastLogIsIgnored) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}}, MergePolicy::kNever).status());
    ASSERT_OK(db->Insert(Id(1), {{2, 2}}, MergePolicy::kNever).status());
  }
  const std::string log = Logs(dir.path()).back();
  fs::resize_file(log, fs::file_size(log) - 5);  // the last record is cut short
  {
    auto db = OpenAt(dir.path());
    EXPECT_EQ(db->recovery().log_records, 2u);
    EXPECT_GT(db->recovery().discarded_bytes, 0u);
    EXPECT_THAT(ReadAll(*db, Id(1)), ElementsAre(Point{1, 1}));
    ASSERT_OK(db->Insert(Id(1), {{3, 3}}, MergePolicy::kNever).status());
  }
  // The truncated log is now followed by a newer one and must still read cleanly.
  auto db = OpenAt(dir.path());
  EXPECT_THAT(ReadAll(*db, Id(1)), ElementsAre(Point{1, 1}, Point{3, 3}));
}

TEST(DatabaseDurability, ChecksumMismatchEndsReplayOfTheLastLog) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}}, MergePolicy::kNever).status());
    ASSERT_OK(db->Insert(Id(1), {{2, 2}}, MergePolicy::kNever).status());
  }
  const std::string log = Logs(dir.path()).back();
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);  // flip a byte of the last record's payload
    char c;
    f.read(&c, 1);
    f.seekp(-3, std::ios::end);
    c ^= 0x5a;
    f.write(&c, 1);
  }
  auto db = OpenAt(dir.path());
  EXPECT_EQ(db->recovery().log_records, 2u);
  EXPECT_THAT(ReadAll(*db, Id(1)), ElementsAre(Point{1, 1}));
}

// Damage in the middle of the last log, with acknowledged records after it, is not a
// torn tail: the database refuses to open (naming the file and offset) and cuts nothing.
TEST(DatabaseDurability, CorruptionInTheMiddleOfTheLastLogIsAnError) {
  testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}}, MergePolicy::kNever).status());
    ASSERT_OK(db->Insert(Id(1), {{2, 2}}, MergePolicy::kNever).status());
  }
  const std::string log = Logs(dir.path()).back();
  const auto size = fs::file_size(log);
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);  // the first record's length now points far past the end
    f.put('\x7f');
  }
  DatabaseOptions o;
  o.data_dir = dir.path();
  auto db = Database::Open(o);
  ASSERT_THAT(db.status(), StatusIs(StatusCode::kIoError));
  EXPECT_NE(db.status().message().find("at offset 0 (2 valid records follow)"), std::string::npos)
      << db.status().message();
  EXPECT_EQ(fs::file_size(log), size);
}

// A power loss can leave the log extended with zeros: a torn tail, not empty records.
TEST(DatabaseDurability, AZeroFilledTailOfTheLastLogIsTorn) {
  testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}}, MergePolicy::kNever).status());
  }
  const std::string log = Logs(dir.path()).back();
  {
    std::ofstream f(log, std::ios::app | std::ios::binary);
    f << std::string(4096, '\0');
  }
  DatabaseOptions o;
  o.data_dir = dir.path();
  auto db = Database::Open(o);
  ASSERT_OK(db.status());
  EXPECT_EQ((*db)->recovery().log_records, 2u);
  EXPECT_EQ((*db)->recovery().discarded_bytes, 4096u);
  EXPECT_THAT(ReadAll(**db, Id(1)), ElementsAre(Point{1, 1}));
}

TEST(DatabaseDurability, CorruptionInAnOlderLogIsAnError) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {}, {}));
  }
  {
    auto db = OpenAt(dir.path());  // starts a second log
    ASSERT_OK(db->Insert(Id(1), {{1, 1}}, MergePolicy::kNever).status());
  }
  const auto logs = Logs(dir.path());
  ASSERT_GE(logs.size(), 2u);
  {
    std::ofstream f(logs.front(), std::ios::app | std::ios::binary);
    f << "garbage!";
  }
  DatabaseOptions o;
  o.data_dir = dir.path();
  auto db = Database::Open(o);
  ASSERT_THAT(db.status(), StatusIs(StatusCode::kIoError));
}

TEST(DatabaseDurability, SnapshotPlusLogReplay) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    ASSERT_OK(db->Create(Id(1), "c", {{"name", "x"}}, {}));
    ASSERT_OK(db->Insert(Id(1), {{1, 1}, {2, 2}}, MergePolicy::kNever).status());
    ASSERT_OK(db->Checkpoint());
    ASSERT_OK(db->Delete(Id(1), 2, 3).status());
    ASSERT_OK(db->Create(Id(2), "d", {}, {}));
  }
  EXPECT_EQ(Logs(dir.path()).size(), 1u);  // the checkpoint dropped the first log
  auto db = OpenAt(dir.path());
  EXPECT_EQ(db->recovery().snapshot_streams, 1u);
  EXPECT_EQ(db->recovery().log_records, 2u);
  EXPECT_THAT(ReadAll(*db, Id(1)), ElementsAre(Point{1, 1}));
  EXPECT_THAT(ReadAll(*db, Id(1), 11), ElementsAre(Point{1, 1}, Point{2, 2}));
  EXPECT_OK(db->Meta(Id(2)).status());
}

TEST(DatabaseDurability, ConcurrentWritersShareSyncsAndAllSurvive) {
  btrq::testing::TempDir dir;
  {
    auto db = OpenAt(dir.path());
    for (uint8_t s = 1; s <= 4; ++s) ASSERT_OK(db->Create(Id(s), "c", {}, {}));
    std::vector<std::thread> threads;
    for (uint8_t s = 1; s <= 4; ++s) {
      threads.emplace_back([&db, s] {
        for (int i = 0; i < 50; ++i) EXPECT_OK(db->Insert(Id(s), {{i, 1.0 * i}}, MergePolicy::kNever).status());
      });
    }
    for (auto& t : threads) t.join();
  }
  auto db = OpenAt(dir.path());
  for (uint8_t s = 1; s <= 4; ++s) EXPECT_EQ(ReadAll(*db, Id(s)).size(), 50u);
}

// One BTrDB code table for client and server: a lite error means what the client makes
// of its code (btrdb/status_mapping.h); 402 and 424 used to differ.
TEST(BtrdbErrorTest, UsesTheClientsCodeTable) {
  for (uint32_t code : {kNoSuchPoint, kContextError, kNoSuchStream, kInvalidCollection,
                        kInvalidTagKey, kInvalidTagValue, kInvalidTimeRange, kInvalidPointWidth,
                        kSameStream, kWrongArgs, kAnnotationVersionMismatch,
                        kFaultInjectionDisabled, kBadValue, kInvalidVersions, kObliterateDisabled,
                        kInvalidParameter, kBadSqlValue, kVersionNotAvailable, kInvariantFailure,
                        kNotImplemented}) {
    const Status s = BtrdbError(code, "m");
    EXPECT_EQ(s.code(), btrdb::BtrdbCodeToStatusCode(code)) << code;
    EXPECT_EQ(BtrdbCodeOf(s), code);
  }
  EXPECT_EQ(BtrdbError(kContextError, "m").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(BtrdbError(kFaultInjectionDisabled, "m").code(), StatusCode::kFailedPrecondition);
}

TEST(Database, AFailedBackgroundCheckpointWaitsBeforeTryingAgain) {
  // After ENOSPC every append asked for a checkpoint, and each wrote a whole snapshot.
  btrq::testing::TempDir dir;
  DatabaseOptions o;
  o.data_dir = dir.path();
  o.checkpoint_log_bytes = 1;  // every append asks for one
  o.checkpoint_retry_min = std::chrono::hours(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Database> db, Database::Open(o));
  // No snapshot can be committed now: a non-empty directory sits where each would go.
  for (int n = 1; n <= 300; ++n) {
    char name[64];
    std::snprintf(name, sizeof(name), "/snapshot-%020d/x", n);
    fs::create_directories(dir.path() + name);
  }
  ASSERT_OK(db->Create(Id(1), "c", {}, {}));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int64_t t = 1; db->checkpoint_failures() == 0 && std::chrono::steady_clock::now() < until; ++t) {
    ASSERT_OK(db->Insert(Id(1), {{t, 1.0}}, MergePolicy::kNever).status());
  }
  ASSERT_EQ(db->checkpoint_failures(), 1u);
  for (int64_t t = 1'000; t < 1'200; ++t) {
    ASSERT_OK(db->Insert(Id(1), {{t, 1.0}}, MergePolicy::kNever).status());
  }
  EXPECT_EQ(db->checkpoint_failures(), 1u) << "retried before its pause";
  db.reset();  // closing cuts the pause short
}

}  // namespace
}  // namespace btrq::lite
