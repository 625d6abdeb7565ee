#pragma once

// A strict parser of the Prometheus text exposition format 0.0.4, for tests that check
// what a /metrics endpoint serves. Stricter than Prometheus itself, on purpose:
//
//   - every line ends in "\n"; tokens are separated by exactly one space;
//   - every metric family has exactly one "# HELP" and one "# TYPE" line (in that order,
//     before its samples), and its samples are contiguous; a family appears once;
//   - metric and label names follow the grammar ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without
//     ':' and not starting with "__"); label values are quoted with only the escapes \\,
//     \" and \n; no label name twice in one sample, no trailing comma;
//   - a sample's name is the family's (counter, gauge, untyped) or the family's plus
//     _bucket/_sum/_count (histogram), _sum/_count (summary); counters end in "_total"
//     and are never negative or NaN;
//   - no series (name + label set) twice;
//   - histograms: per label set, finite "le" bounds strictly increasing, cumulative
//     counts non-decreasing, a "+Inf" bucket equal to _count, and _sum present.
//
//   ASSERT_OK_AND_ASSIGN(Exposition e, Exposition::Parse(body));
//   EXPECT_EQ(e.Value("btrq_workers"), 2);
//   EXPECT_GT(e.Value("btrq_tasks_total", {{"status", "done"}}).value_or(0), 0);

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace btrq::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;  // unescaped
  std::vector<PromSample> samples;
};

class Exposition {
 public:
  // InvalidArgument naming the line number and the rule broken.
  static Result<Exposition> Parse(std::string_view text);

  const std::vector<PromFamily>& families() const { return families_; }
  // The family called `name`, or nullptr.
  const PromFamily* Family(std::string_view name) const;
  // The value of the sample `name` with exactly `labels`; nullopt when absent.
  std::optional<double> Value(std::string_view name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // The sum over every sample called `name` (0 when none).
  double Sum(std::string_view name) const;
  // Every sample called `name`.
  std::vector<PromSample> Samples(std::string_view name) const;

 private:
  std::vector<PromFamily> families_;
};

}  // namespace btrq::testing
