#include "tests/support/prometheus.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace btrq::testing {
namespace {

bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

bool IsNameChar(char c, bool allow_colon) {
  return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9');
}

bool ValidMetricName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0], true)) return false;
  for (char c : name) {
    if (!IsNameChar(c, true)) return false;
  }
  return true;
}

// Reads a name at `*pos`; empty when none.
std::string_view ReadName(std::string_view line, size_t* pos, bool allow_colon) {
  const size_t start = *pos;
  if (start >= line.size() || !IsNameStart(line[start], allow_colon)) return {};
  size_t end = start + 1;
  while (end < line.size() && IsNameChar(line[end], allow_colon)) ++end;
  *pos = end;
  return line.substr(start, end - start);
}

// A sample value or timestamp as Prometheus writes it.
bool ParseValue(std::string_view text, double* out) {
  if (text == "+Inf" || text == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text.empty()) return false;
  for (char c : text) {
    const bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
                    c == '-';
    if (!ok) return false;
  }
  const char* begin = text.data();
  if (*begin == '+') ++begin;
  const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// HELP text: only \\ and \n are escapes.
bool UnescapeHelp(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out->push_back(text[i]);
      continue;
    }
    if (++i == text.size()) return false;
    if (text[i] == '\\') {
      out->push_back('\\');
    } else if (text[i] == 'n') {
      out->push_back('\n');
    } else {
      return false;
    }
  }
  return true;
}

// The family a sample name belongs to, given the family's type.
bool BelongsTo(std::string_view sample, const PromFamily& family, std::string* suffix) {
  if (sample == family.name) {
    suffix->clear();
    return family.type != "histogram" && family.type != "summary";
  }
  if (!sample.starts_with(family.name)) return false;
  const std::string_view rest = sample.substr(family.name.size());
  if (family.type == "histogram" && (rest == "_bucket" || rest == "_sum" || rest == "_count")) {
    *suffix = std::string(rest);
    return true;
  }
  if (family.type == "summary" && (rest == "_sum" || rest == "_count")) {
    *suffix = std::string(rest);
    return true;
  }
  return false;
}

std::string SeriesKey(const std::string& name, const std::map<std::string, std::string>& labels) {
  std::string key = name + "{";
  for (const auto& [k, v] : labels) key += k + "=\"" + v + "\",";
  return key + "}";
}

Status Fail(size_t line_no, std::string_view why) {
  return Status::InvalidArgument("exposition line " + std::to_string(line_no) + ": " +
                                 std::string(why));
}

// Checks one histogram family's series.
Status CheckHistogram(const PromFamily& family) {
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, cumulative count) in order
    std::optional<double> count;
    std::optional<double> sum;
  };
  std::map<std::string, Series> by_labels;
  for (const PromSample& s : family.samples) {
    std::map<std::string, std::string> labels = s.labels;
    std::string le;
    if (s.name == family.name + "_bucket") {
      auto it = labels.find("le");
      if (it == labels.end()) return Status::InvalidArgument(family.name + ": bucket without le");
      le = it->second;
      labels.erase(it);
    } else if (labels.contains("le")) {
      return Status::InvalidArgument(family.name + ": le on a _sum or _count sample");
    }
    Series& series = by_labels[SeriesKey("", labels)];
    if (s.name.ends_with("_bucket")) {
      double bound = 0;
      if (!ParseValue(le, &bound) || std::isnan(bound)) {
        return Status::InvalidArgument(family.name + ": bad le \"" + le + "\"");
      }
      series.buckets.emplace_back(bound, s.value);
    } else if (s.name.ends_with("_count")) {
      series.count = s.value;
    } else {
      series.sum = s.value;
    }
  }
  for (const auto& [key, series] : by_labels) {
    const std::string where = family.name + key;
    if (series.buckets.empty()) return Status::InvalidArgument(where + ": no buckets");
    if (!series.count || !series.sum) return Status::InvalidArgument(where + ": _count or _sum missing");
    for (size_t i = 1; i < series.buckets.size(); ++i) {
      if (!(series.buckets[i].first > series.buckets[i - 1].first)) {
        return Status::InvalidArgument(where + ": le bounds not strictly increasing");
      }
      if (series.buckets[i].second < series.buckets[i - 1].second) {
        return Status::InvalidArgument(where + ": cumulative bucket counts decrease");
      }
    }
    const auto& last = series.buckets.back();
    if (!std::isinf(last.first) || last.first < 0) {
      return Status::InvalidArgument(where + ": no +Inf bucket (last)");
    }
    if (last.second != *series.count) {
      return Status::InvalidArgument(where + ": +Inf bucket " + std::to_string(last.second) +
                                     " != _count " + std::to_string(*series.count));
    }
    for (const auto& [le, n] : series.buckets) {
      if (n < 0 || std::isnan(n)) return Status::InvalidArgument(where + ": bad bucket count");
    }
  }
  return Status::OK();
}

}  // namespace

