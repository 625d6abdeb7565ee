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
  if (unsent_.empty()) unsent_since_ = entry.due;
  unsent_.push_back(key);
  pending_.emplace(key, std::move(entry));
}

void ResultDelivery::SendEntry(Entry* entry, SteadyTime now,
                               std::vector<const TaskResult*>* out) {
  out->push_back(&entry->result);
  ++entry->sends;
  entry->due = now + Nanos(entry->backoff);
  entry->backoff = std::min(entry->backoff * 2, options_.resend_max);
}

size_t ResultDelivery::CollectDue(std::vector<const TaskResult*>* out) {
  const SteadyTime now = clock_->Now();
  size_t resends = 0;
  // Walk everything only when a resend may be due (or ResendAllNow made all due); the
  // walk also sends the new results and finds the next resend time exactly.
  if (resend_floor_ <= now) {
    resend_floor_ = SteadyTime::max();
    for (auto& [key, entry] : pending_) {
      if (entry.due <= now) {
        if (entry.sends > 0) ++resends;
        SendEntry(&entry, now, out);
      }
      resend_floor_ = std::min(resend_floor_, entry.due);
    }
    unsent_.clear();
    return resends;
  }
  // Otherwise only the results added since the last call are due: first sends. A key
  // may be listed twice, or name a result sent already or one ACKed or dropped since.
  for (const TaskKey& key : unsent_) {
    auto [begin, end] = pending_.equal_range(key);
    for (auto it = begin; it != end; ++it) {
      if (it->second.sends != 0) continue;
      SendEntry(&it->second, now, out);
      resend_floor_ = std::min(resend_floor_, it->second.due);
    }
  }
  unsent_.clear();
  return resends;
}

void ResultDelivery::Ack(const TaskKey& key, std::vector<TaskRef>* done) {
  auto [begin, end] = pending_.equal_range(key);
  for (auto it = begin; it != end; ++it) done->push_back(it->second.result.task);
  pending_.erase(begin, end);
}

void ResultDelivery::Ack(const TaskKey& key, std::vector<DoneItem>* done,
                         const AckReceipt& receipt) {
  auto [begin, end] = pending_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    DoneItem item;
    item.task = it->second.result.task;
    item.points_read = it->second.result.points_read;
    if (item.task.attempt == receipt.attempt) item.receipt = receipt.mac;
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
  if (!pending_.empty()) resend_floor_ = now;
}

std::optional<SteadyTime> ResultDelivery::NextDue() const {
  if (pending_.empty()) return std::nullopt;
  SteadyTime next = resend_floor_;
  if (!unsent_.empty()) next = std::min(next, unsent_since_);
  if (next == SteadyTime::max()) {
    // Not expected (every pending result is unsent or has a due time at or after the
    // floor); "now" makes the caller's next CollectDue walk and set the floor.
    return clock_->Now();
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
