#include "broker/journal.h"

#include <chrono>
#include <utility>

#include "common/record_log.h"

namespace btrq::broker {
Journal::Journal(const JournalOptions& options, Clock* clock, JournalEnv* env)
    : options_(options),
      clock_(clock),
      env_(env),
      path_(options.dir + "/" + std::string(kFileName)) {}

Journal::~Journal() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  thread_.join();
}

Result<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options, Clock* clock,
                                               JournalEnv* env) {
  if (options.dir.empty()) return Status::InvalidArgument("journal: dir is empty");
  std::unique_ptr<Journal> j(new Journal(options, clock, env));
  BTRQ_RETURN_IF_ERROR(j->Recover());
  j->thread_ = std::thread([raw = j.get()] { raw->ThreadMain(); });
  return j;
}

void Journal::Frame(std::string* out, std::string_view payload) const {
  record_log::AppendRecord(out, payload);
}

record_log::ReaderOptions Journal::ReaderOptions(const JournalOptions& options) {
  // The journal never writes an empty payload, and zeros to the end are what a power
  // loss leaves after the file grew: a torn tail, like a half-written frame.
  return {.max_record_bytes = options.max_record_bytes, .zero_tail_is_torn = true};
}

Status Journal::Recover() {
  BTRQ_RETURN_IF_ERROR(env_->CreateDir(options_.dir));
  BTRQ_ASSIGN_OR_RETURN(lock_, env_->LockFile(options_.dir + "/" + std::string(kLockFileName)));
  Result<std::string> data = env_->ReadFile(path_);
  if (!data.ok() && data.status().code() != StatusCode::kNotFound) {
    return data.status().WithContext("journal");
  }
  std::string log = data.ok() ? std::move(*data) : std::string();

  record_log::Reader reader(log, ReaderOptions(options_));
  bool header_seen = false;
  std::string_view payload;
  while (reader.Next(&payload)) {
    if (!header_seen) {
      if (payload != kHeader) {
        return Status::InvalidArgument("journal " + path_ + " is not a btrq journal (bad header)");
      }
      header_seen = true;
    } else {
      ++recovery_.records;
    }
  }
  const record_log::LogEnd end = reader.end();
  if (end.kind == record_log::EndKind::kCorrupt) {
    // Records after the damage were acknowledged: cutting them would forget jobs quietly.
    const uint64_t after = reader.CountIntactAfterCorrupt();
    return Status::IoError("journal " + path_ + ": corrupt record at offset " +
                           std::to_string(end.offset) + " (" + std::to_string(after) +
                           " valid records follow); the file is left as it is: stop here, or "
                           "run btrq-broker --salvage-journal (docs/operations.md, \"Salvaging "
                           "a journal\") to keep every valid record and drop the damage");
  }
  const uint64_t valid = end.offset;  // kClean: the size; kTornTail: where the tear starts
  recovery_.truncated_bytes = log.size() - valid;
  log.resize(valid);
  if (recovery_.truncated_bytes > 0) BTRQ_RETURN_IF_ERROR(env_->TruncateFile(path_, valid));
  recovery_.valid_bytes = log.size();
  recovered_ = std::move(log);

  BTRQ_ASSIGN_OR_RETURN(file_, env_->OpenWritable(path_, /*truncate=*/false));
  file_bytes_ = recovered_.size();
  if (!header_seen) {
    std::string header;
    Frame(&header, kHeader);
    BTRQ_RETURN_IF_ERROR(file_->Append(header));
    BTRQ_RETURN_IF_ERROR(file_->Sync());
    BTRQ_RETURN_IF_ERROR(env_->SyncDir(options_.dir));
    file_bytes_ += header.size();
  }
  return Status::OK();
}

Status Journal::ForEachRecovered(const std::function<Status(std::string_view)>& fn) const {
  // recovered_ holds intact frames only (Recover cut the rest), the header first.
  record_log::Reader reader(recovered_, ReaderOptions(options_));
  std::string_view payload;
  bool header = true;
  for (uint64_t at = 0; reader.Next(&payload); at = reader.offset()) {
    if (header) {
      header = false;
      continue;
    }
    if (Status s = fn(payload); !s.ok()) {
      return Status(s.code(), "journal " + path_ + ": record at offset " + std::to_string(at) +
                                  ": " + s.message() +
                                  " (btrq-broker --salvage-journal drops records that do not "
                                  "decode)");
    }
  }
  return Status::OK();
}

void Journal::ReleaseRecovered() { std::string().swap(recovered_); }

uint64_t Journal::Append(std::string_view payload) {
  if (!oldest_buffered_) oldest_buffered_ = clock_->Now();
  Frame(&buffer_, payload);
  ++stats_.appended;
  return ++appended_seq_;
}

uint64_t Journal::AppendAcked(std::string_view payload, DurableCallback on_durable) {
  Acked a;
  a.begin = buffer_.size();
  const uint64_t seq = Append(payload);
  a.end = buffer_.size();
  a.callback = std::move(on_durable);
  acked_.push_back(std::move(a));
  return seq;
}

