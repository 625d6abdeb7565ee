#include "broker/job.h"

#include <string>

#include "common/limits.h"

namespace btrq::broker {
namespace {

bool InTimeRange(int64_t t) { return t >= kMinTime && t < kMaxTime; }

Status TooMany(std::string_view what, size_t value, size_t limit, std::string_view unit) {
  return Status::InvalidArgument("job: " + std::string(what) + " is " + std::to_string(value) +
                                 " " + std::string(unit) + "; the limit is " +
                                 std::to_string(limit));
}

// The bounds of common/limits.h on the spec's size: what the broker keeps, journals and
// lists per job, and what every task carries to a worker.
Status CheckSizes(const JobSpec& spec) {
  using namespace limits;
  for (const auto& [what, text] : {std::pair<std::string_view, const std::string*>{
                                       "name", &spec.name},
                                   {"collection", &spec.collection},
                                   {"analytic", &spec.analytic}}) {
    if (text->size() > kMaxJobTextBytes) {
      return TooMany(what, text->size(), kMaxJobTextBytes, "bytes");
    }
  }
  if (spec.streams.size() > kMaxJobStreams) {
    return TooMany("the stream list", spec.streams.size(), kMaxJobStreams, "streams");
  }
  if (spec.versions.size() > kMaxJobStreams) {
    return TooMany("the version list", spec.versions.size(), kMaxJobStreams, "streams");
  }
  for (const auto* filters : {&spec.tags, &spec.annotations}) {
    if (filters->size() > kMaxJobFilters) {
      return TooMany(filters == &spec.tags ? "tags" : "annotations", filters->size(),
                     kMaxJobFilters, "filters");
    }
    for (const auto& [key, value] : *filters) {
      const size_t bytes = key.size() + (value ? value->size() : 0);
      if (bytes > kMaxJobTextBytes) return TooMany("a filter", bytes, kMaxJobTextBytes, "bytes");
    }
  }
  if (Status s = CheckParams(spec.params); !s.ok()) return s.WithContext("job");
  if (spec.priority < kMinPriority || spec.priority > kMaxPriority) {
    return Status::InvalidArgument("job: priority " + std::to_string(spec.priority) +
                                   " is outside [" + std::to_string(kMinPriority) + ", " +
                                   std::to_string(kMaxPriority) + "]");
  }
  if (spec.task_timeout > kMaxTaskTimeoutNs) {
    return TooMany("task_timeout", static_cast<size_t>(spec.task_timeout), kMaxTaskTimeoutNs,
                   "ns");
  }
  return Status::OK();
}

}  // namespace

Status JobSpec::Validate() const {
  if (streams.empty() && collection.empty()) {
    return Status::InvalidArgument("job: give a collection or a list of streams");
  }
  for (const Uuid& u : streams) {
    if (u.IsNil()) return Status::InvalidArgument("job: the nil UUID is not a stream");
  }
  if (chunk <= 0) {
    return Status::InvalidArgument("job: chunk must be positive, got " + std::to_string(chunk) + " ns");
  }
  if (chunk > kMaxTime - kMinTime) {
    return Status::InvalidArgument("job: chunk longer than BTrDB's whole time range");
  }
  if (start && !InTimeRange(*start)) {
    return Status::InvalidArgument("job: start " + std::to_string(*start) +
                                   " is outside BTrDB's time range [-(16<<56), 48<<56)");
  }
  if (end && (*end <= kMinTime || *end > kMaxTime)) {
    return Status::InvalidArgument("job: end " + std::to_string(*end) +
                                   " is outside BTrDB's time range [-(16<<56), 48<<56]");
  }
  if (start && end && *start >= *end) {
    return Status::InvalidArgument("job: start " + std::to_string(*start) +
                                   " is not before end " + std::to_string(*end));
  }
  if (analytic.empty()) return Status::InvalidArgument("job: analytic is empty");
  if (max_attempts == 0) return Status::InvalidArgument("job: max_attempts must be at least 1");
  if (task_timeout <= 0) {
    return Status::InvalidArgument("job: task_timeout must be positive");
  }
  return CheckSizes(*this);
}

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kExpanding: return "expanding";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kDoneWithFailures: return "done_with_failures";
    case JobState::kCancelled: return "cancelled";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

bool IsFinished(JobState state) {
  return state == JobState::kDone || state == JobState::kDoneWithFailures ||
         state == JobState::kCancelled || state == JobState::kFailed;
}

}  // namespace btrq::broker
