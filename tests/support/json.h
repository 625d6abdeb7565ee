#pragma once

// JSON for assertions in tests: parse a response body (strict RFC 8259, by nlohmann-json),
// then reach into it. Numbers are doubles (exact for integers up to 2^53); object members
// keep their order, and a repeated member name is a parse error. Looking up a missing
// member or index yields a shared null value, so chains like
// `doc["jobs"][0]["name"].AsString()` fail as a mismatch rather than a crash.
//
//   ASSERT_OK_AND_ASSIGN(Json doc, Json::Parse(body));
//   EXPECT_EQ(doc["stats"]["queue_depth"].AsNumber(), 42);

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace btrq::testing {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  // The whole of `text` must be one JSON value (surrounding whitespace allowed). Errors:
  // InvalidArgument with nlohmann's message (which names the byte offset). Nesting is
  // limited to 128 levels.
  static Result<Json> Parse(std::string_view text);

  Json() = default;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // The value, or false / 0 / "" when the type differs.
  bool AsBool() const { return type_ == Type::kBool && bool_; }
  double AsNumber() const { return type_ == Type::kNumber ? number_ : 0; }
  const std::string& AsString() const { return string_; }

  // Elements of an array or members of an object; 0 otherwise.
  size_t size() const;
  // Array element `i`, or null.
  const Json& operator[](size_t i) const;
  const Json& operator[](int i) const { return (*this)[static_cast<size_t>(i)]; }
  // Object member `key` (the first, if repeated), or null.
  const Json& operator[](std::string_view key) const;
  const Json& operator[](const char* key) const { return (*this)[std::string_view(key)]; }
  bool Has(std::string_view key) const;
  // Object members in document order.
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }
  const std::vector<Json>& elements() const { return elements_; }

 private:
  friend class JsonBuilder;

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> elements_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace btrq::testing
