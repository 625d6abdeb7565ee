#pragma once

// A C++ client of the BTrDB v5 gRPC API (docs/btrdb-api.md): the 20 core RPCs, with
// deadlines on every call, the API key as "authorization: Bearer", TLS as the Python
// client decides it, and every error (in-band Status of every message, or gRPC) mapped
// to one btrq Status by btrdb/status_mapping.h (transient vs permanent).
//
// Deadlines: unary calls get options.call_timeout_ns; server-streaming calls get
// options.stream_timeout_ns for the whole stream, including the time sinks take.
//
// Thread rule: a Client is used by one thread at a time (it reuses decode buffers).
// Several Clients may share one gRPC channel (Client::Share, Client::FromChannel); each
// thread then owns its own Client.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "btrdb/connect_options.h"
#include "common/ids.h"
#include "common/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace btrq::btrdb {

// Valid timestamps are [kMinTime, kMaxTime) nanoseconds since the Unix epoch.
inline constexpr int64_t kMinTime = -(int64_t{16} << 56);
inline constexpr int64_t kMaxTime = int64_t{48} << 56;
// Version 0 in a query means "the latest".
inline constexpr uint64_t kLatestVersion = 0;
// Points per Insert RPC (the Python and Go clients' batch size).
inline constexpr size_t kInsertBatchSize = 50'000;
inline constexpr uint8_t kMaxPointWidth = 63;

struct RawPoint {
  int64_t time = 0;
  double value = 0;
  friend bool operator==(const RawPoint&, const RawPoint&) = default;
};

// One window: time = window start; min/mean/max/stddev are 0 when count is 0.
struct StatPoint {
  int64_t time = 0;
  double min = 0;
  double mean = 0;
  double max = 0;
  uint64_t count = 0;
  double stddev = 0;
  friend bool operator==(const StatPoint&, const StatPoint&) = default;
};

// Tags, annotations and lookup filters: key and optional value, in wire order. In a
// lookup filter a missing value means "key present, any value".
using KeyOptValues = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct StreamDescriptor {
  Uuid uuid;
  std::string collection;
  KeyOptValues tags;         // ordered as received
  KeyOptValues annotations;  // ordered as received
  uint64_t property_version = 0;
};

struct StreamInfo {
  uint64_t version_major = 0;  // 0 when omitted
  uint64_t version_minor = 0;
  std::optional<StreamDescriptor> descriptor;  // absent when omitted
};

// [start, end) in nanoseconds.
struct ChangedRange {
  int64_t start = 0;
  int64_t end = 0;
  friend bool operator==(const ChangedRange&, const ChangedRange&) = default;
};

// What Insert does with a point whose time already exists (wire values 0..3).
enum class MergePolicy { kNever, kEqual, kRetain, kReplace };

struct Info {
  uint32_t major_version = 0;
  uint32_t minor_version = 0;
  std::string build;
  std::vector<std::string> proxy_endpoints;
};

struct MetadataUsage {
  std::vector<std::pair<std::string, uint64_t>> tags;         // key -> streams using it
  std::vector<std::pair<std::string, uint64_t>> annotations;  // key -> streams using it
};

struct CsvStream {
  Uuid uuid;
  uint64_t version = kLatestVersion;
  std::string label;
};

struct CsvQuery {
  enum class Type { kAlignedWindows = 0, kWindows = 1, kRaw = 2 };
  Type type = Type::kRaw;
  int64_t start = 0;
  int64_t end = 0;
  uint64_t window_size = 0;  // pointwidth for kAlignedWindows, ns for kWindows
  uint32_t depth = 0;
  bool include_versions = false;
  std::vector<CsvStream> streams;
};

// Receives one batch of a streamed result (one response message; never empty). The span
// is valid only during the call. Returning a non-OK Status cancels the stream and becomes
// the call's result.
using RawSink = std::function<Status(std::span<const RawPoint>)>;
using StatSink = std::function<Status(std::span<const StatPoint>)>;
using CsvRowSink = std::function<Status(bool is_header, std::span<const std::string> cells)>;

class Client {
 public:
  // Resolves nothing: `options` must already hold endpoints (ResolveConnectOptions).
  // Tries the endpoints in order; the first whose Info answers majorVersion 5 within
  // connect_timeout wins. Unavailable (transient) when none answers, naming each
  // endpoint and its error; FailedPrecondition when a server is not a v5 server.
  static Result<std::unique_ptr<Client>> Connect(const ConnectOptions& options);

