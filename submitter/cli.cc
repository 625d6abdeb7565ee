#include "submitter/cli.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/ids.h"
#include "common/options.h"
#include "common/time_util.h"
#include "submitter/broker_client.h"
#include "submitter/commands.h"
#include "submitter/demo.h"
#include "submitter/job_file.h"
#include "submitter/job_spec.h"

namespace btrq::submitter {
namespace {

// Variables the CLI reads itself. Hidden from the config loader: BTRQ_BROKER and
// BTRQ_SINK would otherwise read as misspelt BTRQ_BROKER_* / BTRQ_SINK_* keys.
bool CliOwnedVariable(const std::string& name) {
  return name == "BTRQ_BROKER" || name == "BTRQ_SINK" || name == "BTRQ_CONFIG";
}

Env ConfigEnv(const Env& env) {
  const std::vector<std::string> names = env.Names();
  if (!names.empty()) {
    std::map<std::string, std::string> vars;
    for (const std::string& name : names) {
      if (CliOwnedVariable(name)) continue;
      if (std::optional<std::string> value = env.Get(name)) vars[name] = *value;
    }
    return Env::FromMap(std::move(vars));
  }
  return Env::FromFunction([env](const std::string& name) -> std::optional<std::string> {
    if (CliOwnedVariable(name)) return std::nullopt;
    return env.Get(name);
  });
}

// Flags every command that talks to a service accepts.
struct GlobalFlags {
  std::string broker;
  std::string sink;
  std::string config;
  std::string timeout = "10s";
};

// Everything a subcommand may need, parsed.
struct Flags {
  GlobalFlags global;
  bool json = false;

  // submit
  std::string job_file;
  SubmitFlags spec;
  std::string name, collection, start, end, chunk, analytic, task_timeout;
  int64_t priority = 0;
  int64_t max_attempts = 0;
  bool prefix = false;
  bool wait = false;
  bool quiet = false;

  // commands taking a job or worker
  std::string job;
  std::string worker;

  // jobs, show
  bool all = false;
  uint32_t limit = 0;
  uint32_t dead_limit = 100;

  // top
  std::string interval = "2s";
  int iterations = 0;

  // results
  std::string format = "jsonl";
  std::string out_path;

  // keygen
  KeygenOptions keygen;

  // demo
  DemoOptions demo;
};

// An error and the exit code it gives.
struct Failure {
  Status status;
  int code;
};

class Runner {
 public:
  Runner(const Flags& flags, const Env& env) : flags_(flags), env_(env) {}

  // Loads the config (with --broker/--sink and BTRQ_BROKER/BTRQ_SINK over it) once.
  std::optional<Failure> LoadControl() {
    std::vector<ConfigOverride> overrides;
    const auto add = [&overrides](const std::string& path, const std::string& value,
                                  const std::string& source) {
      overrides.push_back({path, value, source});
    };
    if (auto v = env_.Get("BTRQ_BROKER")) add("control.broker", *v, "environment variable BTRQ_BROKER");
    if (auto v = env_.Get("BTRQ_SINK")) add("control.sink", *v, "environment variable BTRQ_SINK");
    if (!flags_.global.broker.empty()) add("control.broker", flags_.global.broker, "flag --broker");
    if (!flags_.global.sink.empty()) add("control.sink", flags_.global.sink, "flag --sink");
    std::string config_path = flags_.global.config;
    if (config_path.empty()) config_path = env_.Get("BTRQ_CONFIG").value_or("");
    BtrqConfig config;
    if (Status s = LoadConfigWithOverrides(config_path, ConfigEnv(env_), overrides, &config);
        !s.ok()) {
      return Failure{s, kExitUsage};
    }
    Result<std::string> token =
        ResolveSecret(config.control.token, config.control.token_file, "control.token_file");
    if (!token.ok()) return Failure{token.status(), kExitUsage};
    Result<int64_t> timeout = ParseDuration(flags_.global.timeout);
    if (!timeout.ok() || *timeout <= 0) {
      return Failure{Status::InvalidArgument("--timeout: " + (timeout.ok()
                                                                   ? std::string("must be positive")
                                                                   : timeout.status().message())),
                     kExitUsage};
    }
    broker_options_.endpoint = config.control.broker;
    sink_options_.endpoint = config.control.sink;
    broker_options_.token = sink_options_.token = *token;
    broker_options_.tls = sink_options_.tls = config.control.tls || !config.control.tls_ca.empty();
    if (!config.control.tls_ca.empty()) {
      // ResolveSecret reads a file the same way; a CA is no secret, but must not be empty.
      Result<std::string> ca = ResolveSecret("", config.control.tls_ca, "control.tls_ca");
      if (!ca.ok()) return Failure{ca.status(), kExitUsage};
      broker_options_.tls_ca_pem = sink_options_.tls_ca_pem = *ca + "\n";
    }
    broker_options_.call_timeout_ns = sink_options_.call_timeout_ns = *timeout;
    return std::nullopt;
  }

