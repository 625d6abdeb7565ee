#include "common/limits.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace btrq::limits {
namespace {

Status TooBig(const std::string& what, size_t value, size_t limit, std::string_view unit) {
  return Status::InvalidArgument(what + " is " + std::to_string(value) + " " +
                                 std::string(unit) + "; the limit is " + std::to_string(limit));
}

}  // namespace

Status CheckParams(const Fields& params) {
  if (params.size() > kMaxParams) return TooBig("params", params.size(), kMaxParams, "entries");
  size_t total = 0;
  for (const auto& [name, value] : params) {
    if (name.size() > kMaxParamNameBytes) {
      return TooBig("a param name", name.size(), kMaxParamNameBytes, "bytes");
    }
    const auto* text = std::get_if<std::string>(&value);
    const size_t value_bytes = text != nullptr ? text->size() : sizeof(int64_t);
    if (value_bytes > kMaxParamValueBytes) {
      return TooBig("param '" + name + "'", value_bytes, kMaxParamValueBytes, "bytes");
    }
    total += name.size() + value_bytes;
  }
  if (total > kMaxParamsBytes) return TooBig("params", total, kMaxParamsBytes, "bytes");
  // A worker refuses a TASK whose params repeat a name (codec), so the job may not.
  std::vector<std::string_view> names;
  names.reserve(params.size());
  for (const auto& field : params) names.push_back(field.first);
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
    return Status::InvalidArgument("param '" + std::string(*dup) + "' is given twice");
  }
  return Status::OK();
}

Status CheckHello(const HelloMsg& hello) {
  if (hello.worker_id.size() > kMaxWorkerIdBytes) {
    return TooBig("HELLO: the worker id", hello.worker_id.size(), kMaxWorkerIdBytes, "bytes");
  }
  if (hello.host.size() > kMaxWorkerIdBytes) {
    return TooBig("HELLO: the host name", hello.host.size(), kMaxWorkerIdBytes, "bytes");
  }
  if (hello.analytics.size() > kMaxHelloAnalytics) {
    return TooBig("HELLO: the analytics list", hello.analytics.size(), kMaxHelloAnalytics,
                  "names");
  }
  for (const std::string& name : hello.analytics) {
    if (name.size() > kMaxAnalyticNameBytes) {
      return TooBig("HELLO: an analytic name", name.size(), kMaxAnalyticNameBytes, "bytes");
    }
  }
  return Status::OK();
}

SteadyTime SaturatingAdd(SteadyTime t, Nanos d) {
  const int64_t a = t.time_since_epoch().count();
  const int64_t b = d.count();
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    sum = b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return SteadyTime(Nanos(sum));
}

}  // namespace btrq::limits
