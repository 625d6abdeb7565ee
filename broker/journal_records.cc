#include "broker/journal_records.h"

#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "common/coding.h"

namespace btrq::broker {
namespace {

// Appends to one record; the encodings are common/coding.h's.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Var(uint64_t v) { PutVarint64(out_, v); }
  void SVar(int64_t v) { PutVarsint64(out_, v); }
  void Str(std::string_view s) { PutLengthPrefixed(out_, s); }
  void Id(const Uuid& u) { out_->append(u.AsBytes()); }
  void F64(double d) { PutDouble(out_, d); }
  void Fixed64(uint64_t v) { PutFixed64(out_, v); }
  void Type(RecordType t, JobId job) {
    U8(static_cast<uint8_t>(t));
    Var(job);
  }

 private:
  std::string* out_;
};

// Reads one record. The first failure sticks: every later read returns a zero value and
// ok() stays false, so a decoder reads all its fields and checks once at the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }
  void Invalidate() { Fail<int>(); }

  uint8_t U8() {
    if (in_.empty()) return Fail<uint8_t>();
    const auto v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint64_t Var() {
    uint64_t v = 0;
    return GetVarint64(&in_, &v) ? v : Fail<uint64_t>();
  }
  uint32_t U32() {
    const uint64_t v = Var();
    if (v > UINT32_MAX) return Fail<uint32_t>();
    return static_cast<uint32_t>(v);
  }
  int64_t SVar() { return ZigZagDecode(Var()); }
  std::string Str() {
    std::string_view s;
    return GetLengthPrefixed(&in_, &s) ? std::string(s) : Fail<std::string>();
  }
  Uuid Id() {
    if (in_.size() < 16) return Fail<Uuid>();
    Uuid u;
    std::memcpy(u.bytes.data(), in_.data(), 16);
    in_.remove_prefix(16);
    return u;
  }
  double F64() {
    double d = 0;
    return GetDouble(&in_, &d) ? d : Fail<double>();
  }
  uint64_t Fixed64() {
    uint64_t v = 0;
    return GetFixed64(&in_, &v) ? v : Fail<uint64_t>();
  }
  // A count of items each at least `min_bytes` long: refuses counts the input cannot hold.
  uint64_t Count(size_t min_bytes) {
    const uint64_t n = Var();
    if (!ok_ || n > in_.size() / (min_bytes == 0 ? 1 : min_bytes)) return Fail<uint64_t>();
    return n;
  }

 private:
  template <typename T>
  T Fail() {
    ok_ = false;
    in_ = {};
    return T{};
  }
  std::string_view in_;
  bool ok_ = true;
};

enum FieldTag : uint8_t { kInt = 0, kDouble = 1, kString = 2 };

// Marks the params tail of a kPin record (on disk: do not change).
constexpr uint8_t kPinParamsV1 = 1;
// Marks the nonce tail of a kJob or kJobSummary record (on disk: do not change).
constexpr uint8_t kJobNonceV1 = 1;

// A job's nonce as an optional tail: left out for nonce 0, so a legacy job's record is
// the same bytes as before nonces, and a record from before them decodes as nonce 0.
void PutNonceTail(Writer& w, JobNonce nonce) {
  if (nonce == 0) return;
  w.U8(kJobNonceV1);
  w.Fixed64(nonce);
}

JobNonce GetNonceTail(Reader& r) {
  if (r.at_end()) return 0;
  if (r.U8() != kJobNonceV1) r.Invalidate();
  return r.Fixed64();
}

void PutFields(Writer& w, const Fields& fields) {
  w.Var(fields.size());
  for (const auto& [name, value] : fields) {
    w.Str(name);
    if (const auto* i = std::get_if<int64_t>(&value)) {
      w.U8(kInt);
      w.SVar(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      w.U8(kDouble);
      w.F64(*d);
    } else {
      w.U8(kString);
      w.Str(std::get<std::string>(value));
    }
  }
}

Fields GetFields(Reader& r) {
  Fields fields;
  const uint64_t n = r.Count(2);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    std::string name = r.Str();
    switch (r.U8()) {
      case kInt: fields.emplace_back(std::move(name), r.SVar()); break;
      case kDouble: fields.emplace_back(std::move(name), r.F64()); break;
      case kString: fields.emplace_back(std::move(name), r.Str()); break;
      default: r.Invalidate(); break;
    }
  }
  return fields;
}

void PutOptTime(Writer& w, const std::optional<int64_t>& t) {
  w.U8(t ? 1 : 0);
  if (t) w.SVar(*t);
}

std::optional<int64_t> GetOptTime(Reader& r) {
  if (r.U8() == 0) return std::nullopt;
  return r.SVar();
}

using OptFilters = std::map<std::string, std::optional<std::string>>;

bool HasKeyOnlyFilter(const OptFilters& filters) {
  for (const auto& [k, v] : filters) {
    if (!v) return true;
  }
  return false;
}

// Each filter as (key, present flag, value when present).
void PutOptFilters(Writer& w, const OptFilters& filters) {
  w.Var(filters.size());
  for (const auto& [k, v] : filters) {
    w.Str(k);
    w.U8(v ? 1 : 0);
    if (v) w.Str(*v);
  }
}

OptFilters GetOptFilters(Reader& r) {
  OptFilters filters;
  for (uint64_t n = r.Count(2); n > 0 && r.ok(); --n) {
    std::string k = r.Str();
    std::optional<std::string> v;
    if (r.U8() != 0) v = r.Str();
    filters[std::move(k)] = std::move(v);
  }
  return filters;
}

// `opt_tags`: tags as PutOptFilters (kJobTagsOpt); otherwise (kJob) (key, value) pairs,
// which requires every tag filter to have a value.
void PutSpec(Writer& w, const JobSpec& s, bool opt_tags) {
  w.Str(s.name);
  w.Str(s.collection);
  w.U8(s.collection_prefix ? 1 : 0);
  if (opt_tags) {
    PutOptFilters(w, s.tags);
  } else {
    w.Var(s.tags.size());
    for (const auto& [k, v] : s.tags) {
      w.Str(k);
      w.Str(v.value_or(""));
    }
  }
  PutOptFilters(w, s.annotations);
  w.Var(s.streams.size());
  for (const Uuid& u : s.streams) w.Id(u);
  PutOptTime(w, s.start);
  PutOptTime(w, s.end);
  w.SVar(s.chunk);
  w.Str(s.analytic);
  PutFields(w, s.params);
  w.SVar(s.priority);
  w.Var(s.max_attempts);
  w.SVar(s.task_timeout);
  w.Var(s.versions.size());
  for (const auto& [u, v] : s.versions) {
    w.Id(u);
    w.Var(v);
  }
}

JobSpec GetSpec(Reader& r, bool opt_tags) {
  JobSpec s;
  s.name = r.Str();
  s.collection = r.Str();
  s.collection_prefix = r.U8() != 0;
  if (opt_tags) {
    s.tags = GetOptFilters(r);
  } else {
    for (uint64_t n = r.Count(2); n > 0 && r.ok(); --n) {
      std::string k = r.Str();
      s.tags[std::move(k)] = r.Str();
    }
  }
  s.annotations = GetOptFilters(r);
  for (uint64_t n = r.Count(16); n > 0 && r.ok(); --n) s.streams.push_back(r.Id());
  s.start = GetOptTime(r);
  s.end = GetOptTime(r);
  s.chunk = r.SVar();
  s.analytic = r.Str();
  s.params = GetFields(r);
  s.priority = static_cast<int32_t>(r.SVar());
  s.max_attempts = r.U32();
  s.task_timeout = r.SVar();
  for (uint64_t n = r.Count(17); n > 0 && r.ok(); --n) {
    Uuid u = r.Id();
    s.versions[u] = r.Var();
  }
  return s;
}

void PutTask(Writer& w, RecordType t, JobId job, uint32_t stream_index, int64_t start) {
  w.Type(t, job);
  w.Var(stream_index);
  w.SVar(start);
}

}  // namespace

