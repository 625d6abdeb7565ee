#pragma once

// The StreamCatalog over a real BTrDB (btrdb::Client): which streams a job covers and
// each stream's pin: version, extent and the stream params analytics read from the
// stream's annotations (StreamParamsFromAnnotations), all from one pin's calls.
//
// Calls:
//   ListStreams   LookupStreams (collection, prefix, tag and annotation filters), or for
//                 an explicit UUID list one StreamInfo per stream (a missing stream is a
//                 permanent NotFound naming it). A collection matching nothing is a
//                 permanent NotFound: "collection 'x' (prefix) matches no stream".
//   PinStream     StreamInfo (version + annotations), then Nearest forward/backward
//                 (earliest/latest point) at the pinned version: three calls.
//
// The client connects lazily, so the broker starts while BTrDB is away; connection
// failures are Unavailable (transient: the scheduler retries later). Every call carries
// the options' deadline.
//
// Thread rule: one thread uses a catalog (the broker gives each catalog-runner thread
// its own).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "btrdb/client.h"
#include "btrdb/connect_options.h"
#include "broker/stream_catalog.h"
#include "common/messages.h"
#include "common/options.h"
#include "common/status.h"

namespace btrq::broker {

// The connect options a broker process uses towards BTrDB, from its config: endpoints,
// API key (api_key or api_key_file), TLS, CA bundle, call deadline. Streaming calls get
// max(call_timeout, 60s); connecting gets min(call_timeout, 5s).
Result<btrdb::ConnectOptions> BrokerConnectOptions(const BtrdbOptions& options);

// The stream params: the annotations StreamParamsFromAnnotations reads, and the params
// they become in a pin (and so in every task of the stream). Adding one here pins it.
// The annotation a stream's nominal rate (Hz) is read from, and the param it becomes.
inline constexpr char kRateAnnotation[] = "rate";
inline constexpr char kRateParam[] = "rate";
// The annotations of a stream's declared value bounds, and the params they become
// (`quality` counts finite values outside [min, max] as out_of_range).
inline constexpr char kMinAnnotation[] = "min";
inline constexpr char kMaxAnnotation[] = "max";
inline constexpr char kMinParam[] = "min";
inline constexpr char kMaxParam[] = "max";

class BtrdbCatalog final : public StreamCatalog {
 public:
  // Connects nothing yet. InvalidArgument when `options` has no endpoint.
  static Result<std::unique_ptr<BtrdbCatalog>> Create(const btrdb::ConnectOptions& options);

  Result<std::vector<StreamRef>> ListStreams(const JobSpec& spec) override;
  Result<StreamPin> PinStream(const Uuid& uuid, uint64_t requested_version) override;

 private:
  explicit BtrdbCatalog(const btrdb::ConnectOptions& options) : options_(options) {}
  Result<btrdb::Client*> client();
  // Drops the connection after a transient error so the next call reconnects.
  void OnError(const Status& status);

  const btrdb::ConnectOptions options_;
  std::unique_ptr<btrdb::Client> client_;
};

// The `rate` annotation of a descriptor as Hz, when present and a number in (0, 1e9].
std::optional<double> RateFromAnnotations(const btrdb::KeyOptValues& annotations);

// The params a stream's annotations give, as doubles, in this order: ("rate", Hz) when
// RateFromAnnotations() has one; ("min", v) and ("max", v) when the annotation is a
// finite number (the whole text, as std::from_chars reads it). When both bounds are
// valid but min > max, neither is given. Invalid annotations are left out.
Fields StreamParamsFromAnnotations(const btrdb::KeyOptValues& annotations);

}  // namespace btrq::broker
