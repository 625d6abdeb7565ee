#include "broker/worker_registry.h"

#include <algorithm>

namespace btrq::broker {

uint32_t WorkerRegistry::InternAnalytic(const std::string& name) {
  auto [it, inserted] =
      analytic_ids_.try_emplace(name, static_cast<uint32_t>(analytic_ids_.size()));
  if (inserted) {
    // A name new to the broker: the workers that announced it can run it.
    for (auto& [id, w] : workers_) {
      w.can_run.resize(analytic_ids_.size(), false);
      w.can_run[it->second] = std::find(w.info.analytics.begin(), w.info.analytics.end(),
                                        name) != w.info.analytics.end();
    }
  }
  return it->second;
}

void WorkerRegistry::Hello(const HelloMsg& hello, SteadyTime now) {
  RegisteredWorker& w = workers_[hello.worker_id];
  w.info.id = hello.worker_id;
  w.info.host = hello.host;
  w.info.pid = hello.pid;
  w.info.threads = hello.threads;
  w.info.analytics = hello.analytics;
  w.info.exec_commands = hello.exec_commands;
  w.info.python_modules = hello.python_modules;
  w.info.credit = 0;
  w.info.draining = false;
  w.info.last_seen = now;
  // Only jobs intern names (InternAnalytic): a HELLO's names cost memory only while its
  // worker is registered, and a new HELLO replaces them, however many a peer invents.
  w.can_run.assign(analytic_ids_.size(), false);
  for (const std::string& a : hello.analytics) {
    if (auto it = analytic_ids_.find(a); it != analytic_ids_.end()) w.can_run[it->second] = true;
  }
}

RegisteredWorker* WorkerRegistry::Find(std::string_view id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

const RegisteredWorker* WorkerRegistry::Find(std::string_view id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

Status WorkerRegistry::Touch(std::string_view id, SteadyTime now) {
  RegisteredWorker* w = Find(id);
  if (w == nullptr) return Status::NotFound("unknown worker " + std::string(id));
  w->info.last_seen = now;
  return Status::OK();
}

Status WorkerRegistry::AddCredit(std::string_view id, uint32_t credit, SteadyTime now) {
  BTRQ_RETURN_IF_ERROR(Touch(id, now));
  RegisteredWorker* w = Find(id);
  constexpr uint64_t kMaxCredit = uint64_t{1} << 32;
  w->info.credit = std::min(kMaxCredit, w->info.credit + credit);
  return Status::OK();
}

Status WorkerRegistry::Drain(std::string_view id) {
  RegisteredWorker* w = Find(id);
  if (w == nullptr) return Status::NotFound("unknown worker " + std::string(id));
  w->info.draining = true;
  return Status::OK();
}

void WorkerRegistry::ReleaseLease(std::string_view id) {
  if (RegisteredWorker* w = Find(id)) {
    if (w->info.in_flight > 0) --w->info.in_flight;
  }
}

void WorkerRegistry::Remove(std::string_view id) {
  if (auto it = workers_.find(id); it != workers_.end()) workers_.erase(it);
}

void WorkerRegistry::Postpone(Nanos by) {
  for (auto& [id, w] : workers_) w.info.last_seen += by;
}

std::vector<std::string> WorkerRegistry::Silent(SteadyTime now) const {
  std::vector<std::string> out;
  for (const auto& [id, w] : workers_) {
    if (now - w.info.last_seen > silence_) out.push_back(id);
  }
  return out;
}

std::optional<SteadyTime> WorkerRegistry::NextSilenceDeadline() const {
  std::optional<SteadyTime> t;
  for (const auto& [id, w] : workers_) {
    const SteadyTime deadline = w.info.last_seen + silence_;
    if (!t || deadline < *t) t = deadline;
  }
  return t;
}

std::vector<WorkerInfo> WorkerRegistry::List() const {
  std::vector<WorkerInfo> out;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) out.push_back(w.info);
  return out;
}

}  // namespace btrq::broker
