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
  std::string nonce;

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

// One invocation's state: parsed flags, where output goes, and how clients are made.
class Cli {
 public:
  Cli(std::ostream& out, std::ostream& err, const Env& env, const CliOptions& options)
      : err_(err), runner_(flags, env) {
    ctx.out = &out;
    ctx.err = &err;
    ctx.out_tty = options.out_tty;
    ctx.err_tty = options.err_tty;
    ctx.clock = options.clock != nullptr ? options.clock : SystemClock::Default();
    ctx.sleep = options.sleep ? options.sleep : [](int64_t ns) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
    };
  }

  int Fail(const Status& status, int code) { return Report(err_, status, code); }

  // Runs `command` with a broker client, mapping errors to kExitError.
  int WithBroker(const std::function<Status(BrokerClient&)>& command) {
    auto client = runner_.Broker();
    if (auto* failure = std::get_if<Failure>(&client)) return Fail(failure->status, failure->code);
    return Fail(command(*std::get<std::unique_ptr<BrokerClient>>(client)), kExitError);
  }
  // Runs a command on the JOB argument; a bad one is a usage error.
  int WithJob(const std::function<int(JobId)>& command) {
    Result<JobId> id = JobArgument(flags.job);
    if (!id.ok()) return Fail(id.status(), kExitUsage);
    return command(*id);
  }
  Runner& runner() { return runner_; }

  Flags flags;
  CommandContext ctx;

 private:
  std::ostream& err_;
  Runner runner_;
};

// A subcommand: its CLI11 wiring, and what runs when it was given.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

CLI::App* AddSubcommand(CLI::App& app, const char* name, const char* about) {
  CLI::App* s = app.add_subcommand(name, about);
  s->fallthrough();
  return s;
}

void AddJsonFlag(CLI::App* s, Flags& f) {
  s->add_flag("--json", f.json, "Machine-readable JSON (shape in docs/cli.md)");
}

// The submit flags that override a job file's keys only when given.
struct SubmitOverrides {
  CLI::Option* name;
  CLI::Option* collection;
  CLI::Option* prefix;
  CLI::Option* start;
  CLI::Option* end;
  CLI::Option* chunk;
  CLI::Option* analytic;
  CLI::Option* priority;
  CLI::Option* attempts;
  CLI::Option* timeout;
};

int RunSubmit(Cli& cli, const SubmitOverrides& o) {
  Flags& f = cli.flags;
  const int64_t now = cli.ctx.clock->WallNanos();
  v1::JobSpec spec;
  if (!f.job_file.empty()) {
    Result<v1::JobSpec> loaded = LoadJobFile(f.job_file, now);
    if (!loaded.ok()) return cli.Fail(loaded.status(), kExitUsage);
    spec = std::move(*loaded);
  }
  SubmitFlags& sf = f.spec;
  if (o.name->count()) sf.name = f.name;
  if (o.collection->count()) sf.collection = f.collection;
  if (o.prefix->count()) sf.prefix = f.prefix;
  if (o.start->count()) sf.start = f.start;
  if (o.end->count()) sf.end = f.end;
  if (o.chunk->count()) sf.chunk = f.chunk;
  if (o.analytic->count()) sf.analytic = f.analytic;
  if (o.priority->count()) sf.priority = f.priority;
  if (o.attempts->count()) sf.max_attempts = f.max_attempts;
  if (o.timeout->count()) sf.task_timeout = f.task_timeout;
  if (Status s = ApplySubmitFlags(sf, now, &spec); !s.ok()) return cli.Fail(s, kExitUsage);
  if (Status s = ValidateJobSpec(spec); !s.ok()) return cli.Fail(s, kExitUsage);

  auto client = cli.runner().Broker();
  if (auto* failure = std::get_if<Failure>(&client)) {
    return cli.Fail(failure->status, failure->code);
  }
  SubmitOptions so;
  so.wait = f.wait;
  so.quiet = f.quiet;
  Result<int> code = Submit(*std::get<std::unique_ptr<BrokerClient>>(client), spec, so, cli.ctx);
  if (!code.ok()) return cli.Fail(code.status(), kExitError);
  return *code;
}

