#pragma once

// The broker's record of its workers: who said HELLO, which analytics each runs, the
// credit each has left and the leases it holds, and when each was last heard from. A
// pure data structure owned by the Scheduler: no I/O, no clock reads (time is passed in).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq::broker {

struct WorkerInfo {
  std::string id;
  std::string host;
  int64_t pid = 0;
  uint32_t threads = 0;
  std::vector<std::string> analytics;
  std::vector<std::string> exec_commands;   // its worker.exec.commands (HELLO's `x`)
  std::vector<std::string> python_modules;  // its worker.python.modules (HELLO's `y`)
  uint64_t credit = 0;       // tasks it may still be sent
  uint64_t in_flight = 0;    // leases it holds
  uint64_t done = 0;         // DONEs accepted (ok or failed)
  uint64_t failed = 0;       // of which reported an error
  uint64_t points_read = 0;  // raw points its accepted DONEs reported
  bool draining = false;
  SteadyTime last_seen{};  // last message of any kind
};

// One registered worker. The scheduler updates `info`'s counters directly.
struct RegisteredWorker {
  WorkerInfo info;
  std::vector<bool> can_run;  // by analytic id

  bool CanRun(uint32_t analytic_id) const {
    return analytic_id < can_run.size() && can_run[analytic_id];
  }
};

class WorkerRegistry {
 public:
  // A worker not heard from for longer than `silence` is reported by Silent().
  explicit WorkerRegistry(Nanos silence) : silence_(silence) {}

  // A small dense id per analytic name, stable for the registry's life. Called for the
  // analytics of jobs only (names the broker validated), so the table stays small.
  uint32_t InternAnalytic(const std::string& name);

  // Registers, or re-registers, the worker that sent `hello`: its credit resets to 0 and
  // it stops draining; counters and in_flight are kept; its analytics are replaced.
  // REQUIRES: `hello` passed CheckHello (bounded names).
  void Hello(const HelloMsg& hello, SteadyTime now);
  // nullptr for a worker that has not said HELLO (or was removed).
  RegisteredWorker* Find(std::string_view id);
  const RegisteredWorker* Find(std::string_view id) const;
  // Marks the worker heard from at `now`. NotFound for an unknown worker.
  Status Touch(std::string_view id, SteadyTime now);
  // Adds `credit` (capped at 2^32 outstanding) and marks the worker heard from.
  Status AddCredit(std::string_view id, uint32_t credit, SteadyTime now);
  // Stops dispatching to the worker; NotFound for an unknown worker.
  Status Drain(std::string_view id);
  // A lease the worker held ended without a DONE from it.
  void ReleaseLease(std::string_view id);
  // Forgets the worker (no-op when unknown).
  void Remove(std::string_view id);

  // Moves every worker's last-heard time `by` later (the broker was stopped: nobody
  // could be heard).
  void Postpone(Nanos by);

  // Workers silent for longer than the silence limit at `now`, by id.
  std::vector<std::string> Silent(SteadyTime now) const;
  // When the next worker turns silent; nullopt with no workers.
  std::optional<SteadyTime> NextSilenceDeadline() const;
  std::vector<WorkerInfo> List() const;  // by id
  size_t size() const { return workers_.size(); }

 private:
  const Nanos silence_;
  std::unordered_map<std::string, uint32_t> analytic_ids_;
  std::map<std::string, RegisteredWorker, std::less<>> workers_;
};

}  // namespace btrq::broker
