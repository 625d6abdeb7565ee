// The Scheduler's expansion half: listing and pinning streams through the CatalogRunner
// (BTrDB calls, off the loop), journaling what they answer, and materialising chunks
// into the ready queue.

#include <algorithm>
#include <utility>

#include "broker/scheduler.h"

namespace btrq::broker {
namespace {

// The longest wait before asking BTrDB again after a transient error.
constexpr Nanos kMaxExpandDelay = std::chrono::seconds(60);
// Expand() applies answers and refills at most this many times: an inline runner answers
// at once, so listing, pinning and the first chunks of a new job take one Expand().
constexpr int kExpandPasses = 3;

}  // namespace

void Scheduler::OnCatalogError(Job& job, const Status& error) {
  if (!error.IsTransient()) {
    FailJob(job, error);  // retires the job
    return;
  }
  // BTrDB is away or slow: the job waits (its state says why) and asks again later.
  job.expand_delay = job.expand_delay == Nanos(0)
                         ? options_.expand_retry
                         : std::min<Nanos>(job.expand_delay * 2, kMaxExpandDelay);
  job.expand_not_before = clock_->Now() + job.expand_delay;
  job.waiting = "waiting for BTrDB: " + error.ToString();
}

void Scheduler::OnCatalogSuccess(Job& job) {
  job.expand_delay = Nanos(0);
  job.waiting.clear();
}

void Scheduler::ApplyListAnswer(Job& job, const CatalogAnswer& answer) {
  job.listing = false;
  if (!answer.status.ok()) {
    OnCatalogError(job, answer.status.WithContext("listing streams"));
    return;
  }
  OnCatalogSuccess(job);
  JobExpander& ex = *job.expander;
  ex.List(answer.streams);
  Log([&](std::string* out) { EncodeStreams(out, job.id, ex.streams()); });
}

void Scheduler::ApplyPinAnswer(Job& job, const CatalogAnswer& answer) {
  JobExpander& ex = *job.expander;
  const uint32_t i = answer.request.stream_index;
  if (!answer.status.ok()) {
    ex.PinFailed(i);
    OnCatalogError(job, answer.status.WithContext("pinning stream " +
                                                  answer.request.stream.ToString()));
    return;
  }
  OnCatalogSuccess(job);
  // Usable at once only without a journal; otherwise once the pin record is durable.
  const StreamPin& pin = ex.SetPin(i, answer.pin, /*usable=*/journal_ == nullptr);
  const uint64_t seq = Log([&](std::string* out) { EncodePin(out, job.id, i, pin); });
  if (journal_) pending_pins_.push_back(PendingPin{job.id, i, seq});
}

bool Scheduler::ApplyCatalogAnswers() {
  std::vector<CatalogAnswer> answers = runner_->TakeAnswers();
  for (const CatalogAnswer& a : answers) {
    // The job may have been cancelled or failed since the request was made.
    Job* job = FindLive(a.request.job);
    if (job == nullptr || !IsActive(job->state)) continue;
    if (a.request.kind == CatalogRequest::Kind::kList) {
      ApplyListAnswer(*job, a);
    } else {
      ApplyPinAnswer(*job, a);
    }
  }
  return !answers.empty();
}

void Scheduler::RequestCatalog(Job& job) {
  JobExpander& ex = *job.expander;
  if (clock_->Now() < job.expand_not_before) return;
  if (!ex.listed()) {
    if (job.listing) return;
    job.listing = true;
    job.state = JobState::kExpanding;
    CatalogRequest request;
    request.kind = CatalogRequest::Kind::kList;
    request.job = job.id;
    request.selection.collection = job.spec.collection;
    request.selection.collection_prefix = job.spec.collection_prefix;
    request.selection.tags = job.spec.tags;
    request.selection.annotations = job.spec.annotations;
    runner_->Submit(std::move(request));
    return;
  }
  if (ex.pins_requested() >= options_.pins_per_expand) return;
  for (uint32_t i : ex.RequestPins(options_.pins_per_expand - ex.pins_requested(),
                                   options_.pin_lookahead)) {
    CatalogRequest request;
    request.kind = CatalogRequest::Kind::kPin;
    request.job = job.id;
    request.stream_index = i;
    request.stream = ex.streams()[i];
    request.version = ex.RequestedVersion(i);
    runner_->Submit(std::move(request));
  }
}

size_t Scheduler::Refill(Job& job, bool allow_catalog) {
  if (!job.durable || !IsActive(job.state)) return 0;
  JobExpander& ex = *job.expander;
  if (!ex.listed()) {
    if (!allow_catalog) return 0;
    if (ex.lists_from_catalog()) {
      RequestCatalog(job);
      return 0;
    }
    ex.List({});  // spec.streams: no BTrDB call
    Log([&](std::string* out) { EncodeStreams(out, job.id, ex.streams()); });
  }
  const size_t materialised = queue_.ready(job.id) + queue_.delayed(job.id);
  if (materialised > options_.window_per_job / 2) return 0;
  if (allow_catalog && !ex.pins_complete()) RequestCatalog(job);
  const SkipFn skip = [&job](uint32_t stream, int64_t start) -> int64_t {
    auto it = job.done_ranges.find(stream);
    const int64_t t = it == job.done_ranges.end() ? start : it->second.SkipFrom(start);
    if (job.dead_letters.count(ChunkId{stream, t}) != 0) return t + job.spec.chunk;
    return t;
  };
  std::vector<Chunk> chunks;
  ex.NextChunks(options_.window_per_job - materialised, skip, &chunks);
  const SteadyTime now = clock_->Now();
  for (const Chunk& c : chunks) {
    uint32_t attempt = 1;
    if (!job.failed_attempts.empty()) {
      if (auto it = job.failed_attempts.find(ChunkId{c.stream_index, c.start});
          it != job.failed_attempts.end()) {
        attempt = it->second + 1;
        job.failed_attempts.erase(it);
      }
    }
    queue_.Push(job.id, QueuedTask{ex.KeyOf(c.stream_index, c.start), c.stream_index, attempt,
                                   now});
  }
  if (ex.listed() && (!chunks.empty() || ex.pinned_count() > 0)) job.state = JobState::kRunning;
  MaybeFinish(job);
  return chunks.size();
}

void Scheduler::PromoteDurablePins() {
  if (!journal_ || pending_pins_.empty()) return;
  const uint64_t durable = journal_->durable_seq();
  size_t kept = 0;
  for (const PendingPin& p : pending_pins_) {
    if (p.seq <= durable) {
      if (Job* job = FindLive(p.job)) job->expander->MarkPinUsable(p.stream_index);
    } else {
      pending_pins_[kept++] = p;
    }
  }
  pending_pins_.resize(kept);
}

void Scheduler::Expand() {
  PromoteDurablePins();
  for (int pass = 0; pass < kExpandPasses; ++pass) {
    // Answers first (they may fail and retire jobs), then the jobs still active.
    if (!ApplyCatalogAnswers() && pass > 0) break;
    std::vector<Job*> jobs;
    jobs.reserve(live_.size());
    for (auto& [id, job] : live_) {
      if (IsActive(job->state)) jobs.push_back(job.get());
    }
    for (Job* job : jobs) Refill(*job, /*allow_catalog=*/true);  // may retire the job
  }
}

}  // namespace btrq::broker