Subcommand AddSubmit(CLI::App& app, Cli& cli) {
  Flags& f = cli.flags;
  CLI::App* s = AddSubcommand(app, "submit", "Submit a job from flags and/or a YAML job file");
  SubmitOverrides o{};
  s->add_option("-f,--file", f.job_file, "YAML job file; flags override its keys");
  o.name = s->add_option("--name", f.name, "Free text naming the job");
  o.collection = s->add_option("--collection", f.collection, "Collection of the streams");
  o.prefix = s->add_flag("--prefix", f.prefix, "--collection is a prefix");
  s->add_option("--tag", f.spec.tags, "Tag filter KEY=VALUE, or KEY (present); repeatable")
      ->allow_extra_args(false);
  s->add_option("--annotation", f.spec.annotations,
                "Annotation filter KEY=VALUE or KEY; repeatable")
      ->allow_extra_args(false);
  s->add_option("--stream", f.spec.streams, "Stream UUID instead of a lookup; repeatable")
      ->allow_extra_args(false);
  s->add_option("--version", f.spec.versions, "Pin a stream's version UUID=VERSION; repeatable")
      ->allow_extra_args(false);
  o.start = s->add_option("--start", f.start, "Start: ns, RFC 3339, YYYY-MM-DD, now-7d");
  o.end = s->add_option("--end", f.end, "End (exclusive), same forms as --start");
  o.chunk = s->add_option("--chunk", f.chunk, "Chunk length, e.g. 12h (default 12h)");
  o.analytic = s->add_option("--analytic", f.analytic, "Analytic, e.g. quality");
  s->add_option("--param", f.spec.params, "Analytic parameter KEY=VALUE; repeatable")
      ->allow_extra_args(false);
  o.priority = s->add_option("--priority", f.priority, "Higher runs first (default 0)");
  o.attempts = s->add_option("--max-attempts", f.max_attempts, "Attempts per task");
  o.timeout = s->add_option("--task-timeout", f.task_timeout, "Lease per task, e.g. 10m");
  s->add_flag("--wait", f.wait,
              "Follow the job until it ends; exit 2 with dead letters, 3 if it failed");
  s->add_flag("-q,--quiet", f.quiet, "Print only the job id");
  return {s, [&cli, o] { return RunSubmit(cli, o); }};
}

Subcommand AddStatus(CLI::App& app, Cli& cli) {
  Flags& f = cli.flags;
  CLI::App* s =
      AddSubcommand(app, "status", "One job in detail, or every active job with progress");
  s->add_option("JOB", f.job, "Job id");
  AddJsonFlag(s, f);
  return {s, [&cli] {
            std::optional<JobId> job;
            if (!cli.flags.job.empty()) {
              Result<JobId> id = JobArgument(cli.flags.job);
              if (!id.ok()) return cli.Fail(id.status(), kExitUsage);
              job = *id;
            }
            return cli.WithBroker(
                [&](BrokerClient& b) { return ShowStatus(b, job, cli.flags.json, cli.ctx); });
          }};
}

int RunTop(Cli& cli) {
  Result<int64_t> interval = ParseDuration(cli.flags.interval);
  if (!interval.ok()) {
    return cli.Fail(Status::InvalidArgument("--interval: " + interval.status().message()),
                    kExitUsage);
  }
  if (cli.flags.iterations < 0) {
    return cli.Fail(Status::InvalidArgument("--iterations: must not be negative"), kExitUsage);
  }
  TopOptions to;
  to.interval_ns = *interval;
  to.iterations = cli.flags.iterations;
  return cli.WithBroker([&](BrokerClient& b) { return Top(b, to, cli.ctx); });
}

Subcommand AddTop(CLI::App& app, Cli& cli) {
  CLI::App* s = AddSubcommand(app, "top", "Live view of jobs and workers");
  s->add_option("--interval", cli.flags.interval, "Refresh period, e.g. 2s")->default_str("2s");
  s->add_option("--iterations", cli.flags.iterations, "Stop after N refreshes (0: never)");
  return {s, [&cli] { return RunTop(cli); }};
}

Subcommand AddJobs(CLI::App& app, Cli& cli) {
  Flags& f = cli.flags;
  CLI::App* s = AddSubcommand(app, "jobs", "List jobs");
  s->add_flag("-a,--all", f.all, "Include finished jobs");
  s->add_option("--limit", f.limit, "At most N jobs (0: all)");
  AddJsonFlag(s, f);
  return {s, [&cli, &f] {
            return cli.WithBroker(
                [&](BrokerClient& b) { return ListJobs(b, f.all, f.limit, f.json, cli.ctx); });
          }};
}

