// Worker::Impl's traffic of tasks: TASK, CANCEL and REJECT in from the broker, outcomes
// from the executor, RESULTs out to the sink and their ACKs back, DONEs and CREDIT out to
// the broker. The loop that calls these is in worker.cc.
#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "worker/worker_impl.h"

namespace btrq::worker {
namespace {

constexpr size_t kMaxDoneItemsPerFrame = 4096;
// Jobs remembered as cancelled, so late outcomes and tasks of them are dropped.
constexpr size_t kCancelledJobsKept = 4096;

}  // namespace

void Worker::Impl::HandleBroker(Message message) {
  if (!std::holds_alternative<RejectMsg>(message)) rehello_armed_ = true;
  if (auto* task = std::get_if<TaskMsg>(&message)) {
    OnTasks(*task);
  } else if (auto* cancel = std::get_if<CancelMsg>(&message)) {
    OnCancel(cancel->job);
  } else if (std::holds_alternative<BrokerHeartbeatMsg>(message)) {
    // Liveness only.
  } else if (std::holds_alternative<DrainMsg>(message)) {
    StartDrain("the broker asked");
  } else if (auto* reject = std::get_if<RejectMsg>(&message)) {
    OnReject(reject->reason);
  } else {
    CountBad("wrong_type", Peer::kBroker,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
  }
}

void Worker::Impl::HandleSink(Message message) {
  auto* ack = std::get_if<AckMsg>(&message);
  if (ack == nullptr) {
    CountBad("wrong_type", Peer::kSink,
             "a " + std::string(MessageTypeName(TypeOf(message))) + " frame");
    return;
  }
  // Successful DONEs carry the points read, for the broker's progress figures.
  // A receipt goes into the DONE of its attempt: the broker's proof that it is stored.
  for (size_t i = 0; i < ack->keys.size(); ++i) {
    delivery_.Ack(ack->keys[i], &done_outbox_,
                  i < ack->receipts.size() ? ack->receipts[i] : AckReceipt());
  }
  if (!delivery_.empty()) sink_quiet_since_ = clock_->Now();
  if (sink_down_) {
    sink_down_ = false;
    spdlog::info("btrq-worker: the sink answers again; taking tasks");
  }
}

void Worker::Impl::OnTasks(TaskMsg& msg) {
  // The tasks to run are compacted to the front of msg.tasks, which then goes to the
  // executor whole: one hand-off per TASK frame (one lock, only the wake-ups needed).
  size_t kept = 0;
  for (TaskSpec& task : msg.tasks) {
    if (credit_outstanding_ > 0) {
      --credit_outstanding_;
    } else {
      // The broker sent more than it was given; run it anyway (dropping it would only
      // delay it by a lease) and say so.
      CountBad("over_credit", Peer::kBroker, "a task beyond the credit given");
    }
    if (IsCancelled(task.key.job)) continue;
    if (!active_.insert(TaskRef{task.key, task.attempt}).second) {
      CountBad("duplicate_task", Peer::kBroker,
               "job=" + std::to_string(task.key.job) + " task=" + task.key.ToString() +
                   " attempt=" + std::to_string(task.attempt) + " worker=" + worker_id_ +
                   ": already here");
      continue;
    }
    if (&msg.tasks[kept] != &task) msg.tasks[kept] = std::move(task);
    ++kept;
  }
  msg.tasks.resize(kept);
  if (!msg.tasks.empty()) executor_->SubmitBatch(std::move(msg.tasks));
}

void Worker::Impl::OnBadBrokerFrame(std::string_view frame) {
  Result<SalvagedTasks> salvaged = SalvageTaskFrame(frame, LinkLimits());
  if (!salvaged.ok()) {
    // Not a TASK frame we can walk (or not a TASK at all): whatever credit it used is
    // unknown. A HELLO resets the broker's count of it to ours; leases of any lost tasks
    // expire and are retried. At most once per heartbeat interval.
    if (clock_->Now() - last_hello_ >= Nanos(config_.worker.heartbeat_interval)) {
      spdlog::warn("btrq-worker: an undecodable frame from the broker ({}); saying HELLO "
                   "again to resynchronise credit", salvaged.status().message());
      SendHello();
    }
    return;
  }
  SalvagedTasks& s = *salvaged;
  // Refused and lost tasks used credit the broker counted; their slots are free at once.
  const size_t spent = s.refused.size() + s.lost;
  credit_outstanding_ -= static_cast<uint32_t>(std::min<size_t>(credit_outstanding_, spent));
  if (s.lost > 0) {
    LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "lost-tasks",
                   spdlog::level::warn,
                   "btrq-worker: {} tasks of a TASK frame had no readable key; their leases "
                   "will expire", s.lost);
  }
  if (!s.tasks.tasks.empty()) OnTasks(s.tasks);
  if (!s.refused.empty()) Refuse(std::move(s.refused));
}

void Worker::Impl::Refuse(std::vector<RefuseItem> items) {
  for (const RefuseItem& item : items) {
    LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "refused", spdlog::level::warn,
                   "btrq-worker: job={} task={} attempt={} worker={}: refused: {}",
                   item.task.key.job, item.task.key.ToString(), item.task.attempt, worker_id_,
                   item.reason);
  }
  metrics_.refused_total->Inc(static_cast<double>(items.size()));
  Send(Peer::kBroker, Message(RefuseMsg{std::move(items)}));
}