  std::variant<std::unique_ptr<BrokerClient>, Failure> Broker() {
    if (auto failure = LoadControl()) return *failure;
    Result<std::unique_ptr<BrokerClient>> client = BrokerClient::Create(broker_options_);
    if (!client.ok()) return Failure{client.status(), kExitUsage};
    return std::move(*client);
  }

  std::variant<std::unique_ptr<SinkClient>, Failure> Sink() {
    if (auto failure = LoadControl()) return *failure;
    Result<std::unique_ptr<SinkClient>> client = SinkClient::Create(sink_options_);
    if (!client.ok()) return Failure{client.status(), kExitUsage};
    return std::move(*client);
  }

 private:
  const Flags& flags_;
  const Env& env_;
  ControlClientOptions broker_options_;
  ControlClientOptions sink_options_;
};

int Report(std::ostream& err, const Status& status, int code) {
  if (status.ok()) return kExitOk;
  err << "btrq: " << status.message() << "\n";
  return code;
}

Result<JobId> JobArgument(const std::string& text) {
  Result<JobId> id = ParseJobId(text);
  if (!id.ok()) {
    return Status::InvalidArgument("bad job id \"" + text + "\": expected a positive number");
  }
  return *id;
}

void AddGlobalFlags(CLI::App* app, GlobalFlags* g) {
  app->add_option("--broker", g->broker, "Broker control API HOST:PORT (env BTRQ_BROKER)");
  app->add_option("--sink", g->sink, "Sink results API HOST:PORT (env BTRQ_SINK)");
  app->add_option("--config", g->config, "YAML config file (env BTRQ_CONFIG)");
  app->add_option("--timeout", g->timeout, "Deadline of each call, e.g. 10s")
      ->default_str("10s");
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const Env& env, const CliOptions& options) {
  CommandContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.out_tty = options.out_tty;
  ctx.err_tty = options.err_tty;
  ctx.clock = options.clock != nullptr ? options.clock : SystemClock::Default();
  ctx.sleep = options.sleep ? options.sleep : [](int64_t ns) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  };

  Flags f;
  CLI::App app("btrq: submit BTrDB analytics jobs to btrq and follow them (docs/cli.md)", "btrq");
  app.require_subcommand(1);
  app.fallthrough();
  AddGlobalFlags(&app, &f.global);

  const auto sub = [&app](const char* name, const char* about) {
    CLI::App* s = app.add_subcommand(name, about);
    s->fallthrough();
    return s;
  };
  const auto json_flag = [&f](CLI::App* s) {
    s->add_flag("--json", f.json, "Machine-readable JSON (shape in docs/cli.md)");
  };

  CLI::App* submit = sub("submit", "Submit a job from flags and/or a YAML job file");
  submit->add_option("-f,--file", f.job_file, "YAML job file; flags override its keys");
  CLI::Option* o_name = submit->add_option("--name", f.name, "Free text naming the job");
  CLI::Option* o_collection = submit->add_option("--collection", f.collection, "Collection of the streams");
  CLI::Option* o_prefix = submit->add_flag("--prefix", f.prefix, "--collection is a prefix");
  submit->add_option("--tag", f.spec.tags, "Tag filter KEY=VALUE, or KEY (present); repeatable")
      ->allow_extra_args(false);
  submit->add_option("--annotation", f.spec.annotations, "Annotation filter KEY=VALUE or KEY; repeatable")
      ->allow_extra_args(false);
  submit->add_option("--stream", f.spec.streams, "Stream UUID instead of a lookup; repeatable")
      ->allow_extra_args(false);
  submit->add_option("--version", f.spec.versions, "Pin a stream's version UUID=VERSION; repeatable")
      ->allow_extra_args(false);
  CLI::Option* o_start = submit->add_option("--start", f.start, "Start: ns, RFC 3339, YYYY-MM-DD, now-7d");
  CLI::Option* o_end = submit->add_option("--end", f.end, "End (exclusive), same forms as --start");
  CLI::Option* o_chunk = submit->add_option("--chunk", f.chunk, "Chunk length, e.g. 12h (default 12h)");
  CLI::Option* o_analytic = submit->add_option("--analytic", f.analytic, "Analytic, e.g. quality");
  submit->add_option("--param", f.spec.params, "Analytic parameter KEY=VALUE; repeatable")
      ->allow_extra_args(false);
  CLI::Option* o_priority = submit->add_option("--priority", f.priority, "Higher runs first (default 0)");
  CLI::Option* o_attempts = submit->add_option("--max-attempts", f.max_attempts, "Attempts per task");
  CLI::Option* o_timeout = submit->add_option("--task-timeout", f.task_timeout, "Lease per task, e.g. 10m");
  submit->add_flag("--wait", f.wait, "Follow the job until it ends; exit 2 with dead letters, 3 if it failed");
  submit->add_flag("-q,--quiet", f.quiet, "Print only the job id");

