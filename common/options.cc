#include "common/options.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/clock.h"
#include "common/file_util.h"

namespace btrq {

namespace {

// The schema, one function per section (or two small ones), in the order Render() prints.
void BindLogAndBtrdb(BtrqConfig* c, ConfigBinder* b) {
  b->Section("log", "Logging (spdlog to stderr).")
      .Enum("level", &c->log.level,
            {{"trace", LogLevel::kTrace},
             {"debug", LogLevel::kDebug},
             {"info", LogLevel::kInfo},
             {"warn", LogLevel::kWarn},
             {"error", LogLevel::kError}},
            "Lowest level written")
      .Enum("format", &c->log.format, {{"text", LogFormat::kText}, {"json", LogFormat::kJson}},
            "text, or one JSON object per line");

  BtrdbOptions& d = c->btrdb;
  b->Section("btrdb", "The BTrDB cluster that workers read and the broker expands jobs from.")
      .String("endpoints", &d.endpoints, "host:port of BTrDB, comma-separated for several")
      .String("api_key", &d.api_key, "API key sent as a bearer token").Secret()
      .String("api_key_file", &d.api_key_file, "File holding the API key, when api_key is empty")
      .Enum("tls", &d.tls, {{"auto", TlsMode::kAuto}, {"on", TlsMode::kOn}, {"off", TlsMode::kOff}},
            "TLS towards BTrDB; auto means on for port 4411")
      .String("ca_bundle", &d.ca_bundle, "PEM file of trusted roots; empty: system roots")
      .Duration("call_timeout", &d.call_timeout, "Deadline of each BTrDB call")
      .Duration("read_idle_timeout", &d.read_idle_timeout,
                "A worker's read with no message for this long is an outage; 0: off");
}

// The bearer token and TLS keys of a gRPC API (`api`: "control API"), keys the broker's
// and the sink's sections share (`Options`: BrokerOptions, SinkOptions).
template <typename Options>
ConfigBinder::SectionBuilder& BindApiAccess(Options* o, const std::string& api,
                                            ConfigBinder::SectionBuilder* section) {
  return section
      ->String("control_token", &o->control_token, "Bearer token required by the " + api)
      .Secret()
      .String("control_token_file", &o->control_token_file,
              "File holding the control token, when control_token is empty")
      .String("tls_cert", &o->tls_cert, "PEM certificate of the " + api + " (with tls_key)")
      .String("tls_key", &o->tls_key, "PEM private key of the " + api + " (with tls_cert)");
}

void BindBroker(BtrqConfig* c, ConfigBinder* b) {
  BrokerOptions& k = c->broker;
  ConfigBinder::SectionBuilder section =
      b->Section("broker", "btrq-broker: jobs, dispatch, leases, journal.");
  section
      .String("control_listen", &k.control_listen, "gRPC control API address")
      .String("tasks_listen", &k.tasks_listen, "ZeroMQ ROUTER endpoint workers connect to")
      .String("http_listen", &k.http_listen, "HTTP address for /metrics, /healthz, dashboard")
      .String("data_dir", &k.data_dir, "Directory of the journal")
      .Duration("heartbeat_interval", &k.heartbeat_interval, "Heartbeat period with workers")
      .Uint32("liveness", &k.liveness, "Missed heartbeats before a worker is declared dead")
      .Duration("task_timeout", &k.task_timeout, "Lease of a dispatched task, renewed by heartbeats")
      .Uint32("max_attempts", &k.max_attempts, "Attempts per task before dead-lettering (default)")
      .Duration("retry_backoff", &k.retry_backoff, "First retry delay; doubles with jitter")
      .Duration("retry_backoff_max", &k.retry_backoff_max, "Cap of the retry delay")
      .Uint32("window", &k.window, "Materialised (expanded, not yet done) tasks per job")
      .Int64("max_message_bytes", &k.max_message_bytes, "Largest ZeroMQ message accepted")
      .Duration("journal_sync", &k.journal_sync, "Journal group-commit interval");
  BindApiAccess(&k, "control API", &section)
      .String("lease_secret_file", &k.lease_secret_file,
              "File of the secret shared with the sink that signs lease tokens")
      .Bool("insecure", &k.insecure,
            "Start even when listening beyond loopback without control token or CURVE");
}

void BindSinkAndWorker(BtrqConfig* c, ConfigBinder* b) {
  SinkOptions& s = c->sink;
  ConfigBinder::SectionBuilder section =
      b->Section("sink", "btrq-sink: durable, de-duplicated results.");
  section
      .String("listen", &s.listen, "ZeroMQ ROUTER endpoint workers send results to")
      .String("control_listen", &s.control_listen, "gRPC results API address")
      .String("http_listen", &s.http_listen, "HTTP address for /metrics and /healthz")
      .String("data_dir", &s.data_dir, "Directory of the result store")
      .Duration("commit_interval", &s.commit_interval, "Group-commit interval before ACKs")
      .Uint32("commit_max_batch", &s.commit_max_batch, "Most results per group commit")
      .Int64("max_message_bytes", &s.max_message_bytes, "Largest ZeroMQ message accepted");
  BindApiAccess(&s, "results API", &section)
      .String("lease_secret_file", &s.lease_secret_file,
              "File of the secret shared with the broker; results need a valid lease token")
      .Bool("insecure", &s.insecure,
            "Start even when listening beyond loopback without token, CURVE or lease secret");

  WorkerOptions& w = c->worker;
  b->Section("worker", "btrq-worker: executors running analytics.")
      .String("broker", &w.broker, "Broker task endpoint (ZeroMQ)")
      .String("sink", &w.sink, "Sink result endpoint (ZeroMQ)")
      .Uint32("threads", &w.threads, "Executor threads; 0: hardware threads")
      .Uint32("credit", &w.credit, "Tasks held at once; 0: threads * 2")
      .Uint32("max_unacked_results", &w.max_unacked_results,
              "Results awaiting the sink's ACK before the worker stops taking tasks")
      .Duration("heartbeat_interval", &w.heartbeat_interval, "Heartbeat period to the broker")
      .String("http_listen", &w.http_listen, "HTTP address for /metrics; empty: off")
      .Uint32("batch_results", &w.batch_results, "Results per message to the sink")
      .StringList("exec.commands", &w.exec_commands,
                  "Programs the exec analytic may run (absolute paths or patterns); "
                  "empty: exec is off")
      .String("python.interpreter", &w.python.interpreter,
              "The python analytic's interpreter (a virtualenv's python works)")
      .StringList("python.path", &w.python.path,
                  "Directories put on the python analytic's import path")
      .StringList("python.modules", &w.python.modules,
                  "Modules the python analytic may run (names or patterns, e.g. qa, "
                  "\"mylab.*\"); empty: python is off")
      .Uint32("python.memory_limit_mb", &w.python.memory_limit_mb,
              "Address space of each Python interpreter, MiB; 0: unlimited");
}

void BindCurveAndControl(BtrqConfig* c, ConfigBinder* b) {
  CurveOptions& z = c->curve;
  b->Section("curve", "CurveZMQ on the worker links (keys from `btrq keygen`, Z85).")
      .Bool("enabled", &z.enabled, "Encrypt and authenticate ZeroMQ links")
      .String("public_key", &z.public_key, "This process's public key")
      .String("secret_key", &z.secret_key, "This process's secret key").Secret()
      .String("secret_key_file", &z.secret_key_file, "File holding the secret key")
      .String("broker_public_key", &z.broker_public_key, "Workers: the broker's public key")
      .String("sink_public_key", &z.sink_public_key, "Workers: the sink's public key")
      .String("authorized_keys_file", &z.authorized_keys_file,
              "Broker and sink: worker public keys allowed, one per line");

  ControlOptions& t = c->control;
  b->Section("control", "What the btrq CLI talks to.")
      .String("broker", &t.broker, "Broker control API address")
      .String("sink", &t.sink, "Sink results API address")
      .String("token", &t.token, "Bearer token for both APIs").Secret()
      .String("token_file", &t.token_file, "File holding the token, when token is empty")
      .Bool("tls", &t.tls, "TLS to both APIs, verified with the system's trusted roots")
      .String("tls_ca", &t.tls_ca, "PEM file of the CAs that signed the APIs' certificates; "
              "setting it turns TLS on");
}

}  // namespace

void BindConfig(BtrqConfig* c, ConfigBinder* b) {
  BindLogAndBtrdb(c, b);
  BindBroker(c, b);
  BindSinkAndWorker(c, b);
  BindCurveAndControl(c, b);
}

namespace {

Status RequirePositive(const ConfigBinder& b, const int64_t& v) {
  if (v <= 0) return b.FieldError(&v, "must be greater than zero");
  return Status::OK();
}

Status RequireNonNegative(const ConfigBinder& b, const int64_t& v) {
  if (v < 0) return b.FieldError(&v, "must not be negative");
  return Status::OK();
}

Status RequireAtLeastOne(const ConfigBinder& b, const uint32_t& v) {
  if (v == 0) return b.FieldError(&v, "must be at least 1");
  return Status::OK();
}

Status RequireBothOrNeither(const ConfigBinder& b, const std::string& x, const std::string& y,
                            std::string_view other) {
  if (x.empty() != y.empty()) {
    return b.FieldError(x.empty() ? &y : &x, "needs " + std::string(other) + " as well");
  }
  return Status::OK();
}

}  // namespace

Status ValidateConfig(const BtrqConfig& c, const ConfigBinder& b) {
  if (SplitEndpoints(c.btrdb.endpoints).empty()) {
    return b.FieldError(&c.btrdb.endpoints, "at least one host:port is needed");
  }
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, c.btrdb.call_timeout));
  BTRQ_RETURN_IF_ERROR(RequireNonNegative(b, c.btrdb.read_idle_timeout));

  const BrokerOptions& k = c.broker;
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, k.heartbeat_interval));
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, k.liveness));
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, k.task_timeout));
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, k.max_attempts));
  BTRQ_RETURN_IF_ERROR(RequireNonNegative(b, k.retry_backoff));
  if (k.retry_backoff_max < k.retry_backoff) {
    return b.FieldError(&k.retry_backoff_max, "must be at least broker.retry_backoff");
  }
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, k.window));
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, k.max_message_bytes));
  BTRQ_RETURN_IF_ERROR(RequireNonNegative(b, k.journal_sync));
  BTRQ_RETURN_IF_ERROR(RequireBothOrNeither(b, k.tls_cert, k.tls_key, "broker.tls_cert and broker.tls_key"));

  const SinkOptions& s = c.sink;
  BTRQ_RETURN_IF_ERROR(RequireNonNegative(b, s.commit_interval));
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, s.commit_max_batch));
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, s.max_message_bytes));
  BTRQ_RETURN_IF_ERROR(RequireBothOrNeither(b, s.tls_cert, s.tls_key, "sink.tls_cert and sink.tls_key"));

  const WorkerOptions& w = c.worker;
  BTRQ_RETURN_IF_ERROR(RequirePositive(b, w.heartbeat_interval));
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, w.max_unacked_results));
  BTRQ_RETURN_IF_ERROR(RequireAtLeastOne(b, w.batch_results));

  const CurveOptions& z = c.curve;
  if (z.enabled) {
    // curve.public_key may be left out: it follows from the secret key, and when given it
    // must match it (checked where the key pair is read, common/zap.cc CurveKeyPairFrom).
    if (z.secret_key.empty() && z.secret_key_file.empty()) {
      return b.FieldError(&z.enabled, "true requires curve.secret_key or curve.secret_key_file");
    }
  }
  return Status::OK();
}

