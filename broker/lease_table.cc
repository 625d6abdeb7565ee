#include "broker/lease_table.h"

#include <algorithm>
#include <functional>

namespace btrq::broker {

std::string_view LeaseRejectName(LeaseReject reason) {
  switch (reason) {
    case LeaseReject::kNone: return "none";
    case LeaseReject::kUnknownTask: return "unknown_task";
    case LeaseReject::kWrongAttempt: return "wrong_attempt";
    case LeaseReject::kWrongWorker: return "wrong_worker";
    case LeaseReject::kUnknownWorker: return "unknown_worker";
    case LeaseReject::kJobNotActive: return "job_not_active";
  }
  return "unknown";
}

bool LeaseTable::Grant(const TaskKey& key, uint32_t attempt, std::string_view worker,
                       SteadyTime now, Nanos timeout, uint32_t stream_index) {
  auto [it, inserted] = leases_.try_emplace(key);
  if (!inserted) return false;
  Lease& l = it->second;
  l.key = key;
  l.attempt = attempt;
  l.worker.assign(worker);
  l.deadline = now + timeout;
  l.timeout = timeout;
  l.granted = now;
  l.stream_index = stream_index;
  by_deadline_.emplace(l.deadline, key);
  return true;
}

bool LeaseTable::Renew(const TaskKey& key, uint32_t attempt, std::string_view worker,
                       SteadyTime now) {
  auto it = leases_.find(key);
  if (it == leases_.end()) return false;
  Lease& l = it->second;
  if (l.attempt != attempt || l.worker != worker) return false;
  const SteadyTime deadline =
      std::min(now + l.timeout, l.granted + kMaxLeaseTimeouts * l.timeout);
  if (deadline == l.deadline) return true;
  by_deadline_.erase({l.deadline, key});
  l.deadline = deadline;
  by_deadline_.emplace(deadline, key);
  return true;
}

std::optional<Lease> LeaseTable::Complete(const TaskKey& key, uint32_t attempt,
                                          std::string_view worker, LeaseReject* reason) {
  auto it = leases_.find(key);
  if (it == leases_.end()) {
    *reason = LeaseReject::kUnknownTask;
    return std::nullopt;
  }
  if (it->second.attempt != attempt) {
    *reason = LeaseReject::kWrongAttempt;
    return std::nullopt;
  }
  if (it->second.worker != worker) {
    *reason = LeaseReject::kWrongWorker;
    return std::nullopt;
  }
  *reason = LeaseReject::kNone;
  Lease l = std::move(it->second);
  leases_.erase(it);
  by_deadline_.erase({l.deadline, key});
  return l;
}

std::vector<Lease> LeaseTable::ExpireBefore(SteadyTime now) {
  std::vector<Lease> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first < now) {
    const TaskKey key = by_deadline_.begin()->second;
    by_deadline_.erase(by_deadline_.begin());
    auto it = leases_.find(key);
    out.push_back(std::move(it->second));
    leases_.erase(it);
  }
  return out;
}

std::vector<Lease> LeaseTable::RemoveIf(const std::function<bool(const Lease&)>& pred) {
  std::vector<Lease> out;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (pred(it->second)) {
      by_deadline_.erase({it->second.deadline, it->first});
      out.push_back(std::move(it->second));
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Lease> LeaseTable::RemoveWorker(std::string_view worker) {
  return RemoveIf([worker](const Lease& l) { return l.worker == worker; });
}

std::vector<Lease> LeaseTable::RemoveJob(JobId job) {
  return RemoveIf([job](const Lease& l) { return l.key.job == job; });
}

const Lease* LeaseTable::Find(const TaskKey& key) const {
  auto it = leases_.find(key);
  return it == leases_.end() ? nullptr : &it->second;
}

std::optional<SteadyTime> LeaseTable::NextDeadline() const {
  if (by_deadline_.empty()) return std::nullopt;
  return by_deadline_.begin()->first;
}

}  // namespace btrq::broker
