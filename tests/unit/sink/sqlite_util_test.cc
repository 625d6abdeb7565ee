#include "sink/sqlite_util.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::sink {
namespace {

TEST(StatusFromSqlite, MapsResultCodes) {
  const struct {
    int rc;
    StatusCode code;
  } kCases[] = {
      {SQLITE_FULL, StatusCode::kResourceExhausted},
      {SQLITE_IOERR_FSYNC, StatusCode::kIoError},
      {SQLITE_BUSY, StatusCode::kUnavailable},
      {SQLITE_LOCKED, StatusCode::kUnavailable},
      {SQLITE_CANTOPEN, StatusCode::kNotFound},
      {SQLITE_READONLY, StatusCode::kPermissionDenied},
      {SQLITE_CONSTRAINT_UNIQUE, StatusCode::kInvalidArgument},
      {SQLITE_CORRUPT, StatusCode::kInternal},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(StatusFromSqlite(c.rc, "x", nullptr).code(), c.code) << c.rc;
  }
  EXPECT_EQ(StatusFromSqlite(SQLITE_CORRUPT, "x", nullptr).subcode(), SQLITE_CORRUPT);
  EXPECT_EQ(StatusFromSqlite(SQLITE_FULL, "storing", "disk full").message(), "storing: disk full");
}

class SqliteUtilTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK); }
  void TearDown() override { sqlite3_close(db_); }
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteUtilTest, ExecAndQueryInt) {
  ASSERT_OK(Exec(db_, "CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(41), (42);"));
  ASSERT_OK_AND_ASSIGN(int64_t max, QueryInt(db_, "SELECT max(v) FROM t"));
  EXPECT_EQ(max, 42);
  EXPECT_EQ(QueryInt(db_, "SELECT v FROM t WHERE v > 100").status().code(),
            StatusCode::kNotFound);
  const Status bad = Exec(db_, "NOT SQL");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("NOT SQL"), std::string::npos);
}

TEST_F(SqliteUtilTest, AStatementIsResetAfterEachUse) {
  ASSERT_OK(Exec(db_, "CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1), (2), (3);"));
  ASSERT_OK_AND_ASSIGN(auto count, SqliteStatement::Prepare(db_, "SELECT count(*) FROM t WHERE v >= ?"));
  for (int from : {1, 3, 2}) {
    auto use = count->Begin();
    sqlite3_bind_int(use.get(), 1, from);
    ASSERT_EQ(sqlite3_step(use.get()), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(use.get(), 0), 4 - from);
  }
  EXPECT_FALSE(SqliteStatement::Prepare(db_, "SELECT nope FROM nowhere").ok());
}

}  // namespace
}  // namespace btrq::sink
