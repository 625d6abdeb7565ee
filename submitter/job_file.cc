#include "submitter/job_file.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/limits.h"
#include "common/text.h"
#include "common/time_util.h"
#include "common/yaml.h"
#include "submitter/job_spec.h"

namespace btrq::submitter {
namespace {

constexpr const char* kKeys[] = {
    "name",  "collection", "prefix",   "tags",     "annotations",  "streams",     "versions",
    "start", "end",        "analytic", "chunk",    "params",       "priority",    "max_attempts",
    "task_timeout"};

class JobFileParser {
 public:
  JobFileParser(std::string_view name, int64_t now_ns) : name_(name), now_ns_(now_ns) {}

  Result<v1::JobSpec> Parse(const YamlNode& root) {
    if (root.IsNull()) return spec_;  // an empty file: flags give everything
    if (!root.IsMap()) return Error(root, "", "the job file must be a mapping of keys");
    std::set<std::string> seen;
    for (const auto& [key_node, value] : root.entries) {
      const std::string key = key_node.IsScalar() ? key_node.scalar : "";
      if (!seen.insert(key).second) return Error(key_node, key, "duplicate key");
      BTRQ_RETURN_IF_ERROR(ParseKey(key_node, key, value));
    }
    return spec_;
  }

 private:
  Status Error(const YamlNode& node, std::string_view key, std::string_view message) const {
    std::string where = std::string(name_);
    if (node.line >= 0) where += ":" + std::to_string(node.line + 1);
    if (!key.empty()) where += ": " + std::string(key);
    return Status::InvalidArgument(where + ": " + std::string(message));
  }

  Result<std::string> Scalar(const YamlNode& node, std::string_view key) const {
    if (!node.IsScalar()) return Error(node, key, "expected a single value");
    return node.scalar;
  }

  Result<bool> Bool(const YamlNode& node, std::string_view key) const {
    BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(node, key));
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    return Error(node, key, "expected true or false, not \"" + text + "\"");
  }