void EncodeNextJobId(std::string* out, JobId next) {
  Writer w(out);
  w.Type(RecordType::kNextJobId, 0);
  w.Var(next);
}

void EncodeJob(std::string* out, JobId job, JobNonce nonce, const JobSpec& spec,
               int64_t submitted_wall_ns) {
  Writer w(out);
  const bool opt_tags = HasKeyOnlyFilter(spec.tags);
  w.Type(opt_tags ? RecordType::kJobTagsOpt : RecordType::kJob, job);
  PutSpec(w, spec, opt_tags);
  w.SVar(submitted_wall_ns);
  PutNonceTail(w, nonce);
}

void EncodeStreams(std::string* out, JobId job, const std::vector<Uuid>& streams) {
  Writer w(out);
  w.Type(RecordType::kStreams, job);
  w.Var(streams.size());
  for (const Uuid& u : streams) w.Id(u);
}

void EncodePin(std::string* out, JobId job, uint32_t stream_index, const StreamPin& pin) {
  Writer w(out);
  w.Type(RecordType::kPin, job);
  w.Var(stream_index);
  w.Var(pin.version);
  w.SVar(pin.earliest);
  w.SVar(pin.latest);
  w.U8(pin.has_data ? 1 : 0);
  // The params follow as an optional tail: a pin without it (a journal from before pinned
  // params, or a pin still waiting for them) decodes with params_pinned false.
  if (pin.params_pinned) {
    w.U8(kPinParamsV1);
    PutFields(w, pin.params);
  }
}