Subcommand AddShow(CLI::App& app, Cli& cli) {
  Flags& f = cli.flags;
  CLI::App* s = AddSubcommand(app, "show", "A job's spec, counts and dead-lettered tasks");
  s->add_option("JOB", f.job, "Job id")->required();
  s->add_option("--dead-limit", f.dead_limit, "At most N dead letters")->default_str("100");
  AddJsonFlag(s, f);
  return {s, [&cli, &f] {
            return cli.WithJob([&](JobId job) {
              return cli.WithBroker(
                  [&](BrokerClient& b) { return ShowJob(b, job, f.dead_limit, f.json, cli.ctx); });
            });
          }};
}

// `btrq NAME JOB`: one broker call on a job (cancel, retry).
Subcommand AddJobAction(CLI::App& app, Cli& cli, const char* name, const char* about,
                        Status (*action)(BrokerClient&, JobId, const CommandContext&)) {
  CLI::App* s = AddSubcommand(app, name, about);
  s->add_option("JOB", cli.flags.job, "Job id")->required();
  return {s, [&cli, action] {
            return cli.WithJob([&](JobId job) {
              return cli.WithBroker([&](BrokerClient& b) { return action(b, job, cli.ctx); });
            });
          }};
}

// The incarnation of `job` the broker knows (Job.nonce), so `btrq results` shows that
// job's results and never those of an earlier job given the same id. nullopt (with a
// note) when the broker cannot say: the sink then answers with its current incarnation.
std::optional<JobNonce> BrokerIncarnation(Cli& cli, JobId job) {
  auto client = cli.runner().Broker();
  Status why;
  if (auto* failure = std::get_if<Failure>(&client)) {
    why = failure->status;
  } else {
    Result<v1::Job> info = std::get<std::unique_ptr<BrokerClient>>(client)->GetJob(job);
    if (info.ok()) return info->nonce();
    why = info.status();
  }
  *cli.ctx.err << "btrq: note: the broker did not give job " << job
               << "'s incarnation (" << why.ToString()
               << "); showing the sink's current one (--nonce picks one)\n";
  return std::nullopt;
}

int RunResults(Cli& cli, JobId job) {
  ResultsOptions ro;
  ro.job = job;
  if (!cli.flags.nonce.empty()) {
    Result<JobNonce> nonce = ParseJobNonce(cli.flags.nonce);
    if (!nonce.ok()) return cli.Fail(nonce.status(), kExitUsage);
    ro.nonce = *nonce;
  } else {
    ro.nonce = BrokerIncarnation(cli, job);
  }
  ro.format = cli.flags.format == "csv" ? ResultFormat::kCsv : ResultFormat::kJsonl;
  ro.out_path = cli.flags.out_path;
  ro.limit = cli.flags.limit;
  auto client = cli.runner().Sink();
  if (auto* failure = std::get_if<Failure>(&client)) {
    return cli.Fail(failure->status, failure->code);
  }
  return cli.Fail(ExportResults(*std::get<std::unique_ptr<SinkClient>>(client), ro, cli.ctx),
                  kExitError);
}

