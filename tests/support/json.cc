#include "tests/support/json.h"

#include <cstdlib>
#include <string>

#include "common/json_reader.h"

namespace btrq::testing {

namespace {

const Json& NullJson() {
  static const Json* const kNull = new Json();
  return *kNull;
}

}  // namespace

// General JSON values over the shared lexer (common/json_reader.h).
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : in_(text) {}

  Result<Json> ParseDocument() {
    Json value;
    in_.SkipSpace();
    BTRQ_RETURN_IF_ERROR(ParseValue(&value, 0));
    in_.SkipSpace();
    if (!in_.AtEnd()) return in_.Error("trailing characters");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 128;

  Status ParseValue(Json* out, int depth) {
    if (depth > kMaxDepth) return in_.Error("nesting too deep");
    if (in_.AtEnd()) return in_.Error("unexpected end");
    const char c = in_.Peek();
    if (c == '{') return ParseObject(out, depth);
    if (c == '[') return ParseArray(out, depth);
    if (c == '"') {
      out->type_ = Json::Type::kString;
      BTRQ_ASSIGN_OR_RETURN(out->string_, in_.String());
      return Status::OK();
    }
    if (in_.ConsumeWord("true")) {
      out->type_ = Json::Type::kBool;
      out->bool_ = true;
      return Status::OK();
    }
    if (in_.ConsumeWord("false")) {
      out->type_ = Json::Type::kBool;
      return Status::OK();
    }
    if (in_.ConsumeWord("null")) return Status::OK();
    BTRQ_ASSIGN_OR_RETURN(std::string_view number, in_.Number());
    out->type_ = Json::Type::kNumber;
    out->number_ = std::strtod(std::string(number).c_str(), nullptr);
    return Status::OK();
  }

  Status ParseObject(Json* out, int depth) {
    out->type_ = Json::Type::kObject;
    in_.Consume('{');
    in_.SkipSpace();
    if (in_.Consume('}')) return Status::OK();
    while (true) {
      in_.SkipSpace();
      if (in_.Peek() != '"') return in_.Error("expected a member name");
      BTRQ_ASSIGN_OR_RETURN(std::string key, in_.String());
      in_.SkipSpace();
      if (!in_.Consume(':')) return in_.Error("expected ':'");
      in_.SkipSpace();
      Json value;
      BTRQ_RETURN_IF_ERROR(ParseValue(&value, depth + 1));
      out->members_.emplace_back(std::move(key), std::move(value));
      in_.SkipSpace();
      if (in_.Consume('}')) return Status::OK();
      if (!in_.Consume(',')) return in_.Error("expected ',' or '}'");
    }
  }

  Status ParseArray(Json* out, int depth) {
    out->type_ = Json::Type::kArray;
    in_.Consume('[');
    in_.SkipSpace();
    if (in_.Consume(']')) return Status::OK();
    while (true) {
      in_.SkipSpace();
      Json value;
      BTRQ_RETURN_IF_ERROR(ParseValue(&value, depth + 1));
      out->elements_.push_back(std::move(value));
      in_.SkipSpace();
      if (in_.Consume(']')) return Status::OK();
      if (!in_.Consume(',')) return in_.Error("expected ',' or ']'");
    }
  }

  JsonCursor in_;
};

Result<Json> Json::Parse(std::string_view text) { return JsonParser(text).ParseDocument(); }

size_t Json::size() const {
  if (type_ == Type::kArray) return elements_.size();
  if (type_ == Type::kObject) return members_.size();
  return 0;
}

const Json& Json::operator[](size_t i) const {
  if (type_ != Type::kArray || i >= elements_.size()) return NullJson();
  return elements_[i];
}

const Json& Json::operator[](std::string_view key) const {
  if (type_ == Type::kObject) {
    for (const auto& [name, value] : members_) {
      if (name == key) return value;
    }
  }
  return NullJson();
}

bool Json::Has(std::string_view key) const {
  if (type_ != Type::kObject) return false;
  for (const auto& [name, value] : members_) {
    if (name == key) return true;
  }
  return false;
}

}  // namespace btrq::testing
