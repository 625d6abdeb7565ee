#include "submitter/job_spec.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "common/ids.h"
#include "common/time_util.h"

namespace btrq::submitter {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Replaces the entry of `list` whose key equals `key_of(item)`, or appends `item`.
template <typename List, typename Item, typename KeyOf>
void Upsert(List* list, Item item, KeyOf key_of) {
  for (auto& existing : *list) {
    if (key_of(existing) == key_of(item)) {
      existing = std::move(item);
      return;
    }
  }
  *list->Add() = std::move(item);
}

}  // namespace

Result<v1::TagFilter> ParseTagFilter(std::string_view text) {
  v1::TagFilter tag;
  const size_t eq = text.find('=');
  const std::string_view key = text.substr(0, eq);
  if (key.empty()) {
    return Status::InvalidArgument("bad tag " + Quoted(text) + ": expected KEY=VALUE or KEY");
  }
  tag.set_key(std::string(key));
  if (eq != std::string_view::npos) {
    tag.set_has_value(true);
    tag.set_value(std::string(text.substr(eq + 1)));
  }
  return tag;
}

v1::Value ParseParamValue(std::string_view text) {
  v1::Value value;
  int64_t i = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (!text.empty()) {
    auto [end, ec] = std::from_chars(first, last, i);
    if (ec == std::errc() && end == last) {
      value.set_int_value(i);
      return value;
    }
    // Only decimal numbers: strtod would also take "nan", "inf" and hex, which stay text.
    const bool numeric = text.find_first_not_of("0123456789+-.eE") == std::string_view::npos &&
                         text.find_first_of("0123456789") != std::string_view::npos;
    if (numeric) {
      double d = 0;
      auto [dend, dec] = std::from_chars(first, last, d);
      if (dec == std::errc() && dend == last && std::isfinite(d)) {
        value.set_double_value(d);
        return value;
      }
    }
  }
  value.set_string_value(std::string(text));
  return value;
}

Result<v1::Field> ParseParam(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("bad param " + Quoted(text) + ": expected KEY=VALUE");
  }
  v1::Field field;
  field.set_name(std::string(text.substr(0, eq)));
  *field.mutable_value() = ParseParamValue(text.substr(eq + 1));
  return field;
}

Result<std::string> ParseStreamUuid(std::string_view text) {
  Result<Uuid> uuid = Uuid::Parse(text);
  if (!uuid.ok()) {
    return Status::InvalidArgument("bad stream UUID " + Quoted(text) +
                                   ": expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  }
  return std::string(uuid->AsBytes());
}

Result<v1::PinnedVersion> ParsePin(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument("bad version pin " + Quoted(text) + ": expected UUID=VERSION");
  }
  BTRQ_ASSIGN_OR_RETURN(std::string stream, ParseStreamUuid(text.substr(0, eq)));
  const std::string_view number = text.substr(eq + 1);
  uint64_t version = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), version);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      version == 0) {
    return Status::InvalidArgument("bad version pin " + Quoted(text) +
                                   ": the version must be a positive integer");
  }
  v1::PinnedVersion pin;
  pin.set_stream(std::move(stream));
  pin.set_version(version);
  return pin;
}