void Worker::Impl::OnCancel(JobId job) {
  if (!cancelled_set_.contains(job)) {
    cancelled_set_.insert(job);
    cancelled_order_.push_back(job);
    if (cancelled_order_.size() > kCancelledJobsKept) {
      cancelled_set_.erase(cancelled_order_.front());
      cancelled_order_.pop_front();
    }
  }
  const size_t touched = executor_->CancelJob(job);
  const size_t dropped = delivery_.DropJob(job);
  std::erase_if(done_outbox_, [job](const DoneItem& d) { return d.task.key.job == job; });
  spdlog::info("btrq-worker: job {} cancelled ({} tasks abandoned, {} results dropped)", job,
               touched, dropped);
}

void Worker::Impl::OnReject(const std::string& reason) {
  if (reason.find("unknown worker") != std::string::npos) {
    // REJECTs of messages sent before the broker saw our latest HELLO repeat the news;
    // one HELLO answers them all.
    const SteadyTime now = clock_->Now();
    if (rehello_armed_ || now - last_hello_ >= Nanos(config_.worker.heartbeat_interval)) {
      spdlog::info("btrq-worker: the broker does not know this worker; saying HELLO again");
      SendHello();
    }
    return;
  }
  fatal_ = Status::FailedPrecondition("the broker rejected this worker: " + reason);
  spdlog::error("btrq-worker: {}", fatal_.message());
}

void Worker::Impl::StartDrain(std::string_view why) {
  if (draining_) return;
  draining_ = true;
  ready_ = false;
  drain_started_ = clock_->Now();
  spdlog::info("btrq-worker: draining ({}): {} tasks to finish, {} results to deliver", why,
               active_.size(), delivery_.size());
}

void Worker::Impl::TakeOutcomes() {
  executor_->TakeFinished(&outcomes_);
  if (outcomes_.empty()) return;
  uint64_t cancelled = 0;
  uint64_t handed_back = 0;
  uint64_t counts[3] = {};
  const SteadyTime now = clock_->Now();
  int64_t points = 0;
  const bool none_pending = delivery_.empty();
  for (TaskOutcome& outcome : outcomes_) {
    active_.erase(outcome.task);
    if (outcome.cancelled || IsCancelled(outcome.task.key.job)) {
      ++cancelled;
      continue;
    }
    points += outcome.result.points_read;
    if (outcome.dependency_down) {
      // Not attempted: back to the broker at no cost to the task, and no new tasks here
      // but probes until BTrDB answers.
      if (!btrdb_pause_.paused()) {
        spdlog::warn("btrq-worker: BTrDB unreachable ({}); handing tasks back and pausing",
                     outcome.status.ToString());
      }
      btrdb_pause_.Down(now);
      ++handed_back;
      done_outbox_.push_back(DoneItem{outcome.task, ErrorClass::kTransient,
                                      outcome.status.ToString(), outcome.result.points_read,
                                      /*dependency_down=*/true});
      continue;
    }
    if (btrdb_pause_.paused()) {
      spdlog::info("btrq-worker: BTrDB answers again; taking tasks");
      btrdb_pause_.Up();
    }
    metrics_.duration->Observe(static_cast<double>(outcome.result.duration_ns) / 1e9);
    ++counts[static_cast<size_t>(outcome.error)];
    if (outcome.error != ErrorClass::kNone) {
      LogRateLimited(spdlog::default_logger_raw(), &log_limiter_, "task-failed",
                     spdlog::level::warn,
                     "btrq-worker: job={} task={} attempt={} worker={}: failed ({}): {}",
                     outcome.task.key.job, outcome.task.key.ToString(), outcome.task.attempt,
                     worker_id_, ErrorClassLabel(outcome.error), outcome.status.ToString());
      done_outbox_.push_back(DoneItem{outcome.task, outcome.error, outcome.status.ToString(),
                                      outcome.result.points_read});
      continue;
    }
    delivery_.Add(std::move(outcome.result));
  }
  outcomes_.clear();
  // The sink's silence counts from the first result it owes us.
  if (none_pending && !delivery_.empty()) sink_quiet_since_ = clock_->Now();
  // Counters once per batch.
  if (cancelled > 0) metrics_.cancelled_total->Inc(static_cast<double>(cancelled));
  if (handed_back > 0) metrics_.handed_back_total->Inc(static_cast<double>(handed_back));
  if (points > 0) metrics_.points_total->Inc(static_cast<double>(points));
  for (size_t i = 0; i < 3; ++i) {
    if (counts[i] > 0) metrics_.outcome_total[i]->Inc(static_cast<double>(counts[i]));
  }
}