  CLI::App* status = sub("status", "One job in detail, or every active job with progress");
  status->add_option("JOB", f.job, "Job id");
  json_flag(status);

  CLI::App* top = sub("top", "Live view of jobs and workers");
  top->add_option("--interval", f.interval, "Refresh period, e.g. 2s")->default_str("2s");
  top->add_option("--iterations", f.iterations, "Stop after N refreshes (0: never)");

  CLI::App* jobs = sub("jobs", "List jobs");
  jobs->add_flag("-a,--all", f.all, "Include finished jobs");
  jobs->add_option("--limit", f.limit, "At most N jobs (0: all)");
  json_flag(jobs);

  CLI::App* show = sub("show", "A job's spec, counts and dead-lettered tasks");
  show->add_option("JOB", f.job, "Job id")->required();
  show->add_option("--dead-limit", f.dead_limit, "At most N dead letters")->default_str("100");
  json_flag(show);

  CLI::App* cancel = sub("cancel", "Cancel a job");
  cancel->add_option("JOB", f.job, "Job id")->required();
  CLI::App* retry = sub("retry", "Requeue a job's dead-lettered tasks");
  retry->add_option("JOB", f.job, "Job id")->required();

  CLI::App* results = sub("results", "A job's results from the sink, as JSON lines or CSV");
  results->add_option("JOB", f.job, "Job id")->required();
  results->add_option("--format", f.format, "jsonl or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}))->default_str("jsonl");
  results->add_option("-o,--out", f.out_path, "Write to FILE (atomically) instead of stdout");
  results->add_option("--limit", f.limit, "At most N results (0: all)");

  CLI::App* workers = sub("workers", "Connected workers");
  json_flag(workers);
  CLI::App* drain = sub("drain", "Let a worker finish its tasks and take no more");
  drain->add_option("WORKER", f.worker, "Worker id (see `btrq workers`)")->required();

  CLI::App* keygen = sub("keygen", "Make a CurveZMQ key pair: NAME.key (secret) and NAME.pub");
  keygen->add_option("--out-dir", f.keygen.out_dir, "Directory for the files")->default_str(".");
  keygen->add_option("--name", f.keygen.name, "File name stem")->default_str("btrq");
  keygen->add_flag("--force", f.keygen.force, "Overwrite existing files");

  CLI::App* demo = sub("demo", "Start btrdb-lite with generated data, a broker, a sink and workers on "
                               "127.0.0.1, run a quality job, summarise, stop everything");
  demo->add_option("--streams", f.demo.streams, "Generated streams")->capture_default_str();
  demo->add_option("--duration", f.demo.duration, "Span of every stream, e.g. 3d")
      ->capture_default_str();
  demo->add_option("--rate", f.demo.rate_hz, "Samples per second (Hz)")->capture_default_str();
  demo->add_option("--chunk", f.demo.chunk, "Task length")->capture_default_str();
  demo->add_option("--workers", f.demo.workers, "Worker processes")->capture_default_str();
  demo->add_option("--threads", f.demo.threads, "Threads per worker (0: cores / workers)")
      ->capture_default_str();
  demo->add_option("--dir", f.demo.dir, "Runs go in DIR/run-<timestamp>")->capture_default_str();
  demo->add_flag("--keep", f.demo.keep, "Leave the processes running and say how to use them");
  demo->add_option("--analytic", f.demo.analytic, "quality (checked against the ground truth), "
                                                  "stats, count or noop")
      ->capture_default_str();
  demo->add_option("--seed", f.demo.seed, "Generator seed")->capture_default_str();
  demo->add_option("--bin-dir", f.demo.bin_dir,
                   "Where btrdb-lite, btrq-broker, btrq-sink, btrq-worker are (default: next to "
                   "btrq, or the build tree)");

  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* s : app.get_subcommands({})) known = known || s->get_name() == argv[1];
    if (!known) {
      return Report(err, Status::InvalidArgument(std::string("unknown command \"") + argv[1] +
                                                 "\" (see btrq --help)"),
                    kExitUsage);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e, out, err);  // --help
    err << "btrq: " << e.what() << " (run with --help for usage)\n";
    return kExitUsage;
  }

