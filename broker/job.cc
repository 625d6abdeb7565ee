#include "broker/job.h"

#include <string>

namespace btrq::broker {
namespace {

bool InTimeRange(int64_t t) { return t >= kMinTime && t < kMaxTime; }

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
  return Status::OK();
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
