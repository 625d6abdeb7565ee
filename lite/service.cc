#include "lite/service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "common/number_format.h"
#include "lite/csv.h"
#include "lite/sql.h"

namespace btrq::lite {
namespace {

constexpr size_t kPointsPerMessage = 5000;
constexpr size_t kItemsPerMessage = 1000;

void SetStat(v5api::Status* stat, const Status& s) {
  stat->set_code(BtrdbCodeOf(s));
  stat->set_msg(s.message());
}

Result<Uuid> ParseUuid(const std::string& raw) {
  if (raw.size() != 16) return BtrdbError(kWrongArgs, "uuid must be 16 bytes");
  Uuid id;
  std::copy(raw.begin(), raw.end(), id.bytes.begin());
  return id;
}

Result<std::shared_ptr<const StreamData>> LoadData(Database* db, const std::string& raw_uuid) {
  BTRQ_ASSIGN_OR_RETURN(Uuid id, ParseUuid(raw_uuid));
  return db->Data(id);
}

// 0 = latest; a version above the latest is not available.
Result<uint64_t> ResolveVersion(const StreamData& d, uint64_t requested) {
  if (requested == 0) return d.version();
  if (requested > d.version()) {
    return BtrdbError(kVersionNotAvailable, "version " + std::to_string(requested) + " not available (latest " +
                                                std::to_string(d.version()) + ")");
  }
  return requested;
}

Status CheckQueryRange(int64_t start, int64_t end) {
  if (start < kMinTime || end >= kMaxTime || start >= end) {
    return BtrdbError(kInvalidTimeRange, "invalid time range [" + std::to_string(start) + ", " +
                                             std::to_string(end) + ")");
  }
  return Status::OK();
}

void FillStat(v5api::StatPoint* sp, const StatWindow& w) {
  sp->set_time(w.time);
  sp->set_min(w.min);
  sp->set_mean(w.mean);
  sp->set_max(w.max);
  sp->set_count(w.count);
  sp->set_stddev(w.stddev);
}

// Sends one stat-only message for a failed streaming call.
template <typename Resp>
grpc::Status StreamError(grpc::ServerWriter<Resp>* writer, const Status& s) {
  Resp resp;
  SetStat(resp.mutable_stat(), s);
  writer->Write(resp);
  return grpc::Status::OK;
}

// Streams StatWindows of `data` in chunks; shared by AlignedWindows and Windows.
template <typename Resp>
void StreamWindows(grpc::ServerContext* ctx, const StreamData& data, uint64_t version, int64_t start,
                   uint64_t width, uint64_t n, bool emit_empty, grpc::ServerWriter<Resp>* writer) {
  Resp resp;
  resp.set_versionmajor(version);
  resp.mutable_values()->Reserve(kPointsPerMessage);
  bool sent = false;
  bool alive = true;
  data.Windows(start, width, n, emit_empty, version, [&](const StatWindow& w) {
    FillStat(resp.add_values(), w);
    if (static_cast<size_t>(resp.values_size()) == kPointsPerMessage) {
      alive = !ctx->IsCancelled() && writer->Write(resp);
      sent = true;
      resp.clear_values();
    }
    return alive;
  });
  if (alive && (!sent || resp.values_size() > 0)) writer->Write(resp);
}

std::vector<KeyFilter> ToFilters(const google::protobuf::RepeatedPtrField<v5api::KeyOptValue>& kvs) {
  std::vector<KeyFilter> out;
  for (const auto& kv : kvs) {
    KeyFilter f{kv.key(), std::nullopt};
    if (kv.has_val()) f.value = kv.val().value();
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<KeyChange> ToChanges(const google::protobuf::RepeatedPtrField<v5api::KeyOptValue>& kvs) {
  std::vector<KeyChange> out;
  for (const auto& kv : kvs) {
    KeyChange c{kv.key(), std::nullopt};
    if (kv.has_val()) c.value = kv.val().value();
    out.push_back(std::move(c));
  }
  return out;
}

KeyValues ToKeyValues(const google::protobuf::RepeatedPtrField<v5api::KeyOptValue>& kvs) {
  KeyValues out;
  for (const auto& kv : kvs) {
    if (kv.has_val()) out[kv.key()] = kv.val().value();
  }
  return out;
}

void FillDescriptor(v5api::StreamDescriptor* d, const Uuid& id, const StreamMeta& m) {
  d->set_uuid(std::string(id.AsBytes()));
  d->set_collection(m.collection);
  for (const auto& [k, v] : m.tags) {
    auto* kv = d->add_tags();
    kv->set_key(k);
    kv->mutable_val()->set_value(v);
  }
  for (const auto& [k, v] : m.annotations) {
    auto* kv = d->add_annotations();
    kv->set_key(k);
    kv->mutable_val()->set_value(v);
  }
  d->set_propertyversion(m.property_version);
}

bool ParseDecimal(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  *out = std::stoll(s);
  return true;
}

}  // namespace

BtrdbService::BtrdbService(Database* db, ServiceOptions options) : db_(db), options_(std::move(options)) {}

void BtrdbService::set_listen_address(std::string address) {
  MutexLock l(&mu_);
  listen_address_ = std::move(address);
}

Status BtrdbService::Faults() {
  const int64_t delay = delay_ms_.load(std::memory_order_relaxed);
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  int64_t n = fail_next_.load(std::memory_order_relaxed);
  while (n > 0) {
    if (fail_next_.compare_exchange_weak(n, n - 1)) return BtrdbError(kContextError, "injected fault");
  }
  return Status::OK();
}

grpc::Status BtrdbService::RawValues(grpc::ServerContext* ctx, const v5api::RawValuesParams* req,
                                     grpc::ServerWriter<v5api::RawValuesResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  if (Status s = CheckQueryRange(req->start(), req->end()); !s.ok()) return StreamError(writer, s);
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return StreamError(writer, data.status());
  auto version = ResolveVersion(**data, req->versionmajor());
  if (!version.ok()) return StreamError(writer, version.status());

  StreamData::Cursor cursor(*data, req->start(), req->end(), *version);
  std::vector<Point> buf(kPointsPerMessage);
  v5api::RawValuesResponse resp;
  resp.set_versionmajor(*version);
  auto* values = resp.mutable_values();
  values->Reserve(kPointsPerMessage);
  bool sent = false;
  for (;;) {
    const size_t n = cursor.Next(buf.data(), kPointsPerMessage);
    if (n == 0 && sent) break;
    values->Clear();  // keeps the element objects for reuse
    for (size_t i = 0; i < n; ++i) {
      v5api::RawPoint* p = values->Add();
      p->set_time(buf[i].time);
      p->set_value(buf[i].value);
    }
    if (ctx->IsCancelled() || !writer->Write(resp)) break;
    sent = true;
    if (n < kPointsPerMessage) break;
  }
  return grpc::Status::OK;
}

grpc::Status BtrdbService::AlignedWindows(grpc::ServerContext* ctx, const v5api::AlignedWindowsParams* req,
                                          grpc::ServerWriter<v5api::AlignedWindowsResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  const uint32_t pw = req->pointwidth();
  if (pw > 63) return StreamError(writer, BtrdbError(kInvalidPointWidth, "point width must be in [0, 63]"));
  // Clamp to the valid interval (the Go client's Count asks for [MinimumTime, MaximumTime]).
  const int64_t start = std::max(req->start(), kMinTime);
  const int64_t end = std::min(req->end(), kMaxTime);
  if (start >= end) return StreamError(writer, BtrdbError(kInvalidTimeRange, "invalid time range"));
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return StreamError(writer, data.status());
  auto version = ResolveVersion(**data, req->versionmajor());
  if (!version.ok()) return StreamError(writer, version.status());
  const int64_t fs = AlignDown(start, static_cast<int>(pw));
  // Windows start in [floor(start), floor(end)). An end at or past MaximumTime means "to
  // the end of time": the window holding the last valid instant is included, so that
  // Count(MinimumTime, MaximumTime, pw 62) sees every point.
  const __int128 fe = req->end() >= kMaxTime
                          ? static_cast<__int128>(AlignDown(kMaxTime - 1, static_cast<int>(pw))) + (__int128{1} << pw)
                          : static_cast<__int128>(AlignDown(end, static_cast<int>(pw)));
  const uint64_t n = static_cast<uint64_t>((fe - fs) >> pw);
  StreamWindows(ctx, **data, *version, fs, uint64_t{1} << pw, n, false, writer);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Windows(grpc::ServerContext* ctx, const v5api::WindowsParams* req,
                                   grpc::ServerWriter<v5api::WindowsResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  if (req->width() == 0 || req->width() > (uint64_t{1} << 63) || req->depth() > 63) {
    return StreamError(writer, BtrdbError(kInvalidPointWidth, "width must be in [1, 2^63] and depth in [0, 63]"));
  }
  if (Status s = CheckQueryRange(req->start(), req->end()); !s.ok()) return StreamError(writer, s);
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return StreamError(writer, data.status());
  auto version = ResolveVersion(**data, req->versionmajor());
  if (!version.ok()) return StreamError(writer, version.status());
  const uint64_t span = static_cast<uint64_t>(static_cast<__int128>(req->end()) - req->start());
  StreamWindows(ctx, **data, *version, req->start(), req->width(), span / req->width(), true, writer);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::StreamInfo(grpc::ServerContext*, const v5api::StreamInfoParams* req,
                                      v5api::StreamInfoResponse* resp) {
  if (Status f = Faults(); !f.ok()) return SetStat(resp->mutable_stat(), f), grpc::Status::OK;
  if (req->omitversion() && req->omitdescriptor()) {
    SetStat(resp->mutable_stat(), BtrdbError(kWrongArgs, "cannot omit both version and descriptor"));
    return grpc::Status::OK;
  }
  auto id = ParseUuid(req->uuid());
  if (!id.ok()) return SetStat(resp->mutable_stat(), id.status()), grpc::Status::OK;
  auto meta = db_->Meta(*id);
  auto data = db_->Data(*id);
  if (!meta.ok() || !data.ok()) {
    SetStat(resp->mutable_stat(), meta.ok() ? data.status() : meta.status());
    return grpc::Status::OK;
  }
  if (!req->omitversion()) resp->set_versionmajor((*data)->version());
  if (!req->omitdescriptor()) FillDescriptor(resp->mutable_stream_descriptor(), *id, **meta);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::SetStreamAnnotations(grpc::ServerContext*, const v5api::SetStreamAnnotationsParams* req,
                                                v5api::SetStreamAnnotationsResponse* resp) {
  Status s = Faults();
  if (s.ok()) {
    auto id = ParseUuid(req->uuid());
    s = id.ok() ? db_->SetAnnotations(*id, req->expectedpropertyversion(), ToChanges(req->changes()),
                                      {req->removals().begin(), req->removals().end()})
                : id.status();
  }
  if (!s.ok()) SetStat(resp->mutable_stat(), s);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::SetStreamTags(grpc::ServerContext*, const v5api::SetStreamTagsParams* req,
                                         v5api::SetStreamTagsResponse* resp) {
  Status s = Faults();
  if (s.ok()) {
    auto id = ParseUuid(req->uuid());
    std::optional<std::string> collection;
    if (!req->collection().empty()) collection = req->collection();
    s = id.ok() ? db_->SetTags(*id, req->expectedpropertyversion(), collection, ToChanges(req->tags()),
                               {req->remove().begin(), req->remove().end()})
                : id.status();
  }
  if (!s.ok()) SetStat(resp->mutable_stat(), s);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Create(grpc::ServerContext*, const v5api::CreateParams* req, v5api::CreateResponse* resp) {
  Status s = Faults();
  if (s.ok()) {
    auto id = ParseUuid(req->uuid());
    s = id.ok() ? db_->Create(*id, req->collection(), ToKeyValues(req->tags()), ToKeyValues(req->annotations()))
                : id.status();
  }
  if (!s.ok()) SetStat(resp->mutable_stat(), s);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::ListCollections(grpc::ServerContext*, const v5api::ListCollectionsParams* req,
                                           grpc::ServerWriter<v5api::ListCollectionsResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  const std::vector<std::string> names = db_->ListCollections(req->prefix());
  v5api::ListCollectionsResponse resp;
  size_t i = 0;
  do {
    resp.clear_collections();
    for (size_t k = 0; k < kItemsPerMessage && i < names.size(); ++k, ++i) resp.add_collections(names[i]);
    if (!writer->Write(resp)) break;
  } while (i < names.size());
  return grpc::Status::OK;
}

grpc::Status BtrdbService::LookupStreams(grpc::ServerContext*, const v5api::LookupStreamsParams* req,
                                         grpc::ServerWriter<v5api::LookupStreamsResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  const auto found = db_->Lookup(req->collection(), req->iscollectionprefix(), ToFilters(req->tags()),
                                 ToFilters(req->annotations()));
  v5api::LookupStreamsResponse resp;
  size_t i = 0;
  do {
    resp.clear_results();
    for (size_t k = 0; k < kItemsPerMessage && i < found.size(); ++k, ++i) {
      FillDescriptor(resp.add_results(), found[i].first, *found[i].second);
    }
    if (!writer->Write(resp)) break;
  } while (i < found.size());
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Nearest(grpc::ServerContext*, const v5api::NearestParams* req,
                                   v5api::NearestResponse* resp) {
  Status s = Faults();
  if (s.ok() && (req->time() < kMinTime || req->time() >= kMaxTime)) {
    s = BtrdbError(kInvalidTimeRange, "time out of range");
  }
  if (!s.ok()) return SetStat(resp->mutable_stat(), s), grpc::Status::OK;
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return SetStat(resp->mutable_stat(), data.status()), grpc::Status::OK;
  auto version = ResolveVersion(**data, req->versionmajor());
  if (!version.ok()) return SetStat(resp->mutable_stat(), version.status()), grpc::Status::OK;
  resp->set_versionmajor(*version);
  Point p;
  if (!(*data)->Nearest(req->time(), req->backward(), *version, &p)) {
    SetStat(resp->mutable_stat(), BtrdbError(kNoSuchPoint, "no such point"));
    return grpc::Status::OK;
  }
  resp->mutable_value()->set_time(p.time);
  resp->mutable_value()->set_value(p.value);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Changes(grpc::ServerContext*, const v5api::ChangesParams* req,
                                   grpc::ServerWriter<v5api::ChangesResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  if (req->resolution() > 63) return StreamError(writer, BtrdbError(kInvalidPointWidth, "resolution must be <= 63"));
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return StreamError(writer, data.status());
  const uint64_t from = std::max<uint64_t>(req->frommajor(), 1);
  auto to = ResolveVersion(**data, req->tomajor());
  if (!to.ok()) return StreamError(writer, to.status());
  if (from > *to) return StreamError(writer, BtrdbError(kInvalidVersions, "fromMajor is after toMajor"));
  const std::vector<TimeRange> ranges = (*data)->Changes(from, *to, static_cast<int>(req->resolution()));
  v5api::ChangesResponse resp;
  resp.set_versionmajor(*to);
  size_t i = 0;
  do {
    resp.clear_ranges();
    for (size_t k = 0; k < kItemsPerMessage && i < ranges.size(); ++k, ++i) {
      auto* r = resp.add_ranges();
      r->set_start(ranges[i].start);
      r->set_end(ranges[i].end);
    }
    if (!writer->Write(resp)) break;
  } while (i < ranges.size());
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Insert(grpc::ServerContext*, const v5api::InsertParams* req, v5api::InsertResponse* resp) {
  Status s = Faults();
  Result<Uuid> id = s.ok() ? ParseUuid(req->uuid()) : Result<Uuid>(s);
  if (!id.ok()) return SetStat(resp->mutable_stat(), id.status()), grpc::Status::OK;
  std::vector<Point> points(static_cast<size_t>(req->values_size()));
  for (int i = 0; i < req->values_size(); ++i) points[i] = {req->values(i).time(), req->values(i).value()};
  const int policy = req->merge_policy();
  if (policy < 0 || policy > 3) {
    SetStat(resp->mutable_stat(), BtrdbError(kInvalidParameter, "unknown merge policy"));
    return grpc::Status::OK;
  }
  auto version = db_->Insert(*id, std::move(points), static_cast<MergePolicy>(policy));
  if (!version.ok()) return SetStat(resp->mutable_stat(), version.status()), grpc::Status::OK;
  resp->set_versionmajor(*version);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Delete(grpc::ServerContext*, const v5api::DeleteParams* req, v5api::DeleteResponse* resp) {
  Status s = Faults();
  Result<Uuid> id = s.ok() ? ParseUuid(req->uuid()) : Result<Uuid>(s);
  if (!id.ok()) return SetStat(resp->mutable_stat(), id.status()), grpc::Status::OK;
  auto version = db_->Delete(*id, req->start(), req->end());
  if (!version.ok()) return SetStat(resp->mutable_stat(), version.status()), grpc::Status::OK;
  resp->set_versionmajor(*version);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Info(grpc::ServerContext*, const v5api::InfoParams*, v5api::InfoResponse* resp) {
  resp->set_majorversion(5);
  resp->set_minorversion(28);
  resp->set_build(std::string("btrdb-lite ") + kLiteVersion);
  std::string address = options_.advertised_address;
  if (address.empty()) {
    MutexLock l(&mu_);
    address = listen_address_;
  }
  resp->mutable_proxy()->add_proxyendpoints(address);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::FaultInject(grpc::ServerContext*, const v5api::FaultInjectParams* req,
                                       v5api::FaultInjectResponse* resp) {
  if (!options_.enable_fault_inject) {
    SetStat(resp->mutable_stat(), BtrdbError(kFaultInjectionDisabled, "fault injection is disabled"));
    return grpc::Status::OK;
  }
  int64_t n = 0;
  switch (req->type()) {
    case 0:
      fail_next_ = 0;
      delay_ms_ = 0;
      break;
    case 1:
    case 2:
      if (!ParseDecimal(req->params(), &n)) {
        SetStat(resp->mutable_stat(), BtrdbError(kInvalidParameter, "params must be a decimal number"));
        return grpc::Status::OK;
      }
      (req->type() == 1 ? fail_next_ : delay_ms_) = n;
      break;
    default:
      SetStat(resp->mutable_stat(), BtrdbError(kInvalidParameter, "unknown fault type"));
      return grpc::Status::OK;
  }
  resp->set_rv("ok");
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Flush(grpc::ServerContext*, const v5api::FlushParams* req, v5api::FlushResponse* resp) {
  if (Status f = Faults(); !f.ok()) return SetStat(resp->mutable_stat(), f), grpc::Status::OK;
  auto data = LoadData(db_, req->uuid());
  if (!data.ok()) return SetStat(resp->mutable_stat(), data.status()), grpc::Status::OK;
  resp->set_versionmajor((*data)->version());
  return grpc::Status::OK;
}

grpc::Status BtrdbService::Obliterate(grpc::ServerContext*, const v5api::ObliterateParams* req,
                                      v5api::ObliterateResponse* resp) {
  Status s = Faults();
  if (s.ok() && !options_.enable_obliterate) s = BtrdbError(kObliterateDisabled, "obliterate is disabled");
  if (s.ok()) {
    auto id = ParseUuid(req->uuid());
    s = id.ok() ? db_->Obliterate(*id) : id.status();
  }
  if (!s.ok()) SetStat(resp->mutable_stat(), s);
  return grpc::Status::OK;
}

grpc::Status BtrdbService::GetMetadataUsage(grpc::ServerContext*, const v5api::MetadataUsageParams* req,
                                            v5api::MetadataUsageResponse* resp) {
  if (Status f = Faults(); !f.ok()) return SetStat(resp->mutable_stat(), f), grpc::Status::OK;
  std::map<std::string, uint64_t> tags, annotations;
  for (const auto& [id, meta] : db_->Lookup(req->prefix(), true, {}, {})) {
    for (const auto& kv : meta->tags) ++tags[kv.first];
    for (const auto& kv : meta->annotations) ++annotations[kv.first];
  }
  for (const auto& [k, n] : tags) {
    auto* kc = resp->add_tags();
    kc->set_key(k);
    kc->set_count(n);
  }
  for (const auto& [k, n] : annotations) {
    auto* kc = resp->add_annotations();
    kc->set_key(k);
    kc->set_count(n);
  }
  return grpc::Status::OK;
}

grpc::Status BtrdbService::GenerateCSV(grpc::ServerContext* ctx, const v5api::GenerateCSVParams* req,
                                       grpc::ServerWriter<v5api::GenerateCSVResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  if (Status s = CheckQueryRange(req->starttime(), req->endtime()); !s.ok()) return StreamError(writer, s);
  CsvQuery query;
  switch (req->querytype()) {
    case v5api::GenerateCSVParams::ALIGNED_WINDOWS_QUERY: query.kind = CsvKind::kAlignedWindows; break;
    case v5api::GenerateCSVParams::RAW_QUERY: query.kind = CsvKind::kRaw; break;
    default: query.kind = CsvKind::kWindows; break;
  }
  query.start = req->starttime();
  query.end = req->endtime();
  query.window_size = req->windowsize();
  const uint64_t w = query.window_size;
  if ((query.kind == CsvKind::kAlignedWindows && w > 63) ||
      (query.kind == CsvKind::kWindows && (w == 0 || w > (uint64_t{1} << 63)))) {
    return StreamError(writer, BtrdbError(kInvalidPointWidth, "invalid window size"));
  }
  for (const auto& sc : req->streams()) {
    auto data = LoadData(db_, sc.uuid());
    if (!data.ok()) return StreamError(writer, data.status());
    auto version = ResolveVersion(**data, sc.version());
    if (!version.ok()) return StreamError(writer, version.status());
    std::string label = sc.label();
    if (req->includeversions()) label += "@" + std::to_string(*version);
    query.columns.push_back({*data, *version, std::move(label)});
  }
  v5api::GenerateCSVResponse header;
  header.set_isheader(true);
  for (std::string& cell : CsvHeader(query)) header.add_row(std::move(cell));
  if (!writer->Write(header)) return grpc::Status::OK;
  v5api::GenerateCSVResponse row;
  CsvRows(
      query, [ctx] { return ctx->IsCancelled(); },
      [&](const std::vector<std::string>& cells) {
        row.clear_row();
        for (const std::string& cell : cells) row.add_row(cell);
        return writer->Write(row);
      });
  return grpc::Status::OK;
}

grpc::Status BtrdbService::SQLQuery(grpc::ServerContext*, const v5api::SQLQueryParams* req,
                                    grpc::ServerWriter<v5api::SQLQueryResponse>* writer) {
  if (Status f = Faults(); !f.ok()) return StreamError(writer, f);
  auto rows = RunSqlQuery(*db_, req->query(), {req->params().begin(), req->params().end()});
  if (!rows.ok()) return StreamError(writer, rows.status());
  v5api::SQLQueryResponse resp;
  size_t i = 0;
  do {
    resp.clear_sqlqueryrow();
    for (size_t k = 0; k < kItemsPerMessage && i < rows->size(); ++k, ++i) resp.add_sqlqueryrow((*rows)[i]);
    if (!writer->Write(resp)) break;
  } while (i < rows->size());
  return grpc::Status::OK;
}

}  // namespace btrq::lite
