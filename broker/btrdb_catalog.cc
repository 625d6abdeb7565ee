#include "broker/btrdb_catalog.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace btrq::broker {
namespace {

constexpr int64_t kMinStreamTimeoutNs = 60'000'000'000;
constexpr int64_t kMaxConnectTimeoutNs = 5'000'000'000;

btrdb::KeyOptValues Filters(const std::map<std::string, std::optional<std::string>>& filters) {
  return btrdb::KeyOptValues(filters.begin(), filters.end());
}

// The annotation `key` as a finite double when its whole value is a number.
std::optional<double> NumberAnnotation(const btrdb::KeyOptValues& annotations,
                                       std::string_view key) {
  for (const auto& [k, value] : annotations) {
    if (k != key || !value) continue;
    const std::string& text = *value;
    double v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

}  // namespace

Result<btrdb::ConnectOptions> BrokerConnectOptions(const BtrdbOptions& options) {
  btrdb::ConnectOptions out;
  out.endpoints = btrdb::SplitEndpoints(options.endpoints);
  if (out.endpoints.empty()) {
    return Status::InvalidArgument("btrdb.endpoints: no BTrDB endpoint configured");
  }
  BTRQ_ASSIGN_OR_RETURN(out.api_key,
                        ResolveSecret(options.api_key, options.api_key_file,
                                      "btrdb.api_key_file"));
  switch (options.tls) {
    case TlsMode::kAuto: out.tls = btrdb::ConnectOptions::Tls::kAuto; break;
    case TlsMode::kOn: out.tls = btrdb::ConnectOptions::Tls::kOn; break;
    case TlsMode::kOff: out.tls = btrdb::ConnectOptions::Tls::kOff; break;
  }
  out.ca_bundle = options.ca_bundle;
  out.call_timeout_ns = options.call_timeout;
  out.stream_timeout_ns = std::max(options.call_timeout, kMinStreamTimeoutNs);
  out.connect_timeout_ns = std::min(options.call_timeout, kMaxConnectTimeoutNs);
  return out;
}

std::optional<double> RateFromAnnotations(const btrdb::KeyOptValues& annotations) {
  const std::optional<double> hz = NumberAnnotation(annotations, kRateAnnotation);
  if (!hz || *hz <= 0 || *hz > 1e9) return std::nullopt;
  return hz;
}

Fields StreamParamsFromAnnotations(const btrdb::KeyOptValues& annotations) {
  Fields out;
  if (const std::optional<double> hz = RateFromAnnotations(annotations)) {
    out.emplace_back(kRateParam, FieldValue(*hz));
  }
  const std::optional<double> min = NumberAnnotation(annotations, kMinAnnotation);
  const std::optional<double> max = NumberAnnotation(annotations, kMaxAnnotation);
  if (min && max && *min > *max) return out;
  if (min) out.emplace_back(kMinParam, FieldValue(*min));
  if (max) out.emplace_back(kMaxParam, FieldValue(*max));
  return out;
}

Result<std::unique_ptr<BtrdbCatalog>> BtrdbCatalog::Create(const btrdb::ConnectOptions& options) {
  if (options.endpoints.empty()) {
    return Status::InvalidArgument("BTrDB catalog: no endpoint configured");
  }
  return std::unique_ptr<BtrdbCatalog>(new BtrdbCatalog(options));
}

Result<btrdb::Client*> BtrdbCatalog::client() {
  if (!client_) {
    auto connected = btrdb::Client::Connect(options_);
    if (!connected.ok()) return connected.status();
    client_ = std::move(connected).value();
  }
  return client_.get();
}

void BtrdbCatalog::OnError(const Status& status) {
  if (status.IsTransient()) client_.reset();
}

Result<std::vector<StreamRef>> BtrdbCatalog::ListStreams(const JobSpec& spec) {
  BTRQ_ASSIGN_OR_RETURN(btrdb::Client * c, client());
  std::vector<StreamRef> out;
  if (!spec.streams.empty()) {
    out.reserve(spec.streams.size());
    for (const Uuid& u : spec.streams) {
      auto info = c->GetStreamInfo(u, /*omit_version=*/true, /*omit_descriptor=*/false);
      if (!info.ok()) {
        OnError(info.status());
        if (info.status().code() == StatusCode::kNotFound) {
          return Status(StatusCode::kNotFound, "stream " + u.ToString() + " does not exist",
                        info.status().subcode());
        }
        return info.status().WithContext("StreamInfo of " + u.ToString());
      }
      out.push_back(StreamRef{u});
    }
    return out;
  }
  auto found = c->LookupStreams(spec.collection, spec.collection_prefix, Filters(spec.tags),
                                Filters(spec.annotations));
  if (!found.ok()) {
    OnError(found.status());
    return found.status().WithContext("LookupStreams of collection '" + spec.collection + "'");
  }
  if (found->empty()) {
    std::string what = "collection '" + spec.collection + "'";
    if (spec.collection_prefix) what += " (prefix)";
    if (!spec.tags.empty() || !spec.annotations.empty()) what += " with the given filters";
    return Status::NotFound(what + " matches no stream");
  }
  // LookupStreams answers in no particular order; sort so that expansion (and the
  // journaled stream list) is the same in every run.
  std::sort(found->begin(), found->end(),
            [](const btrdb::StreamDescriptor& a, const btrdb::StreamDescriptor& b) {
              return a.uuid < b.uuid;
            });
  out.reserve(found->size());
  for (const btrdb::StreamDescriptor& d : *found) out.push_back(StreamRef{d.uuid});
  return out;
}

Result<StreamPin> BtrdbCatalog::PinStream(const Uuid& uuid, uint64_t requested_version) {
  BTRQ_ASSIGN_OR_RETURN(btrdb::Client * c, client());
  const auto fail = [&](const Status& s, std::string_view what) {
    OnError(s);
    if (s.code() == StatusCode::kNotFound && what == "StreamInfo") {
      return Status(StatusCode::kNotFound, "stream " + uuid.ToString() + " does not exist",
                    s.subcode());
    }
    return s.WithContext(std::string(what));
  };
  auto info = c->GetStreamInfo(uuid, /*omit_version=*/false, /*omit_descriptor=*/false);
  if (!info.ok()) return fail(info.status(), "StreamInfo");
  StreamPin pin;
  pin.version = requested_version != 0 ? requested_version : info->version_major;
  // Taken with the version, journaled with it: the params a task gets never depend on
  // whether BTrDB answers at dispatch.
  if (info->descriptor) pin.params = StreamParamsFromAnnotations(info->descriptor->annotations);
  auto earliest = c->Earliest(uuid, pin.version);
  if (!earliest.ok()) return fail(earliest.status(), "Nearest (earliest point)");
  if (!earliest->has_value()) return pin;  // no data at that version
  auto latest = c->Latest(uuid, pin.version);
  if (!latest.ok()) return fail(latest.status(), "Nearest (latest point)");
  if (!latest->has_value()) return pin;
  pin.has_data = true;
  pin.earliest = (*earliest)->time;
  pin.latest = (*latest)->time;
  return pin;
}

}  // namespace btrq::broker
