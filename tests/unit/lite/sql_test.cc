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

TEST(Sql, LikeMatchesAsSqlDoes) {
  EXPECT_TRUE(LikeMatch("grid/a", "grid/_"));
  EXPECT_TRUE(LikeMatch("grid/a", "%"));
  EXPECT_TRUE(LikeMatch("", "%%"));
  EXPECT_TRUE(LikeMatch("abcabd", "%ab_"));
  EXPECT_TRUE(LikeMatch("xaxbxc", "%a%b%c"));
  EXPECT_FALSE(LikeMatch("abc", "ab"));
  EXPECT_FALSE(LikeMatch("ab", "abc"));
  EXPECT_FALSE(LikeMatch("xaxbx", "%a%b%c"));
  EXPECT_FALSE(LikeMatch("", "_"));
}

TEST(Sql, LikeIsPolynomialInTheNumberOfPercents) {
  // Six '%' on 100 characters that never match took 44 s with the recursive matcher; 40
  // '%' on 10,000 characters would take longer than the universe. This is O(n * m).
  const std::string value(10'000, 'a');
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "%a";
  pattern += "%b";
  EXPECT_FALSE(LikeMatch(value, pattern));
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "c", {{"name", std::string(100, 'a')}}, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db, "select name from streams where name like '%a%a%a%a%a%b'", {}));
  EXPECT_TRUE(rows.empty());
}

TEST(Sql, HugeLimitsAndParameterNumbersAreInBandErrors) {
  // 20 digits made stoull throw: gRPC answered UNKNOWN.
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "c", {{"name", "n"}}, {}));
  EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "select name from streams limit 99999999999999999999", {}).status()),
            441u);
  EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "select name from streams where name = $99999999999999999999", {"n"})
                            .status()),
            441u);
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db, "select name from streams limit 18446744073709551615", {}));
  EXPECT_EQ(rows.size(), 1u);
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

// Issue #14: `~` ran std::regex, which backtracks: a hostile pattern took exponential
// time. Now it is matched in linear time, and what it cannot take is an in-band error.
TEST(Sql, TheRegexOperatorIsBoundedWhateverThePattern) {
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}));
  ASSERT_OK(db->Create(Id(1), "grid/" + std::string(245, 'a'), {{"name", "v"}}, {}));
  ASSERT_OK(db->Create(Id(2), "grid/b", {{"name", "w"}}, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, RunSqlQuery(*db, "select name from streams where collection ~ $1",
                                              {"^grid/(a*)*$"}));
  EXPECT_THAT(rows, ElementsAre(R"({"name":"v"})"));
  ASSERT_OK_AND_ASSIGN(rows, RunSqlQuery(*db, "select name from streams where collection ~ $1",
                                         {"(a|aa)*c"}));
  EXPECT_TRUE(rows.empty());
  for (const std::string& bad : {std::string(2000, 'a'), std::string("(a)\\1")}) {
    EXPECT_EQ(BtrdbCodeOf(RunSqlQuery(*db, "select name from streams where name ~ $1", {bad}).status()),
              441u);
  }
}

}  // namespace
}  // namespace btrq::lite
