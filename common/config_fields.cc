// The field types of ConfigBinder::SectionBuilder (common/config.h): how each parses a
// value and formats the member back as YAML text.
#include "common/config.h"

#include <charconv>
#include <cmath>
#include <memory>

#include "common/clock.h"
#include "common/config_internal.h"
#include "common/limits.h"
#include "common/logging.h"
#include "common/number_format.h"
#include "common/time_util.h"

namespace btrq {
namespace {

using config_internal::Lower;
using config_internal::Quote;
using config_internal::Trim;

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = Trim(text.substr(start, comma - start));
    if (!item.empty()) items.emplace_back(item);
    start = comma + 1;
  }
  return items;
}

Status ParseError(std::string_view expected, std::string_view text) {
  return Status::InvalidArgument("expected " + std::string(expected) + ", got " + Quote(text));
}

Result<bool> ParseBool(std::string_view text) {
  const std::string t = Lower(Trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return ParseError("true or false", text);
}

template <typename T>
Result<T> ParseInteger(std::string_view text, std::string_view expected) {
  const std::string_view t = Trim(text);
  T v{};
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return ParseError(expected, text);
  }
  return v;
}

Result<double> ParseDouble(std::string_view text) {
  const std::string_view t = Trim(text);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) {
    return ParseError("a finite number", text);
  }
  return v;
}

}  // namespace

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Add(
    std::unique_ptr<ConfigField> field) {
  field->section = section_;
  field->default_text = field->format();
  binder_->fields_.push_back(std::move(field));
  return *this;
}

namespace {
std::unique_ptr<ConfigField> NewField(std::string key, ConfigType type, const void* member,
                                      std::string doc) {
  auto f = std::make_unique<ConfigField>();
  f->key = std::move(key);
  f->type = type;
  f->member = member;
  f->doc = std::move(doc);
  return f;
}
}  // namespace

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::String(std::string key,
                                                                    std::string* value,
                                                                    std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kString, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    *value = std::string(t);
    return Status::OK();
  };
  f->format = [value] { return Quote(*value); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Bool(std::string key, bool* value,
                                                                  std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kBool, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(*value, ParseBool(t));
    return Status::OK();
  };
  f->format = [value] { return std::string(*value ? "true" : "false"); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Int64(std::string key,
                                                                   int64_t* value,
                                                                   std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kInt64, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(*value, ParseInteger<int64_t>(t, "a 64-bit integer"));
    return Status::OK();
  };
  f->format = [value] { return std::to_string(*value); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Uint32(std::string key,
                                                                    uint32_t* value,
                                                                    std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kUint32, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(*value,
                          ParseInteger<uint32_t>(t, "an unsigned 32-bit integer (0..4294967295)"));
    return Status::OK();
  };
  f->format = [value] { return std::to_string(*value); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Double(std::string key,
                                                                    double* value,
                                                                    std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kDouble, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(*value, ParseDouble(t));
    return Status::OK();
  };
  f->format = [value] { return FormatDouble(*value); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Duration(std::string key,
                                                                      int64_t* nanos,
                                                                      std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kDuration, nanos, std::move(doc));
  f->parse = [nanos](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(const int64_t parsed, ParseDuration(t));
    // Every config duration is added to a time point somewhere: bounded here, once.
    if (parsed > limits::kMaxConfigDurationNs) {
      return Status::InvalidArgument("duration '" + std::string(t) + "' exceeds the limit of " +
                                     FormatDuration(limits::kMaxConfigDurationNs));
    }
    *nanos = parsed;
    return Status::OK();
  };
  f->format = [nanos] { return FormatDuration(*nanos); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Timestamp(std::string key,
                                                                       int64_t* nanos,
                                                                       std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kTimestamp, nanos, std::move(doc));
  const Clock* clock = binder_->clock_;
  f->parse = [nanos, clock](std::string_view t) {
    BTRQ_ASSIGN_OR_RETURN(*nanos, ParseTimestamp(t, clock->WallNanos()));
    return Status::OK();
  };
  f->format = [nanos] { return Quote(FormatTimestamp(*nanos)); };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::StringList(
    std::string key, std::vector<std::string>* value, std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kStringList, value, std::move(doc));
  f->parse = [value](std::string_view t) {
    *value = SplitList(t);
    return Status::OK();
  };
  f->parse_list = [value](const std::vector<std::string>& items) {
    *value = items;
    return Status::OK();
  };
  f->format = [value] {
    std::string out = "[";
    for (size_t i = 0; i < value->size(); ++i) {
      if (i > 0) out += ", ";
      out += Quote((*value)[i]);
    }
    return out + "]";
  };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::AddEnum(
    std::string key, const void* member, std::vector<std::string> names,
    std::function<void(size_t)> set, std::function<size_t()> get, std::string doc) {
  auto f = NewField(std::move(key), ConfigType::kEnum, member, std::move(doc));
  f->enum_names = names;
  auto labels = std::make_shared<const std::vector<std::string>>(std::move(names));
  f->parse = [labels, set](std::string_view t) {
    const std::string wanted = Lower(Trim(t));
    for (size_t i = 0; i < labels->size(); ++i) {
      if (Lower((*labels)[i]) == wanted) {
        set(i);
        return Status::OK();
      }
    }
    std::string expected;
    for (size_t i = 0; i < labels->size(); ++i) {
      expected += (i == 0 ? "" : ", ") + (*labels)[i];
    }
    return Status::InvalidArgument("bad value " + Quote(t) + " (expected one of: " + expected +
                                   ")");
  };
  f->format = [labels, get] {
    const size_t i = get();
    return i < labels->size() ? (*labels)[i] : std::string("<unnamed>");
  };
  return Add(std::move(f));
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Secret() {
  ConfigField* f = binder_->fields_.back().get();
  f->secret = true;
  f->default_text = Quote(RedactSecret(f->type == ConfigType::kString
                                           ? *static_cast<const std::string*>(f->member)
                                           : f->default_text));
  return *this;
}

ConfigBinder::SectionBuilder& ConfigBinder::SectionBuilder::Required() {
  binder_->fields_.back()->required = true;
  return *this;
}

}  // namespace btrq
