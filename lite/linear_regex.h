#pragma once

// The regular expressions of btrdb-lite's SQL `~` operator, matched in time linear in the
// subject: the pattern compiles to a Thompson NFA that is simulated breadth-first (no
// backtracking, no recursion), so no pattern takes exponential time, deep recursion or
// unbounded memory, whatever a client sends. std::regex backtracks: `(a*)*b` on a long
// name took exponential time.
//
// The syntax is ECMAScript's core: literals and escapes (\. \n \t \xHH ...), `.` (any
// byte but newline), classes `[a-z]`, `[^...]`, \d \w \s and their negations, anchors `^`
// and `$` (of the whole subject), groups `( )` and `(?: )`, `|`, and the quantifiers
// `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` (each also lazy, which cannot change whether a
// pattern matches). Backreferences, lookaround and word boundaries are refused.

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace btrq::lite {

class LinearRegex {
 public:
  static constexpr size_t kMaxPatternBytes = 1024;
  // Instructions of a compiled pattern (bounded repetitions are unrolled): the cost of
  // matching one byte of a subject is at most proportional to this.
  static constexpr size_t kMaxProgram = 2'000;
  static constexpr int kMaxNesting = 64;  // groups within groups
  static constexpr int kMaxRepeat = 1000;  // m and n of {m,n}

  // InvalidArgument naming the problem: a syntax error, an unsupported feature, or a
  // pattern over the bounds above.
  static Result<LinearRegex> Compile(std::string_view pattern);

  // Whether the pattern matches somewhere in `subject` (as std::regex_search). Time
  // O(subject size x program size), memory O(program size).
  bool Search(std::string_view subject) const;

  enum class Op : uint8_t { kByte, kAny, kClass, kSplit, kJump, kBol, kEol, kMatch };
  struct Inst {
    Op op = Op::kMatch;
    uint8_t byte = 0;
    uint32_t x = 0;  // kClass: the class; kSplit, kJump: a target
    uint32_t y = 0;  // kSplit: the other target
  };

 private:
  friend class RegexCompiler;
  std::vector<Inst> program_;
  std::vector<std::bitset<256>> classes_;
};

}  // namespace btrq::lite
