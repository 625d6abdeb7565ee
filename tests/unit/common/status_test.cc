#include "common/status.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  BTRQ_ASSIGN_OR_RETURN(int h, Half(x));
  BTRQ_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, ToStringCarriesCodeSubcodeAndMessage) {
  Status s(StatusCode::kNotFound, "stream does not exist", 404);
  EXPECT_EQ(s.ToString(), "NotFound [404]: stream does not exist");
  EXPECT_EQ(s.WithContext("lookup").message(), "lookup: stream does not exist");
  EXPECT_EQ(s.WithContext("lookup").subcode(), 404);
}

TEST(Status, TransientClassification) {
  EXPECT_TRUE(Status::Unavailable("x").IsTransient());
  EXPECT_TRUE(Status::DeadlineExceeded("x").IsTransient());
  EXPECT_FALSE(Status::InvalidArgument("x").IsTransient());
  EXPECT_FALSE(Status::Internal("x").IsTransient());
}

TEST(Result, PropagatesErrorsThroughMacros) {
  ASSERT_OK_AND_ASSIGN(int q, Quarter(8));
  EXPECT_EQ(q, 2);
  Result<int> bad = Quarter(6);
  ASSERT_THAT(bad.status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST(Result, OkStatusIsNotAValue) {
  Result<int> r{Status::OK()};
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kInternal));
}

}  // namespace
}  // namespace btrq