void EncodeDone(std::string* out, JobId job, uint32_t stream_index, int64_t start) {
  Writer w(out);
  PutTask(w, RecordType::kDone, job, stream_index, start);
}

void EncodeDoneRange(std::string* out, JobId job, uint32_t stream_index, int64_t from,
                     int64_t to) {
  Writer w(out);
  PutTask(w, RecordType::kDoneRange, job, stream_index, from);
  w.SVar(to);
}

void EncodeDead(std::string* out, JobId job, uint32_t stream_index, int64_t start,
                uint32_t attempt, std::string_view error) {
  Writer w(out);
  PutTask(w, RecordType::kDead, job, stream_index, start);
  w.Var(attempt);
  w.Str(error);
}

void EncodeAttemptFailed(std::string* out, JobId job, uint32_t stream_index, int64_t start,
                         uint32_t attempt) {
  Writer w(out);
  PutTask(w, RecordType::kAttemptFailed, job, stream_index, start);
  w.Var(attempt);
}

void EncodeRetry(std::string* out, JobId job) {
  Writer w(out);
  w.Type(RecordType::kRetry, job);
}

void EncodeCancel(std::string* out, JobId job, int64_t wall_ns) {
  Writer w(out);
  w.Type(RecordType::kCancel, job);
  w.SVar(wall_ns);
}

void EncodeJobFailed(std::string* out, JobId job, std::string_view error, int64_t wall_ns) {
  Writer w(out);
  w.Type(RecordType::kJobFailed, job);
  w.Str(error);
  w.SVar(wall_ns);
}

void EncodeJobSummary(std::string* out, const JobInfo& info) {
  Writer w(out);
  w.Type(RecordType::kJobSummary, info.id);
  w.Str(info.spec.name);
  w.Str(info.spec.collection);
  w.Str(info.spec.analytic);
  w.SVar(info.spec.priority);
  w.U8(static_cast<uint8_t>(info.state));
  const JobCounts& c = info.counts;
  for (uint64_t v : {c.total, c.pending, c.in_flight, c.done, c.retried, c.dead, c.cancelled}) {
    w.Var(v);
  }
  w.U8(c.total_final ? 1 : 0);
  w.Str(info.error);
  w.SVar(info.submitted_wall_ns);
  w.SVar(info.finished_wall_ns);
  PutNonceTail(w, info.nonce);
}

void EncodeRetried(std::string* out, JobId job, uint64_t retried) {
  Writer w(out);
  w.Type(RecordType::kRetried, job);
  w.Var(retried);
}

void EncodeWorkerDrain(std::string* out, std::string_view worker, bool draining) {
  Writer w(out);
  w.Type(RecordType::kWorkerDrain, 0);
  w.Var(draining ? 1 : 0);
  w.Str(worker);
}

