#pragma once

// The typed configuration of every btrq process: plain structs with documented defaults,
// loaded once at start-up by LoadConfig() (YAML file, then environment, then flags) and
// handed to each component by value or const reference. Nothing reads config from a global.
// Durations are int64 nanoseconds. Field names match the YAML keys (config/local.yaml).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace btrq {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };
// auto: TLS when an endpoint's port is 4411 (BTrDB's TLS port), plaintext otherwise.
enum class TlsMode { kAuto, kOn, kOff };

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;  // kJson: one JSON object per line
};

struct BtrdbOptions {
  // Comma-separated host:port list, as BTRDB_ENDPOINTS for the Python client.
  std::string endpoints = "127.0.0.1:4410";
  std::string api_key;       // secret; sent as "authorization: Bearer KEY"
  std::string api_key_file;  // read when api_key is empty (ResolveSecret)
  TlsMode tls = TlsMode::kAuto;
  std::string ca_bundle;     // PEM roots; empty: system roots
  int64_t call_timeout = 30'000'000'000;  // 30s, deadline of every BTrDB call
  // A worker's read that gets no message for this long is cancelled as an outage (the
  // task goes back unattempted); 0: off.
  int64_t read_idle_timeout = 30'000'000'000;
};

struct BrokerOptions {
  std::string control_listen = "127.0.0.1:7400";      // gRPC control API
  std::string tasks_listen = "tcp://127.0.0.1:7401";  // ZeroMQ ROUTER for workers
  std::string http_listen = "127.0.0.1:7402";         // /metrics, /healthz, dashboard
  std::string data_dir = "var/broker";                // journal
  int64_t heartbeat_interval = 1'000'000'000;         // 1s
  uint32_t liveness = 5;              // missed heartbeats before a worker is dead
  int64_t task_timeout = 300'000'000'000;             // 5m lease, renewed by heartbeats
  uint32_t max_attempts = 3;          // default per job
  int64_t retry_backoff = 1'000'000'000;              // 1s, first retry delay
  int64_t retry_backoff_max = 60'000'000'000;         // 1m, cap of the exponential backoff
  uint32_t window = 4096;             // materialised tasks per job
  int64_t max_message_bytes = 16 * 1024 * 1024;
  int64_t journal_sync = 2'000'000;   // 2ms group-commit interval
  std::string control_token;          // secret; bearer token for the control API
  std::string control_token_file;     // read when control_token is empty
  std::string tls_cert;               // control API TLS: both or neither
  std::string tls_key;
  // Secret shared with the sink for lease tokens (common/lease_token.h); empty: none.
  std::string lease_secret_file;
  // Listen beyond loopback without a token or CURVE anyway (common/listen_gate.h).
  bool insecure = false;
};

struct SinkOptions {
  std::string listen = "tcp://127.0.0.1:7411";  // ZeroMQ ROUTER for workers
  std::string control_listen = "127.0.0.1:7410";
  std::string http_listen = "127.0.0.1:7412";
  std::string data_dir = "var/sink";
  int64_t commit_interval = 2'000'000;  // 2ms group commit
  uint32_t commit_max_batch = 4096;
  int64_t max_message_bytes = 16 * 1024 * 1024;
  std::string control_token;       // secret; bearer token for the results API
  std::string control_token_file;  // read when control_token is empty
  std::string tls_cert;            // results API TLS: both or neither
  std::string tls_key;
  // Secret shared with the broker: results need a valid lease token; empty: not checked.
  std::string lease_secret_file;
  // Listen beyond loopback without a token, CURVE or lease secret anyway.
  bool insecure = false;
};

