#include "btrdb/client.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <type_traits>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "btrdb/channel.h"
#include "btrdb/point_frames.h"
#include "btrdb/stall_watchdog.h"
#include "btrdb/status_mapping.h"
#include "btrdb/v5/btrdb.grpc.pb.h"
#include "btrdb/v5/btrdb.pb.h"
#include "common/file_util.h"

namespace btrq::btrdb {
namespace {

std::string Bytes(const Uuid& uuid) {
  return std::string(reinterpret_cast<const char*>(uuid.bytes.data()), uuid.bytes.size());
}

Result<Uuid> UuidFromWire(const std::string& raw) {
  if (raw.size() != 16) {
    return Status::InvalidMessage("BTrDB sent a stream uuid of " + std::to_string(raw.size()) +
                                  " bytes, want 16");
  }
  Uuid u;
  std::memcpy(u.bytes.data(), raw.data(), 16);
  return u;
}

void ToWire(const KeyOptValues& in,
            google::protobuf::RepeatedPtrField<v5api::KeyOptValue>* out) {
  out->Reserve(static_cast<int>(in.size()));
  for (const auto& [key, value] : in) {
    v5api::KeyOptValue* kv = out->Add();
    kv->set_key(key);
    if (value) kv->mutable_val()->set_value(*value);
  }
}

KeyOptValues FromWire(const google::protobuf::RepeatedPtrField<v5api::KeyOptValue>& in) {
  KeyOptValues out;
  out.reserve(in.size());
  for (const v5api::KeyOptValue& kv : in) {
    out.emplace_back(kv.key(), kv.has_val() ? std::optional<std::string>(kv.val().value())
                                            : std::nullopt);
  }
  return out;
}

Result<StreamDescriptor> FromWire(const v5api::StreamDescriptor& d) {
  StreamDescriptor out;
  BTRQ_ASSIGN_OR_RETURN(out.uuid, UuidFromWire(d.uuid()));
  out.collection = d.collection();
  out.tags = FromWire(d.tags());
  out.annotations = FromWire(d.annotations());
  out.property_version = d.propertyversion();
  return out;
}

// The error in a unary response: gRPC first, then the in-band Status.
template <typename Response>
Status CheckUnary(std::string_view rpc, const grpc::Status& status, const Response& response) {
  if (!status.ok()) return FromGrpcStatus(rpc, status);
  if (response.has_stat() && response.stat().code() != 0) {
    return FromBtrdbStatus(rpc, response.stat().code(), response.stat().msg());
  }
  return Status::OK();
}

// A streamed message's in-band error, if it carries one.
template <typename Response>
Status InBandError(std::string_view rpc, const Response& m) {
  if (m.has_stat() && m.stat().code() != 0) {
    return FromBtrdbStatus(rpc, m.stat().code(), m.stat().msg());
  }
  return Status::OK();
}
template <typename Point>
Status InBandError(std::string_view rpc, const PointFrame<Point>& m) {
  if (m.has_stat && m.stat_code != 0) return FromBtrdbStatus(rpc, m.stat_code, m.stat_msg);
  return Status::OK();
}

// Reads every message of a server stream, checking each one's in-band Status before
// handing it to `on_message`. On the first error (in-band, or from `on_message`) the call
// is cancelled and that error returned; otherwise gRPC's final status decides.
template <typename Response, typename OnMessage>
Status ReadStream(std::string_view rpc, grpc::ClientContext* context,
                  grpc::ClientReader<Response>* reader, Response* msg, OnMessage&& on_message,
                  StallWatchdog::Watch* watch = nullptr) {
  Status failure;
  const auto read = [&] { return reader->Read(msg); };
  while (watch != nullptr ? watch->Wait(read) : read()) {
    failure = InBandError(rpc, *msg);
    if (!failure.ok()) break;
    failure = on_message(*msg);
    if (!failure.ok()) break;
  }
  if (!failure.ok()) {
    context->TryCancel();
    while (reader->Read(msg)) {
    }
    (void)reader->Finish();  // CANCELLED by us; `failure` is the result
    return failure;
  }
  const grpc::Status status = reader->Finish();
  if (watch != nullptr && watch->stalled()) return watch->StalledError(rpc);
  if (!status.ok()) return FromGrpcStatus(rpc, status);
  return Status::OK();
}

template <typename Response, typename OnMessage>
Status ReadStream(std::string_view rpc, grpc::ClientContext* context,
                  grpc::ClientReader<Response>* reader, OnMessage&& on_message) {
  Response msg;
  return ReadStream(rpc, context, reader, &msg, std::forward<OnMessage>(on_message));
}

}  // namespace

struct Client::Impl {
  Impl(std::shared_ptr<grpc::Channel> ch, const ConnectOptions& opts, bool per_call)
      : channel(std::move(ch)), stub(v5api::BTrDB::NewStub(channel)), options(opts),
        per_call_auth(per_call && !opts.api_key.empty()) {
    if (per_call_auth) bearer = "Bearer " + options.api_key;
  }

