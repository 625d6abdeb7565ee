#pragma once

// Retry delays: exponential growth, capped, with jitter drawn from an injected random
// source so tests are deterministic. Not thread-safe.

#include <cstdint>

#include "common/clock.h"

namespace btrq::broker {

// A source of uniform doubles in [0, 1).
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual double Uniform01() = 0;
};

// splitmix64: fast, seedable, good enough for jitter.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  double Uniform01() override;

 private:
  uint64_t state_;
};

enum class Jitter : uint8_t {
  kNone,          // base * multiplier^(retry-1), capped
  kFull,          // uniform in [0, that)
  kDecorrelated,  // uniform in [base, 3 * previous delay), capped (AWS's "decorrelated")
};

struct BackoffOptions {
  Nanos base = std::chrono::milliseconds(200);  // the first retry's nominal delay
  Nanos cap = std::chrono::seconds(30);         // no delay exceeds this
  double multiplier = 2.0;
  Jitter jitter = Jitter::kFull;
};

class Backoff {
 public:
  // `random` is borrowed and must outlive this object.
  Backoff(const BackoffOptions& options, RandomSource* random);

  // The delay before retry number `retry` (1 = the first retry). `previous` is the
  // delay used before the previous retry; only kDecorrelated reads it, and when it is 0
  // the nominal delay of retry-1 stands in for it.
  Nanos Delay(uint32_t retry, Nanos previous = Nanos(0));

  // The un-jittered delay of retry number `retry`, capped.
  Nanos Nominal(uint32_t retry) const;

 private:
  BackoffOptions options_;
  RandomSource* random_;
};

}  // namespace btrq::broker