struct WorkerOptions {
  std::string broker = "tcp://127.0.0.1:7401";
  std::string sink = "tcp://127.0.0.1:7411";
  uint32_t threads = 0;               // 0: two per hardware thread
  uint32_t credit = 0;                // 0: threads * 2
  // As many as the sink's commit_max_batch: one worker alone can fill a group commit.
  uint32_t max_unacked_results = 4096;
  int64_t heartbeat_interval = 1'000'000'000;  // 1s
  std::string http_listen;            // empty: no HTTP endpoint
  uint32_t batch_results = 64;
  // `exec.commands`: programs the exec analytic may run, absolute paths or fnmatch
  // patterns (analytics/exec_policy.h). Empty: exec is off.
  std::vector<std::string> exec_commands;
  // `python.*`: the `python` analytic's interpreters (analytics/python.h). No modules: off.
  struct Python {
    std::string interpreter = "/usr/bin/python3";
    std::vector<std::string> path;      // directories put on the import path
    std::vector<std::string> modules;   // module name patterns a job may name
    uint32_t memory_limit_mb = 8192;    // address space of each interpreter; 0: none
  } python;
};

struct CurveOptions {
  bool enabled = false;
  std::string public_key;            // Z85, this process's key
  std::string secret_key;            // secret; Z85
  std::string secret_key_file;       // read when secret_key is empty
  std::string broker_public_key;     // workers: the broker's key
  std::string sink_public_key;       // workers: the sink's key
  std::string authorized_keys_file;  // broker and sink: worker public keys, one per line
};

struct ControlOptions {
  std::string broker = "127.0.0.1:7400";  // what the CLI talks to
  std::string sink = "127.0.0.1:7410";
  std::string token;       // secret
  std::string token_file;  // read when token is empty
  bool tls = false;        // TLS to both APIs, verified with the system roots...
  std::string tls_ca;      // ...or with this PEM file of CAs (setting it turns TLS on)
};

struct BtrqConfig {
  LogOptions log;
  BtrdbOptions btrdb;
  BrokerOptions broker;
  SinkOptions sink;
  WorkerOptions worker;
  CurveOptions curve;
  ControlOptions control;
};

// Declares every field of `config` on `binder` (the schema). `config` must outlive `binder`.
void BindConfig(BtrqConfig* config, ConfigBinder* binder);

// Cross-field rules (positive intervals, backoff <= max, TLS cert with key, CURVE keys when
// enabled); errors name where the offending value came from.
// REQUIRES: `binder` was filled by BindConfig(&config, ...) for this very `config`.
Status ValidateConfig(const BtrqConfig& config, const ConfigBinder& binder);

// Defaults, then the YAML file at `path_or_empty` (skipped when empty), then environment
// (BTRDB_ENDPOINTS, BTRDB_API_KEY, then BTRQ_<SECTION>_<KEY>), then `set_flags`, each
// "section.key=value" as given to --set; then ValidateConfig. On success fills `*out` and,
// when `rendered` is not null, the effective config as YAML with origins, secrets redacted.
// Errors are kInvalidArgument naming file:line, variable or flag, and the key.
Status LoadConfig(const std::string& path_or_empty, const Env& env,
                  const std::vector<std::string>& set_flags, BtrqConfig* out,
                  std::string* rendered = nullptr);

// As LoadConfig, with flags already parsed: components map dedicated flags (--threads 8)
// onto keys as ConfigOverride{"worker.threads", "8", "flag --threads"}.
Status LoadConfigWithOverrides(const std::string& path_or_empty, const Env& env,
                               const std::vector<ConfigOverride>& overrides, BtrqConfig* out,
                               std::string* rendered = nullptr);

// `config` as YAML, secrets redacted (without origins: use LoadConfig's `rendered` for those).
std::string RenderConfig(const BtrqConfig& config, bool docs = true);

// The secret itself: `value` when non-empty, else the contents of `file` with trailing
// whitespace removed, else "". `what` names the option in errors ("btrdb.api_key_file").
Result<std::string> ResolveSecret(const std::string& value, const std::string& file,
                                  std::string_view what);

// "a:1, b:2" -> {"a:1", "b:2"}.
std::vector<std::string> SplitEndpoints(std::string_view endpoints);

// Whether BTrDB connections use TLS: on/off as set; auto when any endpoint's port is 4411.
bool BtrdbUsesTls(const BtrdbOptions& options);

std::string_view LogLevelName(LogLevel level);

}  // namespace btrq
