#include "tests/support/status_matchers.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace btrq {
namespace {

using ::btrq::testing::IsOk;
using ::btrq::testing::StatusIs;
using ::testing::DescribeMatcher;
using ::testing::ExplainMatchResult;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StringMatchResultListener;

TEST(StatusIs, MatchesTheCodeOfAStatusOrAResult) {
  EXPECT_THAT(Status::NotFound("no job 7"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(Result<int>(Status::NotFound("no job 7")), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(Status::NotFound("no job 7"), Not(StatusIs(StatusCode::kInvalidArgument)));
  EXPECT_THAT(Status::OK(), Not(StatusIs(StatusCode::kNotFound)));
  EXPECT_THAT(Result<int>(3), Not(StatusIs(StatusCode::kNotFound)));
}

TEST(StatusIs, ChecksTheMessageWhenAskedTo) {
  const Status s = Status::InvalidArgument("bad port 0");
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, HasSubstr("port")));
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, "bad port 0"));
  EXPECT_THAT(s, Not(StatusIs(StatusCode::kInvalidArgument, HasSubstr("host"))));
  EXPECT_THAT(s, Not(StatusIs(StatusCode::kNotFound, HasSubstr("port"))));
}

TEST(StatusIs, ExplainsAMismatchWithTheWholeStatus) {
  StringMatchResultListener listener;
  EXPECT_FALSE(ExplainMatchResult(StatusIs(StatusCode::kNotFound), Status::Unavailable("down"),
                                  &listener));
  EXPECT_THAT(listener.str(), HasSubstr("down"));
  EXPECT_THAT(DescribeMatcher<Status>(StatusIs(StatusCode::kNotFound)),
              HasSubstr(std::string(StatusCodeName(StatusCode::kNotFound))));
}

TEST(IsOk, MatchesOkStatusesAndResultsWithAValue) {
  EXPECT_THAT(Status::OK(), IsOk());
  EXPECT_THAT(Result<std::string>("x"), IsOk());
  EXPECT_THAT(Status::Internal("boom"), Not(IsOk()));
  EXPECT_THAT(Result<int>(Status::Internal("boom")), Not(IsOk()));
}

TEST(PrintTo, ShowsTheValueOrTheStatus) {
  EXPECT_THAT(::testing::PrintToString(Result<int>(42)), HasSubstr("42"));
  EXPECT_THAT(::testing::PrintToString(Result<int>(Status::Internal("boom"))), HasSubstr("boom"));
  EXPECT_THAT(::testing::PrintToString(Status::Internal("boom")), HasSubstr("boom"));
}

}  // namespace
}  // namespace btrq