  Runner runner(f, env);
  // Runs `command` with a broker client, mapping errors to kExitError.
  const auto with_broker = [&](const std::function<Status(BrokerClient&)>& command) {
    auto client = runner.Broker();
    if (auto* failure = std::get_if<Failure>(&client)) return Report(err, failure->status, failure->code);
    return Report(err, command(*std::get<std::unique_ptr<BrokerClient>>(client)), kExitError);
  };
  const auto job_arg = [&]() -> std::optional<JobId> {
    Result<JobId> id = JobArgument(f.job);
    if (!id.ok()) return std::nullopt;
    return *id;
  };
  const auto bad_job = [&]() {
    return Report(err, JobArgument(f.job).status(), kExitUsage);
  };

  if (submit->parsed()) {
    const int64_t now = ctx.clock->WallNanos();
    v1::JobSpec spec;
    if (!f.job_file.empty()) {
      Result<v1::JobSpec> loaded = LoadJobFile(f.job_file, now);
      if (!loaded.ok()) return Report(err, loaded.status(), kExitUsage);
      spec = std::move(*loaded);
    }
    SubmitFlags& sf = f.spec;
    if (o_name->count()) sf.name = f.name;
    if (o_collection->count()) sf.collection = f.collection;
    if (o_prefix->count()) sf.prefix = f.prefix;
    if (o_start->count()) sf.start = f.start;
    if (o_end->count()) sf.end = f.end;
    if (o_chunk->count()) sf.chunk = f.chunk;
    if (o_analytic->count()) sf.analytic = f.analytic;
    if (o_priority->count()) sf.priority = f.priority;
    if (o_attempts->count()) sf.max_attempts = f.max_attempts;
    if (o_timeout->count()) sf.task_timeout = f.task_timeout;
    if (Status s = ApplySubmitFlags(sf, now, &spec); !s.ok()) return Report(err, s, kExitUsage);
    if (Status s = ValidateJobSpec(spec); !s.ok()) return Report(err, s, kExitUsage);

    auto client = runner.Broker();
    if (auto* failure = std::get_if<Failure>(&client)) return Report(err, failure->status, failure->code);
    SubmitOptions so;
    so.wait = f.wait;
    so.quiet = f.quiet;
    Result<int> code = Submit(*std::get<std::unique_ptr<BrokerClient>>(client), spec, so, ctx);
    if (!code.ok()) return Report(err, code.status(), kExitError);
    return *code;
  }
  if (status->parsed()) {
    std::optional<JobId> job;
    if (!f.job.empty()) {
      job = job_arg();
      if (!job) return bad_job();
    }
    return with_broker([&](BrokerClient& b) { return ShowStatus(b, job, f.json, ctx); });
  }
  if (top->parsed()) {
    Result<int64_t> interval = ParseDuration(f.interval);
    if (!interval.ok()) {
      return Report(err, Status::InvalidArgument("--interval: " + interval.status().message()),
                    kExitUsage);
    }
    if (f.iterations < 0) {
      return Report(err, Status::InvalidArgument("--iterations: must not be negative"), kExitUsage);
    }
    TopOptions to;
    to.interval_ns = *interval;
    to.iterations = f.iterations;
    return with_broker([&](BrokerClient& b) { return Top(b, to, ctx); });
  }
  if (jobs->parsed()) {
    return with_broker([&](BrokerClient& b) { return ListJobs(b, f.all, f.limit, f.json, ctx); });
  }
  if (workers->parsed()) {
    return with_broker([&](BrokerClient& b) { return ListWorkers(b, f.json, ctx); });
  }
  if (drain->parsed()) {
    return with_broker([&](BrokerClient& b) { return DrainWorker(b, f.worker, ctx); });
  }
  if (keygen->parsed()) return Report(err, Keygen(f.keygen, ctx), kExitError);
  if (demo->parsed()) return RunDemo(f.demo, ctx);

  // The rest take a job id.
  const std::optional<JobId> job = job_arg();
  if (!job) return bad_job();
  if (show->parsed()) {
    return with_broker([&](BrokerClient& b) { return ShowJob(b, *job, f.dead_limit, f.json, ctx); });
  }
  if (cancel->parsed()) return with_broker([&](BrokerClient& b) { return CancelJob(b, *job, ctx); });
  if (retry->parsed()) return with_broker([&](BrokerClient& b) { return RetryJob(b, *job, ctx); });
  if (results->parsed()) {
    ResultsOptions ro;
    ro.job = *job;
    ro.format = f.format == "csv" ? ResultFormat::kCsv : ResultFormat::kJsonl;
    ro.out_path = f.out_path;
    ro.limit = f.limit;
    auto client = runner.Sink();
    if (auto* failure = std::get_if<Failure>(&client)) return Report(err, failure->status, failure->code);
    return Report(err, ExportResults(*std::get<std::unique_ptr<SinkClient>>(client), ro, ctx),
                  kExitError);
  }
  return Report(err, Status::Internal("no subcommand ran"), kExitError);
}

}  // namespace btrq::submitter
