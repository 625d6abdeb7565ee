#pragma once

// Results on their way to the sink: each stays here from the moment its task succeeds
// until the sink ACKs its key, and is resent when no ACK came in time (after 1s, then
// doubling up to 10s). A pure data structure over a Clock: no sockets, not thread-safe
// (the worker's I/O thread owns it).
//
// Cost: CollectDue visits the results added since its last call, and walks every pending
// result only when a resend may be due, so calling it on every loop turn stays cheap
// while hundreds of results await their ACK.

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/messages.h"

namespace btrq::worker {

struct DeliveryOptions {
  int64_t resend_initial = 1'000'000'000;  // first resend this long after a send
  int64_t resend_max = 10'000'000'000;     // cap of the doubling
};

class ResultDelivery {
 public:
  // `clock` must outlive this.
  ResultDelivery(const DeliveryOptions& options, const Clock* clock);

  // Adds a result; it is due at once. Two results with the same key (two attempts of one
  // task ran here) are both kept: one ACK of the key settles both.
  void Add(TaskResult result);

  // Appends the results due now to `*out` and schedules each one's next send after its
  // current backoff, which then doubles. Returns how many were resends. The pointers stay
  // valid until their result is ACKed or dropped.
  size_t CollectDue(std::vector<const TaskResult*>* out);

  // Removes the results with `key` and appends their refs to `*done` (for DONE).
  void Ack(const TaskKey& key, std::vector<TaskRef>* done);
  // The same, appending successful DONE items that carry each result's points_read, and
  // `receipt` on the item of the attempt it was issued for.
  void Ack(const TaskKey& key, std::vector<DoneItem>* done,
           const AckReceipt& receipt = AckReceipt());

  // Forgets the results of `job` (cancelled); returns how many.
  size_t DropJob(JobId job);

  // Makes every result due now with its backoff reset (after reconnecting to the sink).
  void ResendAllNow();

  // When the earliest result is due; nullopt when none is pending. Never later than the
  // real time; earlier only when an ACK or DropJob removed the earliest since the last
  // CollectDue (which then finds nothing due and makes it exact again).
  std::optional<SteadyTime> NextDue() const;

  // The refs of every pending result.
  std::vector<TaskRef> Pending() const;
  size_t size() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }

 private:
  struct Entry {
    TaskResult result;
    SteadyTime due{};
    int64_t backoff = 0;  // ns until the resend after the next send
    uint64_t sends = 0;
  };

  // Sends `entry` now: appends its result to `*out` and schedules its next send.
  void SendEntry(Entry* entry, SteadyTime now, std::vector<const TaskResult*>* out);

  const DeliveryOptions options_;
  const Clock* const clock_;
  // Nodes come from a pool: a result is added and erased per task, and the pool reuses
  // freed nodes without a trip through malloc.
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_multimap<TaskKey, Entry, TaskKeyHash> pending_{&pool_};
  // Keys of results added since the last CollectDue (never sent; due since their Add),
  // and when the first of them was added.
  std::vector<TaskKey> unsent_;
  SteadyTime unsent_since_{};
  // No later than the earliest due time of the results sent at least once.
  SteadyTime resend_floor_ = SteadyTime::max();
};

}  // namespace btrq::worker
