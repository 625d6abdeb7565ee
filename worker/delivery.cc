#include "worker/delivery.h"

#include <algorithm>
#include <utility>

namespace btrq::worker {

ResultDelivery::ResultDelivery(const DeliveryOptions& options, const Clock* clock)
    : options_(options), clock_(clock) {}

void ResultDelivery::Add(TaskResult result) {
  Entry entry;
  entry.due = clock_->Now();
  entry.backoff = options_.resend_initial;
  const TaskKey key = result.task.key;
  entry.result = std::move(result);
  pending_.emplace(key, std::move(entry));
}

size_t ResultDelivery::CollectDue(std::vector<TaskResult>* out) {
  const SteadyTime now = clock_->Now();
  size_t resends = 0;
  for (auto& [key, entry] : pending_) {
    if (entry.due > now) continue;
    out->push_back(entry.result);
    if (entry.sends++ > 0) ++resends;
    entry.due = now + Nanos(entry.backoff);
    entry.backoff = std::min(entry.backoff * 2, options_.resend_max);
  }
  return resends;
}

void ResultDelivery::Ack(const TaskKey& key, std::vector<TaskRef>* done) {
  auto [begin, end] = pending_.equal_range(key);
  for (auto it = begin; it != end; ++it) done->push_back(it->second.result.task);
  pending_.erase(begin, end);
}

void ResultDelivery::Ack(const TaskKey& key, std::vector<DoneItem>* done) {
  auto [begin, end] = pending_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    DoneItem item;
    item.task = it->second.result.task;
    item.points_read = it->second.result.points_read;
    done->push_back(std::move(item));
  }
  pending_.erase(begin, end);
}

size_t ResultDelivery::DropJob(JobId job) {
  return std::erase_if(pending_, [job](const auto& entry) { return entry.first.job == job; });
}

void ResultDelivery::ResendAllNow() {
  const SteadyTime now = clock_->Now();
  for (auto& [key, entry] : pending_) {
    entry.due = now;
    entry.backoff = options_.resend_initial;
  }
}

std::optional<SteadyTime> ResultDelivery::NextDue() const {
  std::optional<SteadyTime> next;
  for (const auto& [key, entry] : pending_) {
    if (!next || entry.due < *next) next = entry.due;
  }
  return next;
}

std::vector<TaskRef> ResultDelivery::Pending() const {
  std::vector<TaskRef> out;
  out.reserve(pending_.size());
  for (const auto& [key, entry] : pending_) out.push_back(entry.result.task);
  return out;
}

}  // namespace btrq::worker
