#include "lite/sql.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lite/database.h"
#include "tests/support/status_matchers.h"

namespace btrq::lite {
namespace {

using ::testing::ElementsAre;

Uuid Id(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  return u;
}

TEST(Sql, SubsetAnswersThePythonHelpers) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "grid/a", {{"name", "v"}, {"unit", "volts"}}, {{"rate", "120"}}));
  ASSERT_OK(db->Create(Id(2), "grid/b", {{"name", "v"}}, {{"phase", "A"}}));
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db, "select distinct(name) as name from streams where collection ~ $1",
                                              {"^grid"}));
  EXPECT_THAT(rows, ElementsAre(R"({"name":"v"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db, "SELECT DISTINCT skeys(annotations) AS annotations FROM streams", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"annotations":"rate"})", R"({"annotations":"phase"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db, "select uuid, unit from streams where collection = 'grid/a'", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"uuid":"00000000-0000-0000-0000-000000000001","unit":"volts"})"));
  EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "delete from streams", {}).status()), 501u);
  EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "select name from streams where name = $2", {"x"}).status()), 441u);
}

TEST(Sql, LikeNotEqualOrderAndLimit) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "grid/b", {{"name", "v2"}}, {}));
  ASSERT_OK(db->Create(Id(2), "grid/a", {{"name", "v1"}}, {}));
  ASSERT_OK(db->Create(Id(3), "other", {{"name", "i"}}, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db,
                                              "SELECT collection FROM streams WHERE name LIKE 'v_' "
                                              "ORDER BY collection",
                                              {}));
  EXPECT_THAT(rows, ElementsAre(R"({"collection":"grid/a"})", R"({"collection":"grid/b"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db,
                                         "select name from streams where collection != 'other' "
                                         "order by name limit 1",
                                         {}));
  EXPECT_THAT(rows, ElementsAre(R"({"name":"v1"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db, "select name from streams where collection like '%a'", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"name":"v1"})"));
}

TEST(Sql, AnnotationValuesAndTheWholeRow) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "c", {{"name", "n"}}, {{"rate", "120"}}));
  ASSERT_OK_AND_ASSIGN(auto rows,
                       RunSqlQuery(*db, "select annotations->'rate' from streams", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"rate":"120"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db, "select * from streams;", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"uuid":"00000000-0000-0000-0000-000000000001","collection":"c",)"
                                R"("name":"n","unit":null,"ingress":null,"property_version":1,)"
                                R"("annotations":{"rate":"120"}})"));
}

TEST(Sql, StringsAreEscapedAsJson) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  // Quotes, backslashes and control characters escaped; invalid UTF-8 as U+FFFD (the
  // rows are JSON, which must be valid UTF-8); valid UTF-8 kept.
  ASSERT_OK(db->Create(Id(1), "c", {{"name", "a\"b\\c\n\x01\xff\xc3\xa9"}}, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db, "select name from streams", {}));
  EXPECT_THAT(rows, ElementsAre(R"({"name":"a\"b\\c\n\u0001\ufffd)" "\xc3\xa9\"}"));
}

TEST(Sql, MalformedQueriesAreRefused) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  for (const char* q : {"select", "select nope from streams", "select name from tables",
                        "select name from streams where name = 'open",
                        "select name from streams where name < 'x'",
                        "select name from streams limit x", "select name from streams #"}) {
    EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, q, {}).status()), 501u) << q;
  }
  EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "select name from streams where name ~ '('", {}).status()),
            441u);
}

}  // namespace
}  // namespace btrq::lite
