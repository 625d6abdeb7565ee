#include "broker/backoff.h"

#include <gtest/gtest.h>

namespace btrq::broker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Always returns the same fraction.
class FixedRandom final : public RandomSource {
 public:
  explicit FixedRandom(double v) : v_(v) {}
  double Uniform01() override { return v_; }

 private:
  double v_;
};

TEST(Backoff, NominalDoublesUpToTheCap) {
  FixedRandom r(0.5);
  Backoff b({milliseconds(100), seconds(1), 2.0, Jitter::kNone}, &r);
  EXPECT_EQ(b.Delay(1), milliseconds(100));
  EXPECT_EQ(b.Delay(2), milliseconds(200));
  EXPECT_EQ(b.Delay(4), milliseconds(800));
  EXPECT_EQ(b.Delay(5), seconds(1));
  EXPECT_EQ(b.Delay(60), seconds(1));
}

TEST(Backoff, FullJitterScalesTheNominalDelay) {
  FixedRandom r(0.25);
  Backoff b({milliseconds(100), seconds(1), 2.0, Jitter::kFull}, &r);
  EXPECT_EQ(b.Delay(3), milliseconds(100));  // 0.25 * 400ms
  EXPECT_EQ(b.Delay(10), milliseconds(250));  // 0.25 * cap
}

TEST(Backoff, DecorrelatedStaysBetweenBaseAndThreeTimesPreviousCapped) {
  FixedRandom high(0.999999);
  Backoff b({milliseconds(100), seconds(1), 2.0, Jitter::kDecorrelated}, &high);
  const Nanos d = b.Delay(2, milliseconds(200));
  EXPECT_GE(d, milliseconds(100));
  EXPECT_LE(d, milliseconds(600));
  EXPECT_EQ(b.Delay(9, seconds(5)), seconds(1));
  FixedRandom low(0.0);
  Backoff c({milliseconds(100), seconds(1), 2.0, Jitter::kDecorrelated}, &low);
  EXPECT_EQ(c.Delay(3, milliseconds(300)), milliseconds(100));
}

TEST(Backoff, SeededRandomIsDeterministicAndInRange) {
  SeededRandom a(42);
  SeededRandom b(42);
  for (int i = 0; i < 1000; ++i) {
    const double x = a.Uniform01();
    EXPECT_EQ(x, b.Uniform01());
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
  }
}

}  // namespace
}  // namespace btrq::broker
