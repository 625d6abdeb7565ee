#pragma once

// A small streaming JSON writer for the CLI's --json output: compact, keys in the order
// written, strings escaped (control characters as \uXXXX), doubles in the shortest form
// that round-trips, NaN and ±Inf as null. The caller keeps objects and arrays balanced.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btrq::submitter {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The next value's key. REQUIRES: inside an object.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace btrq::submitter
