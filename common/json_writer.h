#pragma once

// A small streaming JSON writer, shared by the CLI's --json output, the broker's dashboard
// and btrdb-lite's generator manifest: compact, keys in the order written, commas and
// colons placed for the caller, strings escaped by JsonEscape (control characters as
// \uXXXX, invalid UTF-8 as U+FFFD), NaN and ±Inf as null (JSON has no other spelling).
// Doubles take the shortest form that round-trips: plain decimals from 1e-4 up to 1e15,
// exponents beyond, and always a '.' or an exponent, so 2.0 reads back as a double.
//
//   JsonWriter w;
//   w.BeginObject().Key("depth").Uint(3).Key("hosts").BeginArray().String("a").EndArray();
//   w.EndObject();
//   std::string text = w.Take();  // {"depth":3,"hosts":["a"]}
//
// REQUIRES (checked by debug asserts only): the calls form one well-nested value; Key only
// directly inside an object, followed by exactly one value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btrq {

// Length of the valid UTF-8 sequence that starts at s[i], or 0 when it is not valid
// (a stray byte, a truncated sequence, an overlong form, a UTF-16 surrogate or a code
// point past U+10FFFF). REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Appends `text` escaped for the inside of a JSON string: '"', '\\' and the control
// characters (DEL too) escaped, invalid UTF-8 as \ufffd.
void AppendJsonEscaped(std::string* out, std::string_view text);
std::string JsonEscape(std::string_view text);

// Appends `text` as a JSON string literal, quotes included.
void AppendJsonQuoted(std::string* out, std::string_view text);
std::string JsonQuote(std::string_view text);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The text written so far.
  const std::string& str() const { return out_; }
  // The text written so far; the writer is empty afterwards.
  std::string Take();

 private:
  // Writes the comma before a value or key when one is due.
  void BeforeValue();

  std::string out_;
  // One entry per open object or array: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace btrq
