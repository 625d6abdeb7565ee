#pragma once

// The StreamCatalog over a real BTrDB (btrdb::Client): which streams a job covers and
// each stream's pinned version and extent, plus the stream parameters the broker adds to
// tasks from the streams' annotations (`rate` in Hz, `min`, `max`; each only when the
// job's params do not have it: the job's params win).
//
// Calls:
//   ListStreams   LookupStreams (collection, prefix, tag and annotation filters), or for
//                 an explicit UUID list one StreamInfo per stream (a missing stream is a
//                 permanent NotFound naming it). A collection matching nothing is a
//                 permanent NotFound: "collection 'x' (prefix) matches no stream".
//   PinStream     StreamInfo (version + annotations), then Nearest forward/backward
//                 (earliest/latest point) at the pinned version: three calls.
//   AddStreamParams  nothing when the stream was listed or pinned by this process (the
//                 annotations are cached); otherwise one StreamInfo (after a restart).
//
// The client connects lazily, so the broker starts while BTrDB is away; connection
// failures are Unavailable (transient: the scheduler retries later). Every call carries
// the options' deadline.
//
// Thread rule: one thread (the dispatcher's) uses a catalog.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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

  // Appends to task->params each of StreamParamsFromAnnotations() of the task's stream
  // whose name the params do not have yet. Returns the error of the StreamInfo call when
  // the annotations were not cached and BTrDB failed; the task is then left unchanged.
  Status AddStreamParams(TaskSpec* task);

  // Streams whose annotation params are cached so far (streams listed or pinned).
  size_t cached_streams() const { return stream_params_.size(); }

 private:
  explicit BtrdbCatalog(const btrdb::ConnectOptions& options) : options_(options) {}
  Result<btrdb::Client*> client();
  // Drops the connection after a transient error so the next call reconnects.
  void OnError(const Status& status);
  void Remember(const btrdb::StreamDescriptor& descriptor);

  const btrdb::ConnectOptions options_;
  std::unique_ptr<btrdb::Client> client_;
  // Stream -> the params its annotations give (StreamParamsFromAnnotations).
  std::unordered_map<Uuid, Fields> stream_params_;
};

// The `rate` annotation of a descriptor as Hz, when present and a number in (0, 1e9].
std::optional<double> RateFromAnnotations(const btrdb::KeyOptValues& annotations);

// The params a stream's annotations give, as doubles, in this order: ("rate", Hz) when
// RateFromAnnotations() has one; ("min", v) and ("max", v) when the annotation is a
// finite number (the whole text, as std::from_chars reads it). When both bounds are
// valid but min > max, neither is given. Invalid annotations are left out.
Fields StreamParamsFromAnnotations(const btrdb::KeyOptValues& annotations);

}  // namespace btrq::broker