  // Sets the deadline and, on plaintext channels, the API key (gRPC refuses call
  // credentials on insecure channels).
  void Prepare(grpc::ClientContext* context, int64_t timeout_ns) const {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::nanoseconds(timeout_ns));
    if (per_call_auth) context->AddMetadata("authorization", bearer);
  }
  void PrepareUnary(grpc::ClientContext* context) const {
    Prepare(context, options.call_timeout_ns);
  }
  void PrepareStream(grpc::ClientContext* context) const {
    Prepare(context, options.stream_timeout_ns);
  }

  Result<Info> CallInfo(int64_t timeout_ns) {
    grpc::ClientContext context;
    Prepare(&context, timeout_ns);
    v5api::InfoResponse response;
    const grpc::Status status = stub->Info(&context, v5api::InfoParams(), &response);
    BTRQ_RETURN_IF_ERROR(CheckUnary("Info", status, response));
    Info info;
    info.major_version = response.majorversion();
    info.minor_version = response.minorversion();
    info.build = response.build();
    for (const std::string& e : response.proxy().proxyendpoints()) {
      info.proxy_endpoints.push_back(e);
    }
    return info;
  }

  // RawValues, AlignedWindows and Windows: points decoded straight from the wire
  // (btrdb/point_frames.h), each message handed to `sink` as one batch.
  template <typename Point, typename Params>
  Result<uint64_t> PointStream(std::string_view rpc, const grpc::internal::RpcMethod& method,
                               const Params& params,
                               const std::function<Status(std::span<const Point>)>& sink) {
    grpc::ClientContext context;
    PrepareStream(&context);
    StallWatchdog::Watch watch(StallWatchdog::Default(), &context,
                               Nanos(options.stream_idle_timeout_ns));
    std::unique_ptr<grpc::ClientReader<PointFrame<Point>>> reader(
        grpc::internal::ClientReaderFactory<PointFrame<Point>>::Create(channel.get(), method,
                                                                        &context, params));
    uint64_t version = 0;
    const Status s = ReadStream(
        rpc, &context, reader.get(), &Frame<Point>(),
        [&](const PointFrame<Point>& m) -> Status {
          version = m.version_major;
          if (m.values.empty()) return Status::OK();
          return sink(std::span<const Point>(m.values));
        },
        &watch);
    BTRQ_RETURN_IF_ERROR(s);
    return version;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v5api::BTrDB::Stub> stub;
  const ConnectOptions options;  // api_key kept only to build headers; never logged
  const bool per_call_auth;
  std::string bearer;
  // Decode buffers reused across calls (the one-thread-per-Client rule): a frame's
  // vector of 5000 points would otherwise be allocated (and, at 128 KiB, mmap'ed) anew on
  // every call.
  template <typename Point>
  PointFrame<Point>& Frame() {
    if constexpr (std::is_same_v<Point, RawPoint>) {
      return raw_frame;
    } else {
      return stat_frame;
    }
  }
  RawFrame raw_frame;
  StatFrame stat_frame;
  // The point-streaming methods, read as PointFrames rather than through the stub.
  const grpc::internal::RpcMethod raw_values{"/v5api.BTrDB/RawValues",
                                             grpc::internal::RpcMethod::SERVER_STREAMING, channel};
  const grpc::internal::RpcMethod aligned_windows{
      "/v5api.BTrDB/AlignedWindows", grpc::internal::RpcMethod::SERVER_STREAMING, channel};
  const grpc::internal::RpcMethod windows{"/v5api.BTrDB/Windows",
                                          grpc::internal::RpcMethod::SERVER_STREAMING, channel};
};

Client::Client(std::unique_ptr<Impl> impl, std::string endpoint)
    : impl_(std::move(impl)), endpoint_(std::move(endpoint)) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(const ConnectOptions& options) {
  if (options.endpoints.empty()) {
    return Status::InvalidArgument("no BTrDB endpoints to connect to");
  }
  std::string failures;
  Status first_permanent;
  for (const std::string& endpoint : options.endpoints) {
    BTRQ_ASSIGN_OR_RETURN(const EndpointPlan plan, PlanEndpoint(endpoint, options.tls));
    BTRQ_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(plan, options));
    std::unique_ptr<Client> client(
        new Client(std::make_unique<Impl>(std::move(channel), options, !plan.tls), endpoint));
    Result<Info> info = client->impl_->CallInfo(options.connect_timeout_ns);
    Status failure = info.status();
    if (info.ok() && info->major_version != 5) {
      failure = Status::FailedPrecondition("server speaks BTrDB API " +
                                           std::to_string(info->major_version) + "." +
                                           std::to_string(info->minor_version) + ", need 5.x");
    }
    if (failure.ok()) return client;
    if (!failures.empty()) failures += "; ";
    failures += endpoint + ": " + failure.message();
    if (!failure.IsTransient() && first_permanent.ok()) first_permanent = failure;
  }
  const std::string message = "cannot connect to BTrDB (" + failures + ")";
  if (!first_permanent.ok()) {
    return Status(first_permanent.code(), message, first_permanent.subcode());
  }
  return Status::Unavailable(message);
}