void Journal::WhenDurable(DurableCallback on_durable) {
  if (durable_seq_ >= appended_seq_) {
    on_durable(Status::OK());
    return;
  }
  waiters_.emplace_back(appended_seq_, std::move(on_durable));
}

void Journal::RunWaiters(uint64_t seq, const Status& status) {
  // Sequence numbers only grow, so waiters_ is sorted: the due ones are a prefix.
  size_t due = 0;
  while (due < waiters_.size() && waiters_[due].first <= seq) ++due;
  if (due == 0) return;
  std::vector<std::pair<uint64_t, DurableCallback>> run(
      std::make_move_iterator(waiters_.begin()), std::make_move_iterator(waiters_.begin() + due));
  waiters_.erase(waiters_.begin(), waiters_.begin() + due);
  for (auto& [s, callback] : run) callback(status);
}

std::optional<SteadyTime> Journal::NextSyncAt() const {
  {
    MutexLock lock(&mu_);
    if (state_ == GroupState::kDone) return SteadyTime{};
    if (state_ == GroupState::kQueued) return std::nullopt;
  }
  if (!oldest_buffered_) return std::nullopt;
  if (buffer_.size() >= options_.write_buffer_bytes) return *oldest_buffered_;
  return *oldest_buffered_ + options_.sync_interval;
}

void Journal::SetWakeup(std::function<void()> wakeup) {
  MutexLock lock(&mu_);
  wakeup_ = std::move(wakeup);
}

bool Journal::group_in_flight() const {
  MutexLock lock(&mu_);
  return state_ != GroupState::kIdle;
}

Status Journal::Poll() {
  Status s;
  GroupState state;
  {
    MutexLock lock(&mu_);
    state = state_;
  }
  if (state == GroupState::kDone) {
    s = Collect(/*requeue_on_failure=*/false);
    state = GroupState::kIdle;
  }
  if (state == GroupState::kIdle) {
    const std::optional<SteadyTime> due = NextSyncAt();
    if (due && clock_->Now() >= *due) {
      Status submitted = Submit();
      if (s.ok()) s = std::move(submitted);
    }
  }
  return s;
}

Status Journal::Sync() {
  if (WaitForGroup()) BTRQ_RETURN_IF_ERROR(Collect(/*requeue_on_failure=*/false));
  if (!oldest_buffered_) return broken_;
  BTRQ_RETURN_IF_ERROR(Submit());
  WaitForGroup();
  return Collect(/*requeue_on_failure=*/false);
}

bool Journal::WaitForGroup() {
  MutexLock lock(&mu_);
  while (state_ == GroupState::kQueued) cv_.Wait(&mu_);
  return state_ == GroupState::kDone;
}

Status Journal::Submit() {
  if (!broken_.ok()) {
    FailBuffer(broken_);
    return broken_;
  }
  // Records appended after a compaction whose rename is not yet durable would be lost
  // with it: retry the directory sync before writing them.
  if (Status s = SyncDirIfPending(); !s.ok()) {
    FailBuffer(s);
    oldest_buffered_ = clock_->Now();  // retry after another interval, even with nothing buffered
    return s;
  }
  group_.data.swap(buffer_);
  buffer_.clear();
  group_.acked.swap(acked_);
  acked_.clear();
  group_.last_seq = appended_seq_;
  group_.base_bytes = file_bytes_;
  group_.sync = options_.fsync;
  group_.status = Status::OK();
  group_.broken = Status::OK();
  group_.synced = false;
  oldest_buffered_.reset();
  MutexLock lock(&mu_);
  state_ = GroupState::kQueued;
  cv_.SignalAll();
  return Status::OK();
}

void Journal::ThreadMain() {
  for (;;) {
    {
      MutexLock lock(&mu_);
      while (state_ != GroupState::kQueued && !stop_) cv_.Wait(&mu_);
      if (state_ != GroupState::kQueued) return;  // stopping, nothing to write
    }
    WriteGroup(&group_);
    MutexLock lock(&mu_);
    state_ = GroupState::kDone;
    cv_.SignalAll();
    if (wakeup_) wakeup_();
  }
}

void Journal::WriteGroup(Group* g) {
  Status s = file_->Append(g->data);
  if (s.ok() && g->sync) {
    // Real time, not clock_: this is a measurement, taken on this thread.
    const auto t0 = std::chrono::steady_clock::now();
    s = file_->Sync();
    g->synced = true;
    g->sync_duration = std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - t0);
  }
  if (!s.ok()) {
    s = s.WithContext("journal");
    // Cut off whatever part of the group reached the file, so no torn frame stays in the
    // middle of the log; if even that fails, stop writing for good.
    Status t = file_->Truncate(g->base_bytes);
    if (!t.ok()) g->broken = t.WithContext("journal unusable after a failed write");
  }
  g->status = std::move(s);
}

