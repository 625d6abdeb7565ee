#pragma once

// Small text helpers shared across components.

#include <cstddef>
#include <string>
#include <string_view>

namespace btrq {

// Levenshtein distance (insertions, deletions, substitutions, each costing 1), for
// "did you mean" suggestions of config keys, job-file keys and flags.
size_t EditDistance(std::string_view a, std::string_view b);

// Lower-case hex of every byte: "\x01\xab" -> "01ab".
std::string HexOf(std::string_view bytes);

}  // namespace btrq