std::unique_ptr<Client> Client::FromChannel(std::shared_ptr<grpc::Channel> channel,
                                            const ConnectOptions& options,
                                            std::string endpoint) {
  return std::unique_ptr<Client>(new Client(
      std::make_unique<Impl>(std::move(channel), options, /*per_call=*/true),
      std::move(endpoint)));
}

std::unique_ptr<Client> Client::Share() const {
  return std::unique_ptr<Client>(new Client(
      std::make_unique<Impl>(impl_->channel, impl_->options, impl_->per_call_auth),
      endpoint_));
}

Result<Info> Client::GetInfo() { return impl_->CallInfo(impl_->options.call_timeout_ns); }

Status Client::Create(const Uuid& uuid, std::string_view collection, const KeyOptValues& tags,
                      const KeyOptValues& annotations) {
  v5api::CreateParams params;
  params.set_uuid(Bytes(uuid));
  params.set_collection(std::string(collection));
  ToWire(tags, params.mutable_tags());
  ToWire(annotations, params.mutable_annotations());
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::CreateResponse response;
  return CheckUnary("Create", impl_->stub->Create(&context, params, &response), response);
}

Result<std::vector<std::string>> Client::ListCollections(std::string_view prefix) {
  v5api::ListCollectionsParams params;
  params.set_prefix(std::string(prefix));
  grpc::ClientContext context;
  impl_->PrepareStream(&context);
  auto reader = impl_->stub->ListCollections(&context, params);
  std::vector<std::string> out;
  BTRQ_RETURN_IF_ERROR(ReadStream("ListCollections", &context, reader.get(),
                                  [&](const v5api::ListCollectionsResponse& m) {
                                    out.insert(out.end(), m.collections().begin(),
                                               m.collections().end());
                                    return Status::OK();
                                  }));
  return out;
}