  // A client over an existing channel (no liveness check). The channel carries its own
  // transport credentials; a non-empty options.api_key is sent per call as metadata, so
  // use a channel without call credentials. Timeouts come from `options`.
  static std::unique_ptr<Client> FromChannel(std::shared_ptr<grpc::Channel> channel,
                                             const ConnectOptions& options,
                                             std::string endpoint = "");

  // Another client on this client's channel and credentials, for another thread.
  std::unique_ptr<Client> Share() const;

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The endpoint this client talks to ("host:port").
  const std::string& endpoint() const { return endpoint_; }

  Result<Info> GetInfo();

  // Errors: AlreadyExists [417] when the uuid exists.
  Status Create(const Uuid& uuid, std::string_view collection, const KeyOptValues& tags,
                const KeyOptValues& annotations);
  // All collections starting with `prefix`, across every streamed message.
  Result<std::vector<std::string>> ListCollections(std::string_view prefix);
  // Streams whose collection equals (or, with is_prefix, starts with) `collection` and
  // that match every tag and annotation filter.
  Result<std::vector<StreamDescriptor>> LookupStreams(std::string_view collection,
                                                      bool is_prefix,
                                                      const KeyOptValues& tag_filters,
                                                      const KeyOptValues& annotation_filters);
  // Errors: NotFound [404]; InvalidArgument [421] when both parts are omitted.
  Result<StreamInfo> GetStreamInfo(const Uuid& uuid, bool omit_version, bool omit_descriptor);
  // The stream's latest data version.
  Result<uint64_t> Version(const Uuid& uuid);
  // Sets tags (and the collection when non-empty), removes `removals`; fails with
  // FailedPrecondition [423] unless the property version is `expected_property_version`.
  Status SetStreamTags(const Uuid& uuid, uint64_t expected_property_version,
                       const KeyOptValues& tags, std::string_view collection,
                       const std::vector<std::string>& removals);
  Status SetStreamAnnotations(const Uuid& uuid, uint64_t expected_property_version,
                              const KeyOptValues& changes,
                              const std::vector<std::string>& removals);

  // Forward: the first point with t >= time; backward: the last with t < time.
  // nullopt when there is none (BTrDB 401).
  Result<std::optional<RawPoint>> Nearest(const Uuid& uuid, int64_t time, uint64_t version,
                                          bool backward);
  Result<std::optional<RawPoint>> Earliest(const Uuid& uuid, uint64_t version = kLatestVersion);
  Result<std::optional<RawPoint>> Latest(const Uuid& uuid, uint64_t version = kLatestVersion);

  // Points in [start, end) at `version`, in batches (one per response message, no
  // per-point allocation). Returns the version the server answered with.
  Result<uint64_t> RawValues(const Uuid& uuid, int64_t start, int64_t end, uint64_t version,
                             const RawSink& sink);
  // Windows of 2^pointwidth ns; empty windows are omitted by the server.
  Result<uint64_t> AlignedWindows(const Uuid& uuid, int64_t start, int64_t end,
                                  uint64_t version, uint8_t pointwidth, const StatSink& sink);
  // Windows of `width` ns from `start`; empty windows may arrive with count 0.
  Result<uint64_t> Windows(const Uuid& uuid, int64_t start, int64_t end, uint64_t version,
                           uint64_t width, uint32_t depth, const StatSink& sink);
  // Time ranges changed after version `from` up to `to` (0 = latest), sorted, with
  // adjacent and overlapping ranges merged.
  Result<std::vector<ChangedRange>> Changes(const Uuid& uuid, uint64_t from, uint64_t to,
                                            uint32_t resolution);

  // Inserts in batches of kInsertBatchSize, one RPC each (not atomic across batches).
  // Returns the version after the last batch (an empty span returns the current one).
  Result<uint64_t> Insert(const Uuid& uuid, std::span<const RawPoint> points,
                          MergePolicy policy = MergePolicy::kNever);
  // Deletes [start, end); returns the new version.
  Result<uint64_t> Delete(const Uuid& uuid, int64_t start, int64_t end);
  Result<uint64_t> Flush(const Uuid& uuid);
  Status Obliterate(const Uuid& uuid);

  Status GenerateCSV(const CsvQuery& query, const CsvRowSink& sink);
  // Rows as JSON text, one per row.
  Result<std::vector<std::string>> SQLQuery(std::string_view query,
                                            const std::vector<std::string>& params);
  Result<std::string> FaultInject(uint64_t type, std::string_view params);
  Result<MetadataUsage> GetMetadataUsage(std::string_view prefix);

 private:
  struct Impl;
  Client(std::unique_ptr<Impl> impl, std::string endpoint);

  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace btrq::btrdb
