#include "lite/csv.h"

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lite/database.h"
#include "tests/support/status_matchers.h"

namespace btrq::lite {
namespace {

using ::testing::ElementsAre;
using Row = std::vector<std::string>;

Uuid Id(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  return u;
}

// An in-memory database with stream 1 at t = 0, 10, 20 (values 1, 2, 3) and stream 2 at
// t = 10, 30 (values 0.5, 4).
class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(DatabaseOptions()));
    ASSERT_OK(db_->Create(Id(1), "c", {}, {}));
    ASSERT_OK(db_->Create(Id(2), "c", {}, {}));
    ASSERT_OK(db_->Insert(Id(1), {{0, 1}, {10, 2}, {20, 3}}, MergePolicy::kNever).status());
    ASSERT_OK(db_->Insert(Id(2), {{10, 0.5}, {30, 4}}, MergePolicy::kNever).status());
  }

  CsvQuery Query(CsvKind kind, uint64_t window_size = 0) {
    CsvQuery query;
    query.kind = kind;
    query.start = 0;
    query.end = 40;
    query.window_size = window_size;
    for (uint8_t n : {1, 2}) {
      auto data = db_->Data(Id(n));
      EXPECT_OK(data);
      query.columns.push_back({*data, (*data)->version(), "s" + std::to_string(n)});
    }
    return query;
  }

  static std::vector<Row> Rows(const CsvQuery& query, size_t stop_after = SIZE_MAX) {
    std::vector<Row> rows;
    CsvRows(
        query, [] { return false; },
        [&](const Row& row) {
          rows.push_back(row);
          return rows.size() < stop_after;
        });
    return rows;
  }

  std::unique_ptr<Database> db_;
};

TEST_F(CsvTest, RawHeaderHasOneColumnPerStream) {
  EXPECT_THAT(CsvHeader(Query(CsvKind::kRaw)), ElementsAre("timestamp", "s1", "s2"));
}

TEST_F(CsvTest, WindowHeadersHaveFiveColumnsPerStream) {
  EXPECT_THAT(CsvHeader(Query(CsvKind::kWindows, 20)),
              ElementsAre("timestamp", "s1_min", "s1_mean", "s1_max", "s1_count", "s1_stddev",
                          "s2_min", "s2_mean", "s2_max", "s2_count", "s2_stddev"));
}

TEST_F(CsvTest, RawRowsMergeTheStreamsByTimeWithEmptyCells) {
  EXPECT_THAT(Rows(Query(CsvKind::kRaw)), ElementsAre(Row{"0", "1", ""}, Row{"10", "2", "0.5"},
                                                      Row{"20", "3", ""}, Row{"30", "", "4"}));
}

TEST_F(CsvTest, RowsStopWhenTheSinkSaysSo) { EXPECT_EQ(Rows(Query(CsvKind::kRaw), 2).size(), 2u); }

TEST_F(CsvTest, RowsStopWhenCancelled) {
  std::vector<Row> rows;
  CsvRows(
      Query(CsvKind::kRaw), [] { return true; },
      [&](const Row& row) {
        rows.push_back(row);
        return true;
      });
  EXPECT_TRUE(rows.empty());
}

TEST_F(CsvTest, WindowRowsHaveTheStatisticsOfEachStream) {
  // Windows of 20 ns from 0: [0, 20) and [20, 40); empty windows are still emitted.
  EXPECT_THAT(Rows(Query(CsvKind::kWindows, 20)),
              ElementsAre(Row{"0", "1", "1.5", "2", "2", "0.5", "0.5", "0.5", "0.5", "1", "0"},
                          Row{"20", "3", "3", "3", "1", "0", "4", "4", "4", "1", "0"}));
}

TEST_F(CsvTest, AlignedWindowRowsLeaveAStreamWithoutPointsEmpty) {
  // Point width 3: windows of 8 ns aligned at multiples of 8; s2 has nothing in [0, 8).
  const std::vector<Row> rows = Rows(Query(CsvKind::kAlignedWindows, 3));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (Row{"0", "1", "1", "1", "1", "0", "", "", "", "", ""}));
}

}  // namespace
}  // namespace btrq::lite