Result<std::vector<StreamDescriptor>> Client::LookupStreams(
    std::string_view collection, bool is_prefix, const KeyOptValues& tag_filters,
    const KeyOptValues& annotation_filters) {
  v5api::LookupStreamsParams params;
  params.set_collection(std::string(collection));
  params.set_iscollectionprefix(is_prefix);
  ToWire(tag_filters, params.mutable_tags());
  ToWire(annotation_filters, params.mutable_annotations());
  grpc::ClientContext context;
  impl_->PrepareStream(&context);
  auto reader = impl_->stub->LookupStreams(&context, params);
  std::vector<StreamDescriptor> out;
  BTRQ_RETURN_IF_ERROR(ReadStream("LookupStreams", &context, reader.get(),
                                  [&](const v5api::LookupStreamsResponse& m) -> Status {
                                    for (const v5api::StreamDescriptor& d : m.results()) {
                                      BTRQ_ASSIGN_OR_RETURN(StreamDescriptor sd, FromWire(d));
                                      out.push_back(std::move(sd));
                                    }
                                    return Status::OK();
                                  }));
  return out;
}

Result<StreamInfo> Client::GetStreamInfo(const Uuid& uuid, bool omit_version,
                                         bool omit_descriptor) {
  v5api::StreamInfoParams params;
  params.set_uuid(Bytes(uuid));
  params.set_omitversion(omit_version);
  params.set_omitdescriptor(omit_descriptor);
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::StreamInfoResponse response;
  BTRQ_RETURN_IF_ERROR(
      CheckUnary("StreamInfo", impl_->stub->StreamInfo(&context, params, &response), response));
  StreamInfo info;
  info.version_major = response.versionmajor();
  info.version_minor = response.versionminor();
  if (!omit_descriptor && response.has_stream_descriptor()) {
    BTRQ_ASSIGN_OR_RETURN(info.descriptor, FromWire(response.stream_descriptor()));
  }
  return info;
}

Result<uint64_t> Client::Version(const Uuid& uuid) {
  BTRQ_ASSIGN_OR_RETURN(const StreamInfo info,
                        GetStreamInfo(uuid, /*omit_version=*/false, /*omit_descriptor=*/true));
  return info.version_major;
}

Status Client::SetStreamTags(const Uuid& uuid, uint64_t expected_property_version,
                             const KeyOptValues& tags, std::string_view collection,
                             const std::vector<std::string>& removals) {
  v5api::SetStreamTagsParams params;
  params.set_uuid(Bytes(uuid));
  params.set_expectedpropertyversion(expected_property_version);
  ToWire(tags, params.mutable_tags());
  params.set_collection(std::string(collection));
  for (const std::string& r : removals) params.add_remove(r);
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::SetStreamTagsResponse response;
  return CheckUnary("SetStreamTags", impl_->stub->SetStreamTags(&context, params, &response),
                    response);
}

Status Client::SetStreamAnnotations(const Uuid& uuid, uint64_t expected_property_version,
                                    const KeyOptValues& changes,
                                    const std::vector<std::string>& removals) {
  v5api::SetStreamAnnotationsParams params;
  params.set_uuid(Bytes(uuid));
  params.set_expectedpropertyversion(expected_property_version);
  ToWire(changes, params.mutable_changes());
  for (const std::string& r : removals) params.add_removals(r);
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::SetStreamAnnotationsResponse response;
  return CheckUnary("SetStreamAnnotations",
                    impl_->stub->SetStreamAnnotations(&context, params, &response), response);
}

Result<std::optional<RawPoint>> Client::Nearest(const Uuid& uuid, int64_t time,
                                                uint64_t version, bool backward) {
  v5api::NearestParams params;
  params.set_uuid(Bytes(uuid));
  params.set_time(time);
  params.set_versionmajor(version);
  params.set_backward(backward);
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::NearestResponse response;
  const grpc::Status status = impl_->stub->Nearest(&context, params, &response);
  if (status.ok() && response.stat().code() == kCodeNoSuchPoint) {
    return std::optional<RawPoint>();
  }
  BTRQ_RETURN_IF_ERROR(CheckUnary("Nearest", status, response));
  return std::optional<RawPoint>(RawPoint{response.value().time(), response.value().value()});
}

Result<std::optional<RawPoint>> Client::Earliest(const Uuid& uuid, uint64_t version) {
  return Nearest(uuid, kMinTime, version, /*backward=*/false);
}

