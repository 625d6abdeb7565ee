#pragma once

// How a BTrDB client finds its server: endpoints, API key, TLS. Resolution follows the
// BTrDB Python client (btrdb.connect): explicit arguments win over the environment
// (BTRDB_ENDPOINTS, BTRDB_API_KEY), which wins over the credentials file profile
// (~/.predictivegrid/credentials.yaml, section <profile>.btrdb).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace btrq::btrdb {

class RpcObserver;  // btrdb/rpc_observer.h

// Looks up an environment variable; nullopt when unset. Injected so tests need not touch
// the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real environment (std::getenv). Thread-safe as long as nobody calls setenv.
EnvLookup ProcessEnv();

struct ConnectOptions {
  enum class Tls { kAuto, kOn, kOff };

  // "host:port" in the order to try. Resolution also accepts one comma-separated string
  // (BTRDB_ENDPOINTS="a:4410,b:4410").
  std::vector<std::string> endpoints;
  // Sent as "authorization: Bearer <api_key>" when non-empty. Never logged, never put in
  // a Status message.
  std::string api_key;
  // Credentials-file profile; empty = $BTRDB_PROFILE, else "default".
  std::string profile;
  // kAuto: TLS exactly when the port is 4411 (as the Python client decides).
  Tls tls = Tls::kAuto;
  // PEM file with the CA certificates that verify the server; empty = $BTRDB_CA_BUNDLE,
  // else gRPC's built-in roots.
  std::string ca_bundle;
  // Deadline of every unary call.
  int64_t call_timeout_ns = 30'000'000'000;
  // Deadline of a whole server-streaming call (RawValues, windows, Changes, ...),
  // including the time the caller's sink spends on each batch.
  int64_t stream_timeout_ns = 300'000'000'000;
  // Longest a point stream (RawValues, AlignedWindows, Windows) may wait for its next
  // message before it is cancelled as stalled (Unavailable: the server is frozen or the
  // link is gone); 0: only stream_timeout applies.
  int64_t stream_idle_timeout_ns = 0;
  // Deadline of Connect's liveness check (Info) on each endpoint.
  int64_t connect_timeout_ns = 5'000'000'000;
  // Told about every RPC of clients made from these options (metrics); null: nobody.
  std::shared_ptr<RpcObserver> observer;
};

// Fills endpoints, api_key and ca_bundle of `explicit_opts` where they are empty, from
// `env` and from the credentials file ($HOME/.predictivegrid/credentials.yaml, read
// through `env("HOME")`). Per field: explicit, then BTRDB_ENDPOINTS / BTRDB_API_KEY /
// BTRDB_CA_BUNDLE, then the profile. Errors: InvalidArgument when no endpoint is found,
// an endpoint is not "host:port", or the file is not valid YAML; NotFound when a profile
// other than "default" was asked for (explicitly or by BTRDB_PROFILE) and is absent.
// A missing file or missing "default" profile is not an error.
Result<ConnectOptions> ResolveConnectOptions(const ConnectOptions& explicit_opts,
                                             const EnvLookup& env);

// Splits "a:1, b:2,," into {"a:1", "b:2"}.
std::vector<std::string> SplitEndpoints(std::string_view text);

// How one endpoint will be dialled.
struct EndpointPlan {
  std::string target;  // as given to gRPC
  bool tls = false;
};

// Decides TLS for `endpoint` under `tls`. InvalidArgument if the endpoint is not
// "host:port" with a numeric port ("[v6addr]:port" is accepted).
Result<EndpointPlan> PlanEndpoint(std::string_view endpoint, ConnectOptions::Tls tls);

}  // namespace btrq::btrdb
