#include "analytics/flat_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "common/json_reader.h"
#include "common/json_writer.h"
#include "common/number_format.h"

namespace btrq::analytics {
namespace {

// The subset we accept, over the shared JSON lexer.
class Parser {
 public:
  explicit Parser(std::string_view text) : in_(text) {}

  Result<Fields> Object() {
    in_.SkipSpace();
    if (!in_.Consume('{')) return in_.Error("expected '{'");
    Fields fields;
    in_.SkipSpace();
    if (!in_.Consume('}')) {
      while (true) {
        in_.SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(std::string name, in_.String());
        for (const auto& f : fields) {
          if (f.first == name) return in_.Error("duplicate name \"" + name + "\"");
        }
        in_.SkipSpace();
        if (!in_.Consume(':')) return in_.Error("expected ':'");
        in_.SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(FieldValue value, Value());
        fields.emplace_back(std::move(name), std::move(value));
        in_.SkipSpace();
        if (in_.Consume(',')) continue;
        if (in_.Consume('}')) break;
        return in_.Error("expected ',' or '}'");
      }
    }
    BTRQ_RETURN_IF_ERROR(End());
    return fields;
  }

  Result<std::vector<std::string>> StringArray() {
    in_.SkipSpace();
    if (!in_.Consume('[')) return in_.Error("expected '['");
    std::vector<std::string> items;
    in_.SkipSpace();
    if (!in_.Consume(']')) {
      while (true) {
        in_.SkipSpace();
        BTRQ_ASSIGN_OR_RETURN(std::string item, in_.String());
        items.push_back(std::move(item));
        in_.SkipSpace();
        if (in_.Consume(',')) continue;
        if (in_.Consume(']')) break;
        return in_.Error("expected ',' or ']'");
      }
    }
    BTRQ_RETURN_IF_ERROR(End());
    return items;
  }

 private:
  Status End() {
    in_.SkipSpace();
    if (!in_.AtEnd()) return in_.Error("trailing characters");
    return Status::OK();
  }

  Result<FieldValue> Value() {
    if (in_.AtEnd()) return in_.Error("expected a value");
    const char c = in_.Peek();
    if (c == '"') {
      BTRQ_ASSIGN_OR_RETURN(std::string s, in_.String());
      return FieldValue(std::move(s));
    }
    if (in_.ConsumeWord("NaN")) return FieldValue(std::numeric_limits<double>::quiet_NaN());
    if (in_.ConsumeWord("Infinity")) return FieldValue(std::numeric_limits<double>::infinity());
    if (in_.ConsumeWord("-Infinity")) {
      return FieldValue(-std::numeric_limits<double>::infinity());
    }
    if (c == '-' || (c >= '0' && c <= '9')) return Number();
    return in_.Error("expected a number or a string");
  }

  // An integer literal that fits int64 is an int64; any other number is a double.
  Result<FieldValue> Number() {
    BTRQ_ASSIGN_OR_RETURN(std::string_view text, in_.Number());
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (text.find_first_of(".eE") == std::string_view::npos) {
      int64_t i = 0;
      const auto [ptr, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && ptr == last) return FieldValue(i);
      // Out of int64 range: fall through to a double.
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || ptr != last) return in_.Error("number out of range");
    return FieldValue(d);
  }

  JsonCursor in_;
};

}  // namespace

void AppendJsonValue(std::string* out, const FieldValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    out->append(std::to_string(*i));
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (std::isnan(*d)) {
      out->append("NaN");
    } else if (std::isinf(*d)) {
      out->append(*d > 0 ? "Infinity" : "-Infinity");
    } else {
      const size_t at = out->size();
      AppendDouble(out, *d);
      // Keep a double a double for the reader: 2.0 prints as "2".
      if (out->find_first_of(".eE", at) == std::string::npos) out->append(".0");
    }
  } else {
    AppendJsonQuoted(out, std::get<std::string>(value));
  }
}

void AppendJsonObject(std::string* out, const Fields& fields) {
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonQuoted(out, name);
    out->push_back(':');
    AppendJsonValue(out, value);
  }
  out->push_back('}');
}

Result<Fields> ParseFlatJsonObject(std::string_view text) { return Parser(text).Object(); }

Result<std::vector<std::string>> ParseJsonStringArray(std::string_view text) {
  return Parser(text).StringArray();
}

}  // namespace btrq::analytics