Result<std::optional<RawPoint>> Client::Latest(const Uuid& uuid, uint64_t version) {
  return Nearest(uuid, kMaxTime - 1, version, /*backward=*/true);
}

Result<uint64_t> Client::RawValues(const Uuid& uuid, int64_t start, int64_t end,
                                   uint64_t version, const RawSink& sink) {
  v5api::RawValuesParams params;
  params.set_uuid(Bytes(uuid));
  params.set_start(start);
  params.set_end(end);
  params.set_versionmajor(version);
  return impl_->PointStream<RawPoint>("RawValues", impl_->raw_values, params, sink);
}

Result<uint64_t> Client::AlignedWindows(const Uuid& uuid, int64_t start, int64_t end,
                                        uint64_t version, uint8_t pointwidth,
                                        const StatSink& sink) {
  v5api::AlignedWindowsParams params;
  params.set_uuid(Bytes(uuid));
  params.set_start(start);
  params.set_end(end);
  params.set_versionmajor(version);
  params.set_pointwidth(pointwidth);
  return impl_->PointStream<StatPoint>("AlignedWindows", impl_->aligned_windows, params, sink);
}

Result<uint64_t> Client::Windows(const Uuid& uuid, int64_t start, int64_t end,
                                 uint64_t version, uint64_t width, uint32_t depth,
                                 const StatSink& sink) {
  v5api::WindowsParams params;
  params.set_uuid(Bytes(uuid));
  params.set_start(start);
  params.set_end(end);
  params.set_versionmajor(version);
  params.set_width(width);
  params.set_depth(depth);
  return impl_->PointStream<StatPoint>("Windows", impl_->windows, params, sink);
}