Status Journal::Collect(bool requeue_on_failure) {
  {
    MutexLock lock(&mu_);
    state_ = GroupState::kIdle;
  }
  Group& g = group_;
  ++stats_.writes;
  if (g.synced) {
    ++stats_.syncs;
    stats_.last_sync_duration = g.sync_duration;
    if (options_.on_sync) options_.on_sync(g.sync_duration);
  }
  if (!g.broken.ok() && broken_.ok()) broken_ = g.broken;
  if (!g.status.ok()) {
    ++stats_.failures;
    Status error = g.status;
    if (requeue_on_failure) {
      Prepend(&g.data, &g.acked);
      return error;
    }
    // Drop the acknowledged records (their writers learn of the failure); keep the rest
    // in front of what was appended since, to be retried after another interval.
    std::string kept;
    kept.reserve(g.data.size());
    size_t pos = 0;
    for (const Acked& a : g.acked) {
      kept.append(g.data, pos, a.begin - pos);
      pos = a.end;
    }
    kept.append(g.data, pos, std::string::npos);
    std::vector<Acked> failed = std::move(g.acked);
    g.acked.clear();
    g.data.clear();
    std::vector<Acked> none;
    if (!kept.empty()) {
      Prepend(&kept, &none);
      oldest_buffered_ = clock_->Now();  // retry after another interval, not in a hot loop
    }
    for (Acked& a : failed) a.callback(error);
    RunWaiters(g.last_seq, error);
    return error;
  }
  stats_.bytes_written += g.data.size();
  file_bytes_ += g.data.size();
  durable_seq_ = std::max(durable_seq_, g.last_seq);
  g.data.clear();
  std::vector<Acked> done = std::move(g.acked);
  g.acked.clear();
  for (Acked& a : done) a.callback(Status::OK());
  RunWaiters(durable_seq_, Status::OK());
  return Status::OK();
}

void Journal::Prepend(std::string* data, std::vector<Acked>* acked) {
  if (data->empty()) return;
  const size_t shift = data->size();
  for (Acked& a : acked_) {
    a.begin += shift;
    a.end += shift;
  }
  data->append(buffer_);
  buffer_.swap(*data);
  data->clear();
  acked->insert(acked->end(), std::make_move_iterator(acked_.begin()),
                std::make_move_iterator(acked_.end()));
  acked_.swap(*acked);
  acked->clear();
  if (!oldest_buffered_) oldest_buffered_ = clock_->Now();
}

void Journal::FailBuffer(const Status& error) {
  ++stats_.failures;
  // Drop the acknowledged records (their writers learn of the failure); keep the rest.
  std::string kept;
  kept.reserve(buffer_.size());
  size_t pos = 0;
  for (const Acked& a : acked_) {
    kept.append(buffer_, pos, a.begin - pos);
    pos = a.end;
  }
  kept.append(buffer_, pos, std::string::npos);
  buffer_ = std::move(kept);
  if (buffer_.empty()) {
    oldest_buffered_.reset();
  } else {
    oldest_buffered_ = clock_->Now();  // retry after another interval, not in a hot loop
  }
  std::vector<Acked> failed = std::move(acked_);
  acked_.clear();
  for (Acked& a : failed) a.callback(error);
  RunWaiters(appended_seq_, error);
}

Status Journal::Rewrite(const std::vector<std::string>& payloads) {
  // The snapshot subsumes the group in flight too; if that group failed, its records go
  // back into the buffer, to be subsumed (or failed, if the rewrite fails).
  if (WaitForGroup()) static_cast<void>(Collect(/*requeue_on_failure=*/true));
  BTRQ_RETURN_IF_ERROR(broken_);
  std::string data;
  Frame(&data, kHeader);
  for (const std::string& p : payloads) Frame(&data, p);
  if (Status s = ReplaceFileContents(env_, path_, data); !s.ok()) {
    ++stats_.failures;
    return s.WithContext("journal compaction");
  }
  // From here the new log is in place: it must become the one we append to.
  Result<std::unique_ptr<WritableFile>> f = env_->OpenWritable(path_, /*truncate=*/false);
  if (!f.ok()) {
    broken_ = f.status().WithContext("journal unusable after compaction");
    return broken_;
  }
  file_ = std::move(*f);
  file_bytes_ = data.size();
  stats_.bytes_written += data.size();
  ++stats_.rewrites;
  // The snapshot holds everything the buffer said: those records are written, but durable
  // only once the rename is (the directory synced).
  buffer_.clear();
  oldest_buffered_.reset();
  std::vector<Acked> subsumed = std::move(acked_);
  acked_.clear();
  dir_sync_pending_seq_ = appended_seq_;
  const Status s = SyncDirIfPending();
  for (Acked& a : subsumed) a.callback(s);
  if (!s.ok()) {
    ++stats_.failures;
    oldest_buffered_ = clock_->Now();  // Poll retries the directory sync after an interval
    RunWaiters(appended_seq_, s);
  }
  return s;
}

Status Journal::SyncDirIfPending() {
  if (!dir_sync_pending_seq_) return Status::OK();
  if (Status s = env_->SyncDir(options_.dir); !s.ok()) {
    // Like a failed write: those waiting learn of it, and the next group retries first.
    return s.WithContext("journal compaction: the renamed log may not be durable");
  }
  durable_seq_ = std::max(durable_seq_, *dir_sync_pending_seq_);
  dir_sync_pending_seq_.reset();
  RunWaiters(durable_seq_, Status::OK());
  return Status::OK();
}

}  // namespace btrq::broker
