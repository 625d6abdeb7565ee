#include "tests/support/json.h"

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace btrq::testing {

namespace {

const Json& NullJson() {
  static const Json* const kNull = new Json();
  return *kNull;
}

constexpr int kMaxDepth = 128;

}  // namespace

// Builds our tree from nlohmann's: tests keep a small, stable API (and a shared null for
// missing members) while nlohmann does the parsing.
class JsonBuilder {
 public:
  static Json From(const nlohmann::ordered_json& v) {
    Json out;
    switch (v.type()) {
      case nlohmann::ordered_json::value_t::boolean:
        out.type_ = Json::Type::kBool;
        out.bool_ = v.get<bool>();
        break;
      case nlohmann::ordered_json::value_t::number_integer:
      case nlohmann::ordered_json::value_t::number_unsigned:
      case nlohmann::ordered_json::value_t::number_float:
        out.type_ = Json::Type::kNumber;
        out.number_ = v.get<double>();
        break;
      case nlohmann::ordered_json::value_t::string:
        out.type_ = Json::Type::kString;
        out.string_ = v.get<std::string>();
        break;
      case nlohmann::ordered_json::value_t::array:
        out.type_ = Json::Type::kArray;
        out.elements_.reserve(v.size());
        for (const auto& element : v) out.elements_.push_back(From(element));
        break;
      case nlohmann::ordered_json::value_t::object:
        out.type_ = Json::Type::kObject;
        out.members_.reserve(v.size());
        for (const auto& [key, value] : v.items()) out.members_.emplace_back(key, From(value));
        break;
      default:  // null; `discarded` never survives a successful parse
        break;
    }
    return out;
  }
};

Result<Json> Json::Parse(std::string_view text) {
  // nlohmann keeps the last of repeated member names; the callback rejects them instead,
  // so that a document our code wrote twice into fails the test. It also caps nesting.
  std::vector<std::set<std::string>> names;
  std::string error;
  const auto check = [&](int depth, nlohmann::ordered_json::parse_event_t event,
                         nlohmann::ordered_json& parsed) {
    using Event = nlohmann::ordered_json::parse_event_t;
    if (depth > kMaxDepth && error.empty()) error = "nesting too deep";
    if (event == Event::object_start) names.emplace_back();
    if (event == Event::object_end) names.pop_back();
    if (event == Event::key && !names.back().insert(parsed.get<std::string>()).second &&
        error.empty()) {
      error = "repeated member name \"" + parsed.get<std::string>() + "\"";
    }
    return true;
  };
  try {
    nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text, check);
    if (!error.empty()) return Status::InvalidArgument("JSON: " + error);
    return JsonBuilder::From(doc);
  } catch (const nlohmann::ordered_json::exception& e) {
    return Status::InvalidArgument(std::string("JSON: ") + e.what());
  }
}

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