  Result<int64_t> Integer(const YamlNode& node, std::string_view key, int64_t lo,
                          int64_t hi) const {
    BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(node, key));
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return Error(node, key, "expected an integer, not \"" + text + "\"");
    }
    if (v < lo || v > hi) {
      return Error(node, key, "must be between " + std::to_string(lo) + " and " +
                                  std::to_string(hi));
    }
    return v;
  }

  Result<int64_t> Duration(const YamlNode& node, std::string_view key) const {
    BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(node, key));
    Result<int64_t> d = ParseDuration(text);
    if (!d.ok()) return Error(node, key, d.status().message());
    if (*d <= 0) return Error(node, key, "must be longer than zero");
    return *d;
  }

  Result<int64_t> Timestamp(const YamlNode& node, std::string_view key) const {
    BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(node, key));
    Result<int64_t> t = ParseTimestamp(text, now_ns_);
    if (!t.ok()) return Error(node, key, t.status().message());
    return *t;
  }

  // A mapping of tag keys to a value, or to ~ / nothing for "present".
  Status Tags(const YamlNode& node, std::string_view key,
              google::protobuf::RepeatedPtrField<v1::TagFilter>* out) const {
    if (!node.IsMap()) return Error(node, key, "expected a mapping of tag: value");
    for (const auto& entry : node.entries) {
      v1::TagFilter tag;
      BTRQ_ASSIGN_OR_RETURN(std::string name, Scalar(entry.key, key));
      tag.set_key(name);
      if (!entry.value.IsNull()) {
        BTRQ_ASSIGN_OR_RETURN(std::string value, Scalar(entry.value, key));
        tag.set_has_value(true);
        tag.set_value(value);
      }
      *out->Add() = std::move(tag);
    }
    return Status::OK();
  }

  Status ParseKey(const YamlNode& key_node, const std::string& key, const YamlNode& v) {
    if (key == "name") {
      BTRQ_ASSIGN_OR_RETURN(std::string s, Scalar(v, key));
      spec_.set_name(s);
    } else if (key == "collection") {
      BTRQ_ASSIGN_OR_RETURN(std::string s, Scalar(v, key));
      spec_.set_collection(s);
    } else if (key == "prefix") {
      BTRQ_ASSIGN_OR_RETURN(bool b, Bool(v, key));
      spec_.set_collection_prefix(b);
    } else if (key == "tags") {
      return Tags(v, key, spec_.mutable_tags());
    } else if (key == "annotations") {
      return Tags(v, key, spec_.mutable_annotations());
    } else if (key == "streams") {
      return Streams(v, key);
    } else if (key == "versions") {
      return Versions(v, key);
    } else if (key == "start" || key == "end") {
      BTRQ_ASSIGN_OR_RETURN(int64_t t, Timestamp(v, key));
      if (key == "start") {
        spec_.set_has_start(true);
        spec_.set_start(t);
      } else {
        spec_.set_has_end(true);
        spec_.set_end(t);
      }
    } else if (key == "chunk") {
      BTRQ_ASSIGN_OR_RETURN(int64_t d, Duration(v, key));
      spec_.set_chunk_ns(d);
    } else if (key == "task_timeout") {
      BTRQ_ASSIGN_OR_RETURN(int64_t d, Duration(v, key));
      spec_.set_task_timeout_ns(d);
    } else if (key == "analytic") {
      BTRQ_ASSIGN_OR_RETURN(std::string s, Scalar(v, key));
      spec_.set_analytic(s);
    } else if (key == "params") {
      return Params(v, key);
    } else if (key == "priority") {
      // The broker's bound, refused here already with the file's line.
      BTRQ_ASSIGN_OR_RETURN(int64_t p, Integer(v, key, limits::kMinPriority, limits::kMaxPriority));
      spec_.set_priority(static_cast<int32_t>(p));
    } else if (key == "max_attempts") {
      BTRQ_ASSIGN_OR_RETURN(int64_t n, Integer(v, key, 1, 1000));
      spec_.set_max_attempts(static_cast<uint32_t>(n));
    } else {
      return UnknownKey(key_node, key);
    }
    return Status::OK();
  }

  Status Streams(const YamlNode& v, const std::string& key) {
    if (!v.IsSequence()) return Error(v, key, "expected a list of stream UUIDs");
    for (const YamlNode& item : v.items) {
      BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(item, key));
      Result<std::string> bytes = ParseStreamUuid(text);
      if (!bytes.ok()) return Error(item, key, bytes.status().message());
      spec_.add_streams(*bytes);
    }
    return Status::OK();
  }

  Status Versions(const YamlNode& v, const std::string& key) {
    if (!v.IsMap()) return Error(v, key, "expected a mapping of stream UUID: version");
    for (const auto& entry : v.entries) {
      BTRQ_ASSIGN_OR_RETURN(std::string uuid, Scalar(entry.key, key));
      BTRQ_ASSIGN_OR_RETURN(std::string version, Scalar(entry.value, key));
      Result<v1::PinnedVersion> pin = ParsePin(uuid + "=" + version);
      if (!pin.ok()) return Error(entry.key, key, pin.status().message());
      *spec_.add_versions() = *pin;
    }
    return Status::OK();
  }

  Status Params(const YamlNode& v, const std::string& key) {
    if (!v.IsMap()) return Error(v, key, "expected a mapping of param: value");
    for (const auto& entry : v.entries) {
      BTRQ_ASSIGN_OR_RETURN(std::string name, Scalar(entry.key, key));
      BTRQ_ASSIGN_OR_RETURN(std::string text, Scalar(entry.value, key + "." + name));
      v1::Field* field = spec_.add_params();
      field->set_name(name);
      // A quoted scalar has the non-specific tag "!": it stays a string.
      if (entry.value.tag == "!") {
        field->mutable_value()->set_string_value(text);
      } else {
        *field->mutable_value() = ParseParamValue(text);
      }
    }
    return Status::OK();
  }

  Status UnknownKey(const YamlNode& key_node, const std::string& key) const {
    std::string hint;
    size_t best = 3;
    for (const char* known : kKeys) {
      const size_t d = EditDistance(key, known);
      if (d < best) {
        best = d;
        hint = std::string(" (did you mean \"") + known + "\"?)";
      }
    }
    return Error(key_node, "", "unknown key \"" + key + "\"" + hint);
  }

  std::string_view name_;
  int64_t now_ns_;
  v1::JobSpec spec_;
};

}  // namespace

Result<v1::JobSpec> ParseJobText(std::string_view text, std::string_view name, int64_t now_ns) {
  YamlError error;
  Result<YamlNode> root = ParseYaml(text, &error);
  if (!root.ok()) {
    std::string where(name);
    if (error.line >= 0) where += ":" + std::to_string(error.line + 1);
    return Status::InvalidArgument(where + ": " + error.message);
  }
  return JobFileParser(name, now_ns).Parse(*root);
}

Result<v1::JobSpec> LoadJobFile(const std::string& path, int64_t now_ns) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return Status::InvalidArgument("cannot read job file " + path);
  return ParseJobText(*text, path, now_ns);
}

}  // namespace btrq::submitter