uint32_t Worker::Impl::CreditToGrant() {
  if (draining_ || handing_back_) return 0;
  if (delivery_.size() > config_.worker.max_unacked_results) return 0;
  // The sink is away: new results could only pile up (their leases are kept meanwhile).
  if (SinkPaused()) return 0;
  const size_t used = active_.size() + credit_outstanding_;
  if (btrdb_pause_.paused()) {
    // One task at a time, as a probe of BTrDB: its outcome resumes or re-pauses.
    return used == 0 && btrdb_pause_.TakeProbe(clock_->Now()) ? 1 : 0;
  }
  return used >= capacity_ ? 0 : static_cast<uint32_t>(capacity_ - used);
}

void Worker::Impl::SendHeartbeat() {
  HeartbeatMsg hb;
  // Queued tasks apart from started ones: if this worker dies, the broker charges an
  // attempt only to tasks that may have been running.
  executor_->Queued(&hb.queued);
  std::erase_if(hb.queued, [&](const TaskRef& t) { return !active_.contains(t); });
  std::sort(hb.queued.begin(), hb.queued.end());
  hb.running.reserve(active_.size() - hb.queued.size());
  for (const TaskRef& t : active_) {
    if (!std::binary_search(hb.queued.begin(), hb.queued.end(), t)) hb.running.push_back(t);
  }
  // Finished tasks apart: the broker keeps their leases, uncapped, while the sink is away.
  hb.awaiting_ack = delivery_.Pending();
  Send(Peer::kBroker, Message(std::move(hb)));
}

void Worker::Impl::Flush() {
  // Results, in frames of at most batch_results, encoded where they wait for their ACK
  // and stamped with this worker's id.
  due_.clear();
  const size_t resends = delivery_.CollectDue(&due_);
  metrics_.resent_total->Inc(static_cast<double>(resends));
  const std::span<const TaskResult* const> due(due_);
  for (size_t begin = 0; begin < due.size(); begin += config_.worker.batch_results) {
    EncodeResults(due.subspan(begin, std::min<size_t>(config_.worker.batch_results,
                                                      due.size() - begin)),
                  worker_id_, &buffer_);
    // Unsent results stay pending and go out at their next due time.
    SendEncoded(Peer::kSink, MessageType::kResult);
  }
  // DONEs, then the credit they freed, back to back.
  SendDones();
  const uint32_t credit = CreditToGrant();
  if (credit > 0 && Send(Peer::kBroker, Message(CreditMsg{credit}))) {
    credit_outstanding_ += credit;
  }
}

void Worker::Impl::SendDones() {
  while (!done_outbox_.empty()) {
    const size_t n = std::min(done_outbox_.size(), kMaxDoneItemsPerFrame);
    DoneMsg msg;
    msg.items.assign(done_outbox_.begin(), done_outbox_.begin() + static_cast<ptrdiff_t>(n));
    if (!Send(Peer::kBroker, Message(std::move(msg)))) break;
    done_outbox_.erase(done_outbox_.begin(), done_outbox_.begin() + static_cast<ptrdiff_t>(n));
  }
}

}  // namespace btrq::worker