Status LoadConfigWithOverrides(const std::string& path_or_empty, const Env& env,
                               const std::vector<ConfigOverride>& overrides, BtrqConfig* out,
                               std::string* rendered) {
  BtrqConfig config;
  ConfigBinder binder(SystemClock::Default());
  BindConfig(&config, &binder);
  if (!path_or_empty.empty()) BTRQ_RETURN_IF_ERROR(binder.LoadYamlFile(path_or_empty));
  // The Python client's variables first, so BTRQ_BTRDB_* (more specific) wins over them.
  BTRQ_RETURN_IF_ERROR(binder.ApplyEnvAlias(env, "BTRDB_ENDPOINTS", "btrdb.endpoints"));
  BTRQ_RETURN_IF_ERROR(binder.ApplyEnvAlias(env, "BTRDB_API_KEY", "btrdb.api_key"));
  BTRQ_RETURN_IF_ERROR(binder.ApplyEnv(env, "BTRQ"));
  for (const ConfigOverride& o : overrides) BTRQ_RETURN_IF_ERROR(binder.ApplyOverride(o));
  BTRQ_RETURN_IF_ERROR(binder.CheckRequired());
  BTRQ_RETURN_IF_ERROR(ValidateConfig(config, binder));
  if (rendered != nullptr) *rendered = binder.Render();
  *out = std::move(config);
  return Status::OK();
}

