#pragma once

// Job specs as people write them: `k=v` tags and params, UUIDs, timestamps and durations
// from flags (SubmitFlags) or a job file (job_file.h), turned into a v1::JobSpec and
// checked before anything is sent to the broker. Every error is kInvalidArgument and names
// the flag (or file:line) and the offending text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "btrq/v1/control.pb.h"
#include "common/status.h"

namespace btrq::submitter {

// "k=v" -> key k with value v; "k" -> key k present with any value.
Result<v1::TagFilter> ParseTagFilter(std::string_view text);

// A param value: an integer ("5", "-3") becomes int_value, another number ("0.5", "1e3")
// double_value, anything else string_value.
v1::Value ParseParamValue(std::string_view text);
// "k=v" with a non-empty k; the value as ParseParamValue.
Result<v1::Field> ParseParam(std::string_view text);

// A stream UUID as text (canonical or 32 hex digits) -> its 16 raw bytes.
Result<std::string> ParseStreamUuid(std::string_view text);
// "UUID=VERSION" -> a pinned version.
Result<v1::PinnedVersion> ParsePin(std::string_view text);

// The submit command's spec flags; a field is set only when its flag was given. Lists are
// as given, one item per flag occurrence.
struct SubmitFlags {
  std::optional<std::string> name;
  std::optional<std::string> collection;
  std::optional<bool> prefix;
  std::vector<std::string> tags;         // "k=v" or "k"
  std::vector<std::string> annotations;  // "k=v" or "k"
  std::vector<std::string> streams;      // UUIDs
  std::vector<std::string> versions;     // "UUID=VERSION"
  std::optional<std::string> start;      // ParseTimestamp syntax
  std::optional<std::string> end;
  std::optional<std::string> chunk;      // ParseDuration syntax
  std::optional<std::string> analytic;
  std::vector<std::string> params;       // "k=v"
  std::optional<int64_t> priority;
  std::optional<int64_t> max_attempts;
  std::optional<std::string> task_timeout;  // ParseDuration syntax
};

// Applies `flags` over `*spec` (empty, or loaded from a job file): scalars given as flags
// replace the file's; tags, annotations, params and versions given as flags replace the
// file's entries with the same key and add the others; streams given as flags replace the
// file's list. `now_ns` resolves "now-7d".
Status ApplySubmitFlags(const SubmitFlags& flags, int64_t now_ns, v1::JobSpec* spec);

// The checks that need the whole spec: a collection or streams, an analytic, start before
// end, a positive chunk, unique param and tag keys.
Status ValidateJobSpec(const v1::JobSpec& spec);

}  // namespace btrq::submitter