namespace {

// The fields of a record about one task (kPin, kDone, kDoneRange, kDead, kAttemptFailed),
// after its type and job.
void GetTaskRecord(uint8_t type, Reader& r, JournalRecord* rec) {
  rec->stream_index = r.U32();
  if (type == static_cast<uint8_t>(RecordType::kPin)) {
    rec->pin.version = r.Var();
    rec->pin.earliest = r.SVar();
    rec->pin.latest = r.SVar();
    rec->pin.has_data = r.U8() != 0;
    rec->pin.params_pinned = !r.at_end();
    if (rec->pin.params_pinned) {
      if (r.U8() != kPinParamsV1) r.Invalidate();
      rec->pin.params = GetFields(r);
    }
    return;
  }
  rec->start = r.SVar();
  switch (type) {
    case static_cast<uint8_t>(RecordType::kDoneRange):
      rec->end = r.SVar();
      break;
    case static_cast<uint8_t>(RecordType::kDead):
      rec->attempt = r.U32();
      rec->message = r.Str();
      break;
    case static_cast<uint8_t>(RecordType::kAttemptFailed):
      rec->attempt = r.U32();
      break;
    default:  // kDone
      break;
  }
}

// The fields of a kJobSummary record, after its type and job.
Status GetJobSummary(Reader& r, JournalRecord* rec) {
  JobInfo& i = rec->info;
  i.id = rec->job;
  i.spec.name = r.Str();
  i.spec.collection = r.Str();
  i.spec.analytic = r.Str();
  i.spec.priority = static_cast<int32_t>(r.SVar());
  const uint8_t state = r.U8();
  if (state > static_cast<uint8_t>(JobState::kFailed)) {
    return Status::InvalidMessage("journal: job summary with unknown state " +
                                  std::to_string(state));
  }
  i.state = static_cast<JobState>(state);
  JobCounts& c = i.counts;
  for (uint64_t* v :
       {&c.total, &c.pending, &c.in_flight, &c.done, &c.retried, &c.dead, &c.cancelled}) {
    *v = r.Var();
  }
  c.total_final = r.U8() != 0;
  i.error = r.Str();
  i.submitted_wall_ns = r.SVar();
  i.finished_wall_ns = r.SVar();
  i.nonce = GetNonceTail(r);
  return Status::OK();
}

}  // namespace

Result<JournalRecord> DecodeRecord(std::string_view payload) {
  Reader r(payload);
  JournalRecord rec;
  const uint8_t type = r.U8();
  rec.job = r.Var();
  switch (type) {
    case static_cast<uint8_t>(RecordType::kNextJobId):
    case static_cast<uint8_t>(RecordType::kRetried):
      rec.value = r.Var();
      break;
    case static_cast<uint8_t>(RecordType::kJob):
    case static_cast<uint8_t>(RecordType::kJobTagsOpt):
      rec.spec = GetSpec(r, type == static_cast<uint8_t>(RecordType::kJobTagsOpt));
      rec.wall_ns = r.SVar();
      rec.nonce = GetNonceTail(r);
      break;
    case static_cast<uint8_t>(RecordType::kStreams):
      for (uint64_t n = r.Count(16); n > 0 && r.ok(); --n) rec.streams.push_back(r.Id());
      break;
    case static_cast<uint8_t>(RecordType::kPin):
    case static_cast<uint8_t>(RecordType::kDone):
    case static_cast<uint8_t>(RecordType::kDoneRange):
    case static_cast<uint8_t>(RecordType::kDead):
    case static_cast<uint8_t>(RecordType::kAttemptFailed):
      GetTaskRecord(type, r, &rec);
      break;
    case static_cast<uint8_t>(RecordType::kRetry):
      break;
    case static_cast<uint8_t>(RecordType::kCancel):
      rec.wall_ns = r.SVar();
      break;
    case static_cast<uint8_t>(RecordType::kJobFailed):
      rec.message = r.Str();
      rec.wall_ns = r.SVar();
      break;
    case static_cast<uint8_t>(RecordType::kJobSummary):
      BTRQ_RETURN_IF_ERROR(GetJobSummary(r, &rec));
      break;
    case static_cast<uint8_t>(RecordType::kWorkerDrain):
      rec.value = r.Var();
      rec.message = r.Str();
      break;
    default:
      return Status::InvalidMessage("journal: unknown record type " + std::to_string(type));
  }
  if (!r.ok()) return Status::InvalidMessage("journal: truncated or malformed record");
  if (!r.at_end()) return Status::InvalidMessage("journal: trailing bytes in record");
  rec.type = type == static_cast<uint8_t>(RecordType::kJobTagsOpt)
                 ? RecordType::kJob
                 : static_cast<RecordType>(type);
  return rec;
}

}  // namespace btrq::broker
