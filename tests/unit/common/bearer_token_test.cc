#include "common/bearer_token.h"

#include <optional>

#include <gtest/gtest.h>

namespace btrq {
namespace {

TEST(ConstantTimeEqualsTest, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("s3cret", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3creT"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3cre"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
}

TEST(CheckBearerTokenTest, AnEmptyTokenAllowsEveryCall) {
  EXPECT_EQ(CheckBearerToken(std::nullopt, ""), BearerCheck::kAllowed);
  EXPECT_EQ(CheckBearerToken("Bearer anything", ""), BearerCheck::kAllowed);
}

TEST(CheckBearerTokenTest, ATokenIsRequiredWhenConfigured) {
  EXPECT_EQ(CheckBearerToken(std::nullopt, "s3cret"), BearerCheck::kMissing);
}

TEST(CheckBearerTokenTest, OnlyTheExactBearerValueIsAllowed) {
  EXPECT_EQ(CheckBearerToken("Bearer s3cret", "s3cret"), BearerCheck::kAllowed);
  EXPECT_EQ(CheckBearerToken("Bearer wrong", "s3cret"), BearerCheck::kWrong);
  EXPECT_EQ(CheckBearerToken("Bearer s3cret ", "s3cret"), BearerCheck::kWrong);
  EXPECT_EQ(CheckBearerToken("bearer s3cret", "s3cret"), BearerCheck::kWrong);
  EXPECT_EQ(CheckBearerToken("s3cret", "s3cret"), BearerCheck::kWrong);
  EXPECT_EQ(CheckBearerToken("", "s3cret"), BearerCheck::kWrong);
}

}  // namespace
}  // namespace btrq