Result<std::vector<ChangedRange>> Client::Changes(const Uuid& uuid, uint64_t from, uint64_t to,
                                                  uint32_t resolution) {
  v5api::ChangesParams params;
  params.set_uuid(Bytes(uuid));
  params.set_frommajor(from);
  params.set_tomajor(to);
  params.set_resolution(resolution);
  grpc::ClientContext context;
  impl_->PrepareStream(&context);
  auto reader = impl_->stub->Changes(&context, params);
  std::vector<ChangedRange> ranges;
  BTRQ_RETURN_IF_ERROR(ReadStream("Changes", &context, reader.get(),
                                  [&](const v5api::ChangesResponse& m) {
                                    for (const v5api::ChangedRange& r : m.ranges()) {
                                      ranges.push_back(ChangedRange{r.start(), r.end()});
                                    }
                                    return Status::OK();
                                  }));
  // The server coalesces most ranges; receivers merge the rest (docs/btrdb-api.md, Changes).
  std::sort(ranges.begin(), ranges.end(), [](const ChangedRange& a, const ChangedRange& b) {
    return a.start < b.start || (a.start == b.start && a.end < b.end);
  });
  std::vector<ChangedRange> merged;
  for (const ChangedRange& r : ranges) {
    if (!merged.empty() && r.start <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

Result<uint64_t> Client::Insert(const Uuid& uuid, std::span<const RawPoint> points,
                                MergePolicy policy) {
  v5api::InsertParams params;
  params.set_uuid(Bytes(uuid));
  params.set_sync(false);
  params.set_merge_policy(static_cast<v5api::MergePolicy>(policy));
  uint64_t version = 0;
  size_t offset = 0;
  do {
    const size_t n = std::min(kInsertBatchSize, points.size() - offset);
    auto* values = params.mutable_values();
    values->Clear();  // keeps the allocated elements for the next batch
    values->Reserve(static_cast<int>(n));
    for (const RawPoint& p : points.subspan(offset, n)) {
      v5api::RawPoint* w = values->Add();
      w->set_time(p.time);
      w->set_value(p.value);
    }
    grpc::ClientContext context;
    impl_->PrepareUnary(&context);
    v5api::InsertResponse response;
    BTRQ_RETURN_IF_ERROR(
        CheckUnary("Insert", impl_->stub->Insert(&context, params, &response), response));
    version = response.versionmajor();
    offset += n;
  } while (offset < points.size());
  return version;
}

Result<uint64_t> Client::Delete(const Uuid& uuid, int64_t start, int64_t end) {
  v5api::DeleteParams params;
  params.set_uuid(Bytes(uuid));
  params.set_start(start);
  params.set_end(end);
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::DeleteResponse response;
  BTRQ_RETURN_IF_ERROR(
      CheckUnary("Delete", impl_->stub->Delete(&context, params, &response), response));
  return response.versionmajor();
}

Result<uint64_t> Client::Flush(const Uuid& uuid) {
  v5api::FlushParams params;
  params.set_uuid(Bytes(uuid));
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::FlushResponse response;
  BTRQ_RETURN_IF_ERROR(
      CheckUnary("Flush", impl_->stub->Flush(&context, params, &response), response));
  return response.versionmajor();
}

Status Client::Obliterate(const Uuid& uuid) {
  v5api::ObliterateParams params;
  params.set_uuid(Bytes(uuid));
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::ObliterateResponse response;
  return CheckUnary("Obliterate", impl_->stub->Obliterate(&context, params, &response),
                    response);
}

Status Client::GenerateCSV(const CsvQuery& query, const CsvRowSink& sink) {
  v5api::GenerateCSVParams params;
  params.set_querytype(static_cast<v5api::GenerateCSVParams::QueryType>(query.type));
  params.set_starttime(query.start);
  params.set_endtime(query.end);
  params.set_windowsize(query.window_size);
  params.set_depth(query.depth);
  params.set_includeversions(query.include_versions);
  for (const CsvStream& s : query.streams) {
    v5api::StreamCSVConfig* c = params.add_streams();
    c->set_version(s.version);
    c->set_label(s.label);
    c->set_uuid(Bytes(s.uuid));
  }
  grpc::ClientContext context;
  impl_->PrepareStream(&context);
  auto reader = impl_->stub->GenerateCSV(&context, params);
  std::vector<std::string> cells;
  return ReadStream("GenerateCSV", &context, reader.get(),
                    [&](const v5api::GenerateCSVResponse& m) {
                      cells.assign(m.row().begin(), m.row().end());
                      return sink(m.isheader(), std::span<const std::string>(cells));
                    });
}

Result<std::vector<std::string>> Client::SQLQuery(std::string_view query,
                                                  const std::vector<std::string>& params_in) {
  v5api::SQLQueryParams params;
  params.set_query(std::string(query));
  for (const std::string& p : params_in) params.add_params(p);
  grpc::ClientContext context;
  impl_->PrepareStream(&context);
  auto reader = impl_->stub->SQLQuery(&context, params);
  std::vector<std::string> rows;
  BTRQ_RETURN_IF_ERROR(ReadStream("SQLQuery", &context, reader.get(),
                                  [&](const v5api::SQLQueryResponse& m) {
                                    rows.insert(rows.end(), m.sqlqueryrow().begin(),
                                                m.sqlqueryrow().end());
                                    return Status::OK();
                                  }));
  return rows;
}

Result<std::string> Client::FaultInject(uint64_t type, std::string_view params_in) {
  v5api::FaultInjectParams params;
  params.set_type(type);
  params.set_params(std::string(params_in));
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::FaultInjectResponse response;
  BTRQ_RETURN_IF_ERROR(CheckUnary(
      "FaultInject", impl_->stub->FaultInject(&context, params, &response), response));
  return response.rv();
}

Result<MetadataUsage> Client::GetMetadataUsage(std::string_view prefix) {
  v5api::MetadataUsageParams params;
  params.set_prefix(std::string(prefix));
  grpc::ClientContext context;
  impl_->PrepareUnary(&context);
  v5api::MetadataUsageResponse response;
  BTRQ_RETURN_IF_ERROR(CheckUnary(
      "GetMetadataUsage", impl_->stub->GetMetadataUsage(&context, params, &response),
      response));
  MetadataUsage usage;
  for (const v5api::KeyCount& k : response.tags()) usage.tags.emplace_back(k.key(), k.count());
  for (const v5api::KeyCount& k : response.annotations()) {
    usage.annotations.emplace_back(k.key(), k.count());
  }
  return usage;
}

}  // namespace btrq::btrdb