Subcommand AddResults(CLI::App& app, Cli& cli) {
  Flags& f = cli.flags;
  CLI::App* s =
      AddSubcommand(app, "results", "A job's results from the sink, as JSON lines or CSV");
  s->add_option("JOB", f.job, "Job id")->required();
  s->add_option("--format", f.format, "jsonl or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->default_str("jsonl");
  s->add_option("-o,--out", f.out_path, "Write to FILE (atomically) instead of stdout");
  s->add_option("--limit", f.limit, "At most N results (0: all)");
  s->add_option("--nonce", f.nonce,
                "The job's incarnation (hex, as `btrq show` prints it); default: the broker's");
  return {s, [&cli] { return cli.WithJob([&](JobId job) { return RunResults(cli, job); }); }};
}

Subcommand AddWorkers(CLI::App& app, Cli& cli) {
  CLI::App* s = AddSubcommand(app, "workers", "Connected workers");
  AddJsonFlag(s, cli.flags);
  return {s, [&cli] {
            return cli.WithBroker(
                [&](BrokerClient& b) { return ListWorkers(b, cli.flags.json, cli.ctx); });
          }};
}

Subcommand AddDrain(CLI::App& app, Cli& cli) {
  CLI::App* s = AddSubcommand(app, "drain", "Let a worker finish its tasks and take no more");
  s->add_option("WORKER", cli.flags.worker, "Worker id (see `btrq workers`)")->required();
  return {s, [&cli] {
            return cli.WithBroker(
                [&](BrokerClient& b) { return DrainWorker(b, cli.flags.worker, cli.ctx); });
          }};
}

Subcommand AddKeygen(CLI::App& app, Cli& cli) {
  KeygenOptions& k = cli.flags.keygen;
  CLI::App* s =
      AddSubcommand(app, "keygen", "Make a CurveZMQ key pair: NAME.key (secret) and NAME.pub");
  s->add_option("--out-dir", k.out_dir, "Directory for the files")->default_str(".");
  s->add_option("--name", k.name, "File name stem")->default_str("btrq");
  s->add_flag("--force", k.force, "Overwrite existing files");
  s->add_flag("--lease-secret", k.lease_secret,
              "Make NAME.lease, the broker's and sink's lease secret, instead of a key pair");
  return {s, [&cli] { return cli.Fail(Keygen(cli.flags.keygen, cli.ctx), kExitError); }};
}

Subcommand AddDemo(CLI::App& app, Cli& cli) {
  DemoOptions& d = cli.flags.demo;
  CLI::App* s =
      AddSubcommand(app, "demo",
                    "Start btrdb-lite with generated data, a broker, a sink and workers on "
                    "127.0.0.1, run a quality job, summarise, stop everything");
  s->add_option("--streams", d.streams, "Generated streams")->capture_default_str();
  s->add_option("--duration", d.duration, "Span of every stream, e.g. 3d")->capture_default_str();
  s->add_option("--rate", d.rate_hz, "Samples per second (Hz)")->capture_default_str();
  s->add_option("--chunk", d.chunk, "Task length")->capture_default_str();
  s->add_option("--workers", d.workers, "Worker processes")->capture_default_str();
  s->add_option("--threads", d.threads, "Threads per worker (0: cores / workers)")
      ->capture_default_str();
  s->add_option("--dir", d.dir, "Runs go in DIR/run-<timestamp>")->capture_default_str();
  s->add_flag("--keep", d.keep, "Leave the processes running and say how to use them");
  s->add_option("--analytic", d.analytic,
                "quality (checked against the ground truth), "
                "stats, count or noop")
      ->capture_default_str();
  s->add_option("--seed", d.seed, "Generator seed")->capture_default_str();
  s->add_option("--bin-dir", d.bin_dir,
                "Where btrdb-lite, btrq-broker, btrq-sink, btrq-worker are (default: next to "
                "btrq, or the build tree)");
  return {s, [&cli] { return RunDemo(cli.flags.demo, cli.ctx); }};
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Env& env,
           const CliOptions& options) {
  Cli cli(out, err, env, options);
  CLI::App app("btrq: submit BTrDB analytics jobs to btrq and follow them (docs/cli.md)", "btrq");
  app.require_subcommand(1);
  app.fallthrough();
  AddGlobalFlags(&app, &cli.flags.global);
  // In the order `btrq --help` lists them.
  const Subcommand commands[] = {
      AddSubmit(app, cli),
      AddStatus(app, cli),
      AddTop(app, cli),
      AddJobs(app, cli),
      AddShow(app, cli),
      AddJobAction(app, cli, "cancel", "Cancel a job", CancelJob),
      AddJobAction(app, cli, "retry", "Requeue a job's dead-lettered tasks", RetryJob),
      AddResults(app, cli),
      AddWorkers(app, cli),
      AddDrain(app, cli),
      AddKeygen(app, cli),
      AddDemo(app, cli),
  };

  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    for (const Subcommand& c : commands) known = known || c.app->get_name() == argv[1];
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
  for (const Subcommand& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return Report(err, Status::Internal("no subcommand ran"), kExitError);
}

}  // namespace btrq::submitter
