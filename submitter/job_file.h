#pragma once

// The YAML job file of `btrq submit -f job.yaml` (docs/cli.md lists its keys):
//
//   name: nightly quality
//   collection: sensors/          # with prefix: true, every collection under it
//   prefix: true
//   tags: {unit: volts, phase: ~} # ~ (or empty): the tag is present, any value
//   annotations: {site: north}
//   streams: [0f3c...-..., ...]   # instead of a collection lookup
//   versions: {0f3c...: 12}       # pinned versions
//   start: now-7d                 # ns, RFC 3339, YYYY-MM-DD, now[+-]duration
//   end: now
//   chunk: 12h
//   analytic: quality
//   params: {rate: 120, gap_factor: 2.5, label: "5"}   # quoted scalars stay strings
//   priority: 5
//   max_attempts: 3
//   task_timeout: 10m
//
// The only file of the CLI that includes yaml-cpp; its exceptions stop here.

#include <cstdint>
#include <string>
#include <string_view>

#include "btrq/v1/control.pb.h"
#include "common/status.h"

namespace btrq::submitter {

// Reads a job file into a spec. Errors (kInvalidArgument) name "FILE:LINE: key" and say
// what is wrong: unreadable file, YAML syntax, not a mapping, unknown key (with "did you
// mean"), duplicate key, wrong type, bad timestamp, duration, UUID or number.
Result<v1::JobSpec> LoadJobFile(const std::string& path, int64_t now_ns);
// As LoadJobFile, for text in memory; `name` stands for the file in errors.
Result<v1::JobSpec> ParseJobText(std::string_view text, std::string_view name, int64_t now_ns);

}  // namespace btrq::submitter
