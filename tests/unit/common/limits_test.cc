#include "common/limits.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "tests/support/status_matchers.h"

namespace btrq::limits {
namespace {

TEST(Limits, ParamsWithinEveryBoundPass) {
  Fields params = {{"rate", 30.0}, {"note", std::string(kMaxParamValueBytes, 'v')}};
  EXPECT_OK(CheckParams(params));
  EXPECT_OK(CheckParams({}));
}

TEST(Limits, ParamsOverABoundAreRefusedNamingTheLimitAndTheValue) {
  const Status big = CheckParams({{"x", std::string(1153433, 'x')}});
  EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(big.message(), "param 'x' is 1153433 bytes; the limit is 65536");

  Fields many;
  for (size_t i = 0; i <= kMaxParams; ++i) many.emplace_back("p" + std::to_string(i), int64_t{1});
  EXPECT_NE(CheckParams(many).message().find("the limit is 1024"), std::string::npos);

  const Status dup = CheckParams({{"a", int64_t{1}}, {"b", 2.0}, {"a", std::string("c")}});
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.message(), "param 'a' is given twice");

  EXPECT_FALSE(CheckParams({{std::string(kMaxParamNameBytes + 1, 'n'), int64_t{1}}}).ok());

  // Each value within its bound, but together over the per-job total.
  Fields total;
  for (int i = 0; i < 17; ++i) total.emplace_back("p" + std::to_string(i), std::string(kMaxParamValueBytes, 'v'));
  EXPECT_NE(CheckParams(total).message().find("the limit is 1048576"), std::string::npos);
}

TEST(Limits, HelloBounds) {
  HelloMsg hello{"w1", "host", 1, 2, {"quality", "stats"}};
  EXPECT_OK(CheckHello(hello));
  HelloMsg many = hello;
  for (size_t i = 0; i < kMaxHelloAnalytics; ++i) many.analytics.push_back("a" + std::to_string(i));
  EXPECT_FALSE(CheckHello(many).ok());
  HelloMsg long_name = hello;
  long_name.analytics.push_back(std::string(kMaxAnalyticNameBytes + 1, 'a'));
  EXPECT_FALSE(CheckHello(long_name).ok());
  HelloMsg long_id = hello;
  long_id.worker_id.assign(kMaxWorkerIdBytes + 1, 'w');
  EXPECT_FALSE(CheckHello(long_id).ok());
}

TEST(Limits, SaturatingAddNeverWraps) {
  const SteadyTime t{Nanos(1'000)};
  EXPECT_EQ(SaturatingAdd(t, Nanos(5)), SteadyTime{Nanos(1'005)});
  const Nanos huge(std::numeric_limits<int64_t>::max() - 10);
  EXPECT_EQ(SaturatingAdd(t, huge), SteadyTime::max());
  EXPECT_GT(SaturatingAdd(t, huge), t);
  const SteadyTime low{Nanos(-1'000)};
  EXPECT_EQ(SaturatingAdd(low, Nanos(std::numeric_limits<int64_t>::min() + 10)), SteadyTime::min());
}

}  // namespace
}  // namespace btrq::limits
