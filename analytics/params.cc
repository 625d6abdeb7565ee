#include "analytics/params.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "common/number_format.h"
#include "common/time_util.h"

namespace btrq::analytics {
namespace {

// Parses all of `text` (no surrounding spaces) as a double; nullopt otherwise.
std::optional<double> ParseDouble(std::string_view text) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace

const FieldValue* FindParam(const Fields& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::string FieldValueToString(const FieldValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return FormatDouble(*d);
  return std::get<std::string>(value);
}

ParamReader::ParamReader(std::string_view analytic, const Fields& params)
    : analytic_(analytic), params_(params), used_(params.size(), false) {}

Status ParamReader::Invalid(std::string_view name, std::string_view what) const {
  std::string msg = analytic_;
  msg += ": param '";
  msg += name;
  msg += "' ";
  msg += what;
  return Status::InvalidArgument(std::move(msg));
}

const FieldValue* ParamReader::Take(std::string_view name) {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].first == name) {
      used_[i] = true;
      return &params_[i].second;
    }
  }
  return nullptr;
}

Result<std::optional<double>> ParamReader::Double(std::string_view name) {
  const FieldValue* v = Take(name);
  if (v == nullptr) return std::optional<double>();
  if (const auto* i = std::get_if<int64_t>(v)) return std::optional<double>(static_cast<double>(*i));
  if (const auto* d = std::get_if<double>(v)) return std::optional<double>(*d);
  const std::optional<double> parsed = ParseDouble(std::get<std::string>(*v));
  if (!parsed) return Invalid(name, "must be a number, got '" + std::get<std::string>(*v) + "'");
  return parsed;
}

Result<std::optional<int64_t>> ParamReader::Int(std::string_view name) {
  const FieldValue* v = Take(name);
  if (v == nullptr) return std::optional<int64_t>();
  if (const auto* i = std::get_if<int64_t>(v)) return std::optional<int64_t>(*i);
  if (const auto* d = std::get_if<double>(v)) {
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    if (std::trunc(*d) == *d && *d >= -0x1p63 && *d < 0x1p63) {
      return std::optional<int64_t>(static_cast<int64_t>(*d));
    }
    return Invalid(name, "must be an integer, got " + FieldValueToString(*v));
  }
  const std::optional<int64_t> parsed = ParseInt(std::get<std::string>(*v));
  if (!parsed) return Invalid(name, "must be an integer, got '" + std::get<std::string>(*v) + "'");
  return parsed;
}

Result<std::optional<std::string>> ParamReader::String(std::string_view name) {
  const FieldValue* v = Take(name);
  if (v == nullptr) return std::optional<std::string>();
  if (const auto* s = std::get_if<std::string>(v)) return std::optional<std::string>(*s);
  return Invalid(name, "must be a string, got " + FieldValueToString(*v));
}

Result<std::optional<int64_t>> ParamReader::Duration(std::string_view name) {
  const FieldValue* v = Take(name);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t ns = 0;
  if (const auto* i = std::get_if<int64_t>(v)) {
    ns = *i;
  } else if (const auto* s = std::get_if<std::string>(v)) {
    if (const std::optional<int64_t> plain = ParseInt(*s)) {
      ns = *plain;
    } else {
      Result<int64_t> parsed = ParseDuration(*s);
      if (!parsed.ok()) return Invalid(name, "is not a duration: " + parsed.status().message());
      ns = *parsed;
    }
  } else {
    return Invalid(name, "must be a duration (integer ns or e.g. \"30s\"), got " +
                             FieldValueToString(*v));
  }
  if (ns < 0) return Invalid(name, "must not be negative");
  return std::optional<int64_t>(ns);
}

Status ParamReader::CheckAllUsed() const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    for (size_t j = 0; j < i; ++j) {
      if (params_[j].first == name) return Invalid(name, "is given twice");
    }
    if (used_[i]) continue;
    bool context = false;
    for (std::string_view c : kContextParams) context = context || c == name;
    if (!context) return Invalid(name, "is unknown");
  }
  return Status::OK();
}

}  // namespace btrq::analytics