Status ApplySubmitFlags(const SubmitFlags& f, int64_t now_ns, v1::JobSpec* spec) {
  const auto flag_error = [](std::string_view flag, const Status& s) {
    return Status::InvalidArgument(std::string(flag) + ": " + s.message());
  };
  if (f.name) spec->set_name(*f.name);
  if (f.collection) spec->set_collection(*f.collection);
  if (f.prefix) spec->set_collection_prefix(*f.prefix);
  for (const std::string& text : f.tags) {
    Result<v1::TagFilter> tag = ParseTagFilter(text);
    if (!tag.ok()) return flag_error("--tag", tag.status());
    Upsert(spec->mutable_tags(), *tag, [](const v1::TagFilter& t) { return t.key(); });
  }
  for (const std::string& text : f.annotations) {
    Result<v1::TagFilter> tag = ParseTagFilter(text);
    if (!tag.ok()) return flag_error("--annotation", tag.status());
    Upsert(spec->mutable_annotations(), *tag, [](const v1::TagFilter& t) { return t.key(); });
  }
  if (!f.streams.empty()) {
    spec->clear_streams();
    for (const std::string& text : f.streams) {
      Result<std::string> bytes = ParseStreamUuid(text);
      if (!bytes.ok()) return flag_error("--stream", bytes.status());
      spec->add_streams(*bytes);
    }
  }
  for (const std::string& text : f.versions) {
    Result<v1::PinnedVersion> pin = ParsePin(text);
    if (!pin.ok()) return flag_error("--version", pin.status());
    Upsert(spec->mutable_versions(), *pin, [](const v1::PinnedVersion& p) { return p.stream(); });
  }
  if (f.start) {
    Result<int64_t> t = ParseTimestamp(*f.start, now_ns);
    if (!t.ok()) return flag_error("--start", t.status());
    spec->set_has_start(true);
    spec->set_start(*t);
  }
  if (f.end) {
    Result<int64_t> t = ParseTimestamp(*f.end, now_ns);
    if (!t.ok()) return flag_error("--end", t.status());
    spec->set_has_end(true);
    spec->set_end(*t);
  }
  if (f.chunk) {
    Result<int64_t> d = ParseDuration(*f.chunk);
    if (!d.ok()) return flag_error("--chunk", d.status());
    if (*d <= 0) return Status::InvalidArgument("--chunk: must be longer than zero");
    spec->set_chunk_ns(*d);
  }
  if (f.analytic) spec->set_analytic(*f.analytic);
  for (const std::string& text : f.params) {
    Result<v1::Field> param = ParseParam(text);
    if (!param.ok()) return flag_error("--param", param.status());
    Upsert(spec->mutable_params(), *param, [](const v1::Field& p) { return p.name(); });
  }
  if (f.priority) {
    if (*f.priority < INT32_MIN || *f.priority > INT32_MAX) {
      return Status::InvalidArgument("--priority: " + std::to_string(*f.priority) +
                                     " is out of range");
    }
    spec->set_priority(static_cast<int32_t>(*f.priority));
  }
  if (f.max_attempts) {
    if (*f.max_attempts < 1 || *f.max_attempts > 1000) {
      return Status::InvalidArgument("--max-attempts: must be between 1 and 1000, not " +
                                     std::to_string(*f.max_attempts));
    }
    spec->set_max_attempts(static_cast<uint32_t>(*f.max_attempts));
  }
  if (f.task_timeout) {
    Result<int64_t> d = ParseDuration(*f.task_timeout);
    if (!d.ok()) return flag_error("--task-timeout", d.status());
    if (*d <= 0) return Status::InvalidArgument("--task-timeout: must be longer than zero");
    spec->set_task_timeout_ns(*d);
  }
  return Status::OK();
}

Status ValidateJobSpec(const v1::JobSpec& spec) {
  if (spec.collection().empty() && spec.streams_size() == 0) {
    return Status::InvalidArgument(
        "no streams selected: give --collection (with --prefix, --tag, --annotation to "
        "narrow it) or --stream UUID");
  }
  if (spec.analytic().empty()) {
    return Status::InvalidArgument("no analytic: give --analytic NAME (e.g. quality)");
  }
  if (spec.has_start() && spec.has_end() && spec.start() >= spec.end()) {
    return Status::InvalidArgument("the start (" + FormatTimestamp(spec.start()) +
                                   ") must be before the end (" + FormatTimestamp(spec.end()) +
                                   ")");
  }
  if (spec.chunk_ns() < 0) return Status::InvalidArgument("the chunk must be longer than zero");
  if (spec.task_timeout_ns() < 0) {
    return Status::InvalidArgument("the task timeout must be longer than zero");
  }
  std::set<std::string> seen;
  for (const v1::Field& p : spec.params()) {
    if (!seen.insert(p.name()).second) {
      return Status::InvalidArgument("param " + Quoted(p.name()) + " is given twice");
    }
  }
  std::set<std::string> streams;
  for (const std::string& s : spec.streams()) {
    if (!streams.insert(s).second) {
      return Status::InvalidArgument("stream " + Uuid::FromBytes(s).value_or(Uuid()).ToString() +
                                     " is given twice");
    }
  }
  return Status::OK();
}

}  // namespace btrq::submitter
