#include "broker/backoff.h"

#include <algorithm>
#include <cmath>

namespace btrq::broker {

double SeededRandom::Uniform01() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

Backoff::Backoff(const BackoffOptions& options, RandomSource* random)
    : options_(options), random_(random) {}

Nanos Backoff::Nominal(uint32_t retry) const {
  const double cap = static_cast<double>(options_.cap.count());
  const double exponent = retry == 0 ? 0.0 : static_cast<double>(retry - 1);
  const double d = static_cast<double>(options_.base.count()) * std::pow(options_.multiplier, exponent);
  return Nanos(static_cast<int64_t>(std::min(d, cap)));
}

Nanos Backoff::Delay(uint32_t retry, Nanos previous) {
  switch (options_.jitter) {
    case Jitter::kNone:
      return Nominal(retry);
    case Jitter::kFull:
      return Nanos(static_cast<int64_t>(random_->Uniform01() *
                                        static_cast<double>(Nominal(retry).count())));
    case Jitter::kDecorrelated: {
      const double base = static_cast<double>(options_.base.count());
      double prev = static_cast<double>(previous.count());
      if (prev <= 0) prev = static_cast<double>(Nominal(retry > 1 ? retry - 1 : 1).count());
      const double hi = std::max(base, 3.0 * prev);
      const double d = base + random_->Uniform01() * (hi - base);
      return Nanos(static_cast<int64_t>(std::min(d, static_cast<double>(options_.cap.count()))));
    }
  }
  return Nominal(retry);
}

}  // namespace btrq::broker
