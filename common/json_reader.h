#pragma once

// The lexical half of reading JSON (RFC 8259), shared by every JSON reader here: a cursor
// over the text that skips blanks, takes punctuation and words, and reads string literals
// (escapes and surrogate pairs decoded to UTF-8) and number lexemes. What a reader accepts
// above that (general values in the tests' Json, flat objects in the exec analytic) stays
// with the reader.
//
//   JsonCursor in(text);
//   in.SkipSpace();
//   if (!in.Consume('{')) return in.Error("expected '{'");
//   BTRQ_ASSIGN_OR_RETURN(std::string name, in.String());

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq {

class JsonCursor {
 public:
  explicit JsonCursor(std::string_view text) : text_(text) {}

  // Skips blanks (space, tab, CR, LF).
  void SkipSpace();
  // Takes `c` (or `word`) if the text continues with it.
  bool Consume(char c);
  bool ConsumeWord(std::string_view word);

  bool AtEnd() const { return pos_ >= text_.size(); }
  // The character at the cursor; '\0' at the end.
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }

  // Reads a string literal: '"', then characters and escapes up to the closing '"'.
  // Errors for a missing quote, an unterminated string, a control character, a bad escape
  // and a lone surrogate.
  Result<std::string> String();
  // Reads a number, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and returns its text
  // for the caller to convert. Error unless one starts at the cursor.
  Result<std::string_view> Number();

  // InvalidArgument "JSON at byte N: <what>", N being the cursor's offset.
  Status Error(std::string_view what) const;

 private:
  Result<uint32_t> Hex4();
  bool Digits();

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace btrq
