#pragma once

// Count, mean and M2 (the sum of squared deviations from the mean) of a set of values,
// built by merging sub-sets: quality's blocks of raw values, stats' BTrDB windows.

#include <cstdint>

namespace btrq::analytics {

struct Moments {
  uint64_t count = 0;
  double mean = 0;
  double m2 = 0;

  // Adds a set of `n` > 0 values with mean `mean_b` and M2 `m2_b`, by Chan et al.'s
  // pairwise update (stable where summing squares is not).
  void Merge(uint64_t n, double mean_b, double m2_b) {
    if (count == 0) {
      mean = mean_b;
      m2 = m2_b;
    } else {
      const double na = static_cast<double>(count);
      const double nb = static_cast<double>(n);
      const double total = na + nb;
      const double delta = mean_b - mean;
      mean += delta * (nb / total);
      m2 += m2_b + delta * delta * (na * nb / total);
    }
    count += n;
  }

  // Population variance. REQUIRES: count > 0.
  double variance() const { return m2 / static_cast<double>(count); }
};

}  // namespace btrq::analytics