Status LoadConfig(const std::string& path_or_empty, const Env& env,
                  const std::vector<std::string>& set_flags, BtrqConfig* out,
                  std::string* rendered) {
  std::vector<ConfigOverride> overrides;
  for (const std::string& flag : set_flags) {
    BTRQ_ASSIGN_OR_RETURN(ConfigOverride o, ParseSetFlag(flag));
    overrides.push_back(std::move(o));
  }
  return LoadConfigWithOverrides(path_or_empty, env, overrides, out, rendered);
}

std::string RenderConfig(const BtrqConfig& config, bool docs) {
  BtrqConfig copy = config;
  ConfigBinder binder(SystemClock::Default());
  BindConfig(&copy, &binder);
  RenderOptions options;
  options.docs = docs;
  options.origins = false;
  return binder.Render(options);
}

Result<std::string> ResolveSecret(const std::string& value, const std::string& file,
                                  std::string_view what) {
  if (!value.empty() || file.empty()) return value;
  Result<std::string> read = ReadFileToString(file);
  if (!read.ok()) {
    return Status::InvalidArgument(std::string(what) + ": cannot read " + file + ": " +
                                   std::strerror(read.status().subcode()));
  }
  std::string text = std::move(*read);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  if (text.empty()) return Status::InvalidArgument(std::string(what) + ": " + file + " is empty");
  return text;
}

std::vector<std::string> SplitEndpoints(std::string_view endpoints) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= endpoints.size()) {
    size_t comma = endpoints.find(',', start);
    if (comma == std::string_view::npos) comma = endpoints.size();
    std::string_view item = endpoints.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

bool BtrdbUsesTls(const BtrdbOptions& options) {
  switch (options.tls) {
    case TlsMode::kOn: return true;
    case TlsMode::kOff: return false;
    case TlsMode::kAuto: break;
  }
  for (const std::string& endpoint : SplitEndpoints(options.endpoints)) {
    const size_t colon = endpoint.rfind(':');
    if (colon != std::string::npos && endpoint.substr(colon + 1) == "4411") return true;
  }
  return false;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace btrq
