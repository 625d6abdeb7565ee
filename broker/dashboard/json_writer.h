#pragma once

// A minimal streaming JSON writer: objects, arrays, strings (escaped, invalid UTF-8 becomes
// U+FFFD), integers and doubles (shortest round-trip form; NaN and infinities become null,
// which JSON has no other spelling for). Commas and colons are placed for the caller.
//
//   JsonWriter w;
//   w.BeginObject().Key("depth").Uint(3).Key("hosts").BeginArray().String("a").EndArray();
//   w.EndObject();
//   std::string text = w.Take();  // {"depth":3,"hosts":["a"]}
//
// REQUIRES (not checked beyond debug asserts): calls form one well-nested value; Key only
// directly inside an object and followed by exactly one value.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btrq::dashboard {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();

  // The text written so far; the writer is empty afterwards.
  std::string Take();

 private:
  // Writes the comma before a value or key when one is due.
  void BeforeValue();

  std::string out_;
  // One entry per open object/array: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace btrq::dashboard