Result<Exposition> Exposition::Parse(std::string_view text) {
  Exposition out;
  if (!text.empty() && text.back() != '\n') {
    return Status::InvalidArgument("exposition does not end in a newline");
  }
  std::set<std::string> family_names;
  std::set<std::string> series_seen;
  PromFamily* current = nullptr;
  bool current_has_samples = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) return Fail(line_no, "empty line");

    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool is_help = line[2] == 'H';
      size_t p = 7;
      const std::string_view name = ReadName(line, &p, true);
      if (name.empty()) return Fail(line_no, "bad metric name");
      if (is_help) {
        if (p != line.size() && line[p] != ' ') return Fail(line_no, "bad metric name");
        // A HELP line opens a new family.
        if (family_names.contains(std::string(name))) {
          return Fail(line_no, "family " + std::string(name) + " appears twice");
        }
        family_names.insert(std::string(name));
        out.families_.push_back(PromFamily{std::string(name), "", "", {}});
        current = &out.families_.back();
        current_has_samples = false;
        const std::string_view help = p < line.size() ? line.substr(p + 1) : std::string_view();
        if (!UnescapeHelp(help, &current->help)) return Fail(line_no, "bad escape in HELP");
      } else {
        if (current == nullptr || current->name != name || !current->type.empty() ||
            current_has_samples) {
          return Fail(line_no, "TYPE must follow the family's HELP, once, before samples");
        }
        if (p >= line.size() || line[p] != ' ') return Fail(line_no, "TYPE without a type");
        const std::string_view type = line.substr(p + 1);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped") {
          return Fail(line_no, "unknown type \"" + std::string(type) + "\"");
        }
        if (type == "counter" && !name.ends_with("_total")) {
          return Fail(line_no, "counter " + std::string(name) + " does not end in _total");
        }
        current->type = std::string(type);
      }
      continue;
    }
    if (line.starts_with("#")) continue;  // a comment

    // A sample: name[{labels}] value [timestamp]
    size_t p = 0;
    const std::string_view name = ReadName(line, &p, true);
    if (name.empty()) return Fail(line_no, "bad metric name");
    if (current == nullptr || current->type.empty()) {
      return Fail(line_no, "sample " + std::string(name) + " outside a HELP+TYPE family");
    }
    std::string suffix;
    if (!BelongsTo(name, *current, &suffix)) {
      return Fail(line_no, "sample " + std::string(name) + " does not belong to family " +
                               current->name + " (" + current->type + ")");
    }
    PromSample sample;
    sample.name = std::string(name);
    if (p < line.size() && line[p] == '{') {
      ++p;
      bool first = true;
      while (true) {
        if (p >= line.size()) return Fail(line_no, "unterminated label set");
        if (line[p] == '}') {
          if (!first) return Fail(line_no, "trailing comma in label set");
          ++p;
          break;
        }
        const std::string_view label = ReadName(line, &p, false);
        if (label.empty()) return Fail(line_no, "bad label name");
        if (label.starts_with("__")) return Fail(line_no, "reserved label name " + std::string(label));
        if (p + 1 >= line.size() || line[p] != '=' || line[p + 1] != '"') {
          return Fail(line_no, "expected =\" after label " + std::string(label));
        }
        p += 2;
        std::string value;
        while (true) {
          if (p >= line.size()) return Fail(line_no, "unterminated label value");
          const char c = line[p++];
          if (c == '"') break;
          if (c != '\\') {
            value.push_back(c);
            continue;
          }
          if (p >= line.size()) return Fail(line_no, "unterminated escape");
          const char e = line[p++];
          if (e == '\\') {
            value.push_back('\\');
          } else if (e == '"') {
            value.push_back('"');
          } else if (e == 'n') {
            value.push_back('\n');
          } else {
            return Fail(line_no, "bad escape \\" + std::string(1, e) + " in a label value");
          }
        }
        if (!sample.labels.emplace(std::string(label), std::move(value)).second) {
          return Fail(line_no, "label " + std::string(label) + " twice");
        }
        if (p < line.size() && line[p] == ',') {
          ++p;
          if (p < line.size() && line[p] == '}') return Fail(line_no, "trailing comma in label set");
          first = false;
          continue;
        }
        if (p < line.size() && line[p] == '}') {
          ++p;
          break;
        }
        return Fail(line_no, "expected , or } in label set");
      }
    }
    if (p >= line.size() || line[p] != ' ') return Fail(line_no, "expected one space before the value");
    ++p;
    const size_t space = line.find(' ', p);
    const std::string_view value_text = line.substr(p, space == std::string_view::npos ? std::string_view::npos : space - p);
    if (!ParseValue(value_text, &sample.value)) {
      return Fail(line_no, "bad value \"" + std::string(value_text) + "\"");
    }
    if (space != std::string_view::npos) {
      const std::string_view ts = line.substr(space + 1);
      int64_t t = 0;
      const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
      if (ts.empty() || ec != std::errc() || end != ts.data() + ts.size()) {
        return Fail(line_no, "bad timestamp \"" + std::string(ts) + "\"");
      }
    }
    if (current->type == "histogram" && suffix != "_bucket" && sample.labels.contains("le")) {
      return Fail(line_no, "le on a non-bucket sample");
    }
    if (current->type == "counter" && (std::isnan(sample.value) || sample.value < 0)) {
      return Fail(line_no, "counter " + sample.name + " is negative or NaN");
    }
    const std::string key = SeriesKey(sample.name, sample.labels);
    if (!series_seen.insert(key).second) return Fail(line_no, "series " + key + " twice");
    current->samples.push_back(std::move(sample));
    current_has_samples = true;
  }
  for (const PromFamily& f : out.families_) {
    if (f.type.empty()) return Status::InvalidArgument("family " + f.name + " has no TYPE");
    if (!ValidMetricName(f.name)) return Status::InvalidArgument("bad family name " + f.name);
    if (f.type == "histogram") BTRQ_RETURN_IF_ERROR(CheckHistogram(f));
  }
  return out;
}

const PromFamily* Exposition::Family(std::string_view name) const {
  for (const PromFamily& f : families_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<double> Exposition::Value(std::string_view name,
                                        const std::map<std::string, std::string>& labels) const {
  for (const PromFamily& f : families_) {
    for (const PromSample& s : f.samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
  }
  return std::nullopt;
}

double Exposition::Sum(std::string_view name) const {
  double sum = 0;
  for (const PromSample& s : Samples(name)) sum += s.value;
  return sum;
}

std::vector<PromSample> Exposition::Samples(std::string_view name) const {
  std::vector<PromSample> out;
  for (const PromFamily& f : families_) {
    for (const PromSample& s : f.samples) {
      if (s.name == name) out.push_back(s);
    }
  }
  return out;
}

}  // namespace btrq::testing
