#include "submitter/demo.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/number_format.h"
#include "common/subprocess.h"
#include "btrdb/client.h"
#include "cluster/cluster.h"
#include "common/time_util.h"
#include "results/export.h"
#include "results/result_proto.h"
#include "submitter/broker_client.h"
#include "submitter/ground_truth.h"
#include "submitter/job_spec.h"
#include "submitter/render.h"
#include "submitter/report.h"

namespace btrq::submitter {
namespace {

namespace fs = std::filesystem;
using cluster::Role;
using std::chrono::milliseconds;

constexpr milliseconds kReadyTimeout(30'000);  // per process, from its start
constexpr milliseconds kStopGrace(15'000);     // SIGTERM to SIGKILL
// After a failure: a worker whose broker is gone cannot finish its drain.
constexpr milliseconds kFailedStopGrace(3'000);
constexpr milliseconds kPollInterval(200);     // progress and interrupt checks
constexpr char kCollection[] = "staging/sensors";

// ---- signals --------------------------------------------------------------------------------

std::atomic<int> g_signal{0};

extern "C" void OnDemoSignal(int sig) { g_signal.store(sig); }

// Catches SIGINT, SIGTERM and SIGHUP once each (SA_RESETHAND: a second Ctrl-C kills btrq,
// and its children die with it); restores the previous handlers on destruction.
class SignalScope {
 public:
  SignalScope() {
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = OnDemoSignal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~SignalScope() {
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

bool Interrupted() { return g_signal.load() != 0; }

Status InterruptedStatus() {
  return Status::Cancelled(std::string("interrupted by ") + ::strsignal(g_signal.load()));
}

// Sleeps `total` in short slices; false when a signal arrived.
bool SleepFor(milliseconds total) {
  const auto end = std::chrono::steady_clock::now() + total;
  while (!Interrupted()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now,
                                                                               milliseconds(20)));
  }
  return false;
}

// ---- small helpers --------------------------------------------------------------------------

// This program's path, for the commands the demo suggests; "btrq" when unknown.
std::string SelfPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "btrq" : self.string();
}

// How many streams `collection` holds on btrdb-lite: the generator creates each stream
// just before loading it, so this is its progress. nullopt on error.
class StreamCounter {
 public:
  StreamCounter(const std::string& address, std::string collection)
      : collection_(std::move(collection)) {
    options_.endpoints = {address};
    options_.tls = btrdb::ConnectOptions::Tls::kOff;
    options_.call_timeout_ns = 2'000'000'000;
    options_.stream_timeout_ns = 2'000'000'000;
    options_.connect_timeout_ns = 2'000'000'000;
  }

  std::optional<int> Count() {
    if (client_ == nullptr) {
      Result<std::unique_ptr<btrdb::Client>> client = btrdb::Client::Connect(options_);
      if (!client.ok()) return std::nullopt;
      client_ = std::move(*client);
    }
    Result<std::vector<btrdb::StreamDescriptor>> streams =
        client_->LookupStreams(collection_, /*is_prefix=*/false, {}, {});
    if (!streams.ok()) return std::nullopt;
    return static_cast<int>(streams->size());
  }

 private:
  btrdb::ConnectOptions options_;
  std::string collection_;
  std::unique_ptr<btrdb::Client> client_;
};

// ---- the demo -------------------------------------------------------------------------------

class Demo {
 public:
  Demo(const DemoOptions& options, const CommandContext& ctx) : o_(options), ctx_(ctx) {}
  ~Demo() { StopAll(/*quiet=*/true, kFailedStopGrace); }

  int Run();

 private:
  std::ostream& out() { return *ctx_.out; }

  Status Validate();
  Status MakeRunDir();
  Status StartLite();
  Status StartGenerate();
  Status StartServices();
  Status WaitForGenerate();
  // Whether the generator has finished: OK once it exited 0; progress printed meanwhile.
  Result<bool> GenerateDone(StreamCounter* counter, const std::string& what, double elapsed);
  Status SubmitJob();
  Status FollowJob();
  Status FetchResults();
  bool CheckTruth();
  void PrintWhere();
  void KeepRunning();
  // Stops every child still running, in tiers (workers, broker and sink, btrdb-lite): SIGTERM,
  // then SIGKILL after `grace`. Unless `quiet`, lists them with their pids.
  void StopAll(bool quiet, milliseconds grace);

  const DemoOptions& o_;
  const CommandContext& ctx_;
  int64_t duration_ns_ = 0;
  int64_t chunk_ns_ = 0;
  int threads_ = 1;
  std::string self_;  // this program
  cluster::Binaries bin_;
  fs::path run_;
  std::string config_path_;
  std::string manifest_path_;
  std::string results_path_;
  std::unique_ptr<cluster::Cluster> cluster_;
  Subprocess* generate_ = nullptr;
  std::optional<Manifest> manifest_;
  std::unique_ptr<BrokerClient> broker_;
  JobId job_ = 0;
  v1::Job final_job_;
  double follow_seconds_ = 0;
  std::vector<results::StoredResult> results_;
  // When the last plain-text (not a terminal) progress line was printed.
  std::chrono::steady_clock::time_point last_plain_;
};

Status Demo::Validate() {
  if (o_.streams < 1) return Status::InvalidArgument("--streams must be at least 1");
  if (o_.rate_hz < 1) return Status::InvalidArgument("--rate must be at least 1 Hz");
  if (o_.workers < 1 || o_.workers > 64) return Status::InvalidArgument("--workers must be in 1..64");
  if (o_.threads < 0) return Status::InvalidArgument("--threads must not be negative");
  Result<int64_t> duration = ParseDuration(o_.duration);
  if (!duration.ok() || *duration <= 0) {
    return Status::InvalidArgument("--duration: " + (duration.ok() ? std::string("must be positive")
                                                                  : duration.status().message()));
  }
  Result<int64_t> chunk = ParseDuration(o_.chunk);
  if (!chunk.ok() || *chunk <= 0) {
    return Status::InvalidArgument("--chunk: " + (chunk.ok() ? std::string("must be positive")
                                                            : chunk.status().message()));
  }
  duration_ns_ = *duration;
  chunk_ns_ = *chunk;
  threads_ = o_.threads;
  if (threads_ == 0) {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads_ = std::max(1, hw / o_.workers);
  }
  return Status::OK();
}

Status Demo::MakeRunDir() {
  std::error_code ec;
  const fs::path dir = fs::absolute(o_.dir, ec);
  if (ec) return Status::IoError("--dir " + o_.dir + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "run-%Y%m%d-%H%M%S", &tm);
  // A second run within the same second gets a suffix; create_directory is the arbiter.
  for (int n = 1;; ++n) {
    run_ = dir / (n == 1 ? std::string(stamp) : std::string(stamp) + "-" + std::to_string(n));
    if (fs::create_directory(run_, ec)) break;
    if (ec) return Status::IoError("cannot create " + run_.string() + ": " + ec.message());
  }
  // The cluster (StartLite) makes logs/, broker/, sink/ and config.yaml.
  manifest_path_ = (run_ / "manifest.json").string();
  results_path_ = (run_ / "results.jsonl").string();
  // DIR/latest -> the newest run (a real file or folder named "latest" is left alone).
  const fs::path latest = dir / "latest";
  if (fs::is_symlink(latest, ec)) fs::remove(latest, ec);
  if (!fs::exists(latest, ec)) fs::create_directory_symlink(run_.filename(), latest, ec);
  return Status::OK();
}

Status Demo::StartLite() {
  cluster::ClusterOptions co;
  co.dir = run_.string();
  co.binaries = bin_;
  co.config.log.level = LogLevel::kInfo;
  co.config.log.format = LogFormat::kText;
  co.config.btrdb.tls = TlsMode::kOff;
  co.config.worker.threads = static_cast<uint32_t>(threads_);
  co.btrdb_durable = false;
  co.log_files = true;
  co.new_process_groups = true;
  co.die_with_parent = !o_.keep;
  co.ready_timeout = kReadyTimeout;
  co.cancelled = Interrupted;
  BTRQ_ASSIGN_OR_RETURN(cluster_, cluster::Cluster::Create(std::move(co)));
  config_path_ = cluster_->config_path();
  BTRQ_RETURN_IF_ERROR(cluster_->Start(Role::kBtrdb));
  out() << "[1/5] btrdb-lite ready on " << cluster_->btrdb_endpoint() << " (in memory, pid "
        << cluster_->process(Role::kBtrdb)->pid() << ")\n";
  out().flush();
  return Status::OK();
}

Status Demo::StartGenerate() {
  BTRQ_ASSIGN_OR_RETURN(generate_, cluster_->StartHelper(
                                       "generate",
                                       {bin_.btrdb_lite, "generate", "--endpoint",
                                        cluster_->btrdb_endpoint(), "--streams",
                                        std::to_string(o_.streams), "--duration", o_.duration,
                                        "--rate", std::to_string(o_.rate_hz), "--seed",
                                        std::to_string(o_.seed), "--manifest", manifest_path_,
                                        "--manifest-chunk", o_.chunk}));
  return Status::OK();
}

Status Demo::StartServices() {
  // All start at once; then each is waited for.
  BTRQ_RETURN_IF_ERROR(cluster_->Spawn(Role::kBroker));
  BTRQ_RETURN_IF_ERROR(cluster_->Spawn(Role::kSink));
  for (int i = 0; i < o_.workers; ++i) BTRQ_RETURN_IF_ERROR(cluster_->SpawnWorker().status());
  BTRQ_RETURN_IF_ERROR(cluster_->WaitForReady(Role::kBroker));
  BTRQ_RETURN_IF_ERROR(cluster_->WaitForReady(Role::kSink));
  for (size_t i = 0; i < cluster_->workers(); ++i) {
    BTRQ_RETURN_IF_ERROR(cluster_->WaitForReady(Role::kWorker, i));
  }
  out() << "[2/5] broker ready on " << cluster_->broker_control() << " (pid "
        << cluster_->process(Role::kBroker)->pid() << "), sink on " << cluster_->sink_control()
        << " (pid " << cluster_->process(Role::kSink)->pid() << "), " << o_.workers << " "
        << (o_.workers == 1 ? "worker" : "workers") << " x " << threads_ << " "
        << (threads_ == 1 ? "thread" : "threads") << " (pids";
  for (size_t i = 0; i < cluster_->workers(); ++i) {
    out() << " " << cluster_->process(Role::kWorker, i)->pid();
  }
  out() << ")\n";
  out().flush();
  return Status::OK();
}

Status Demo::WaitForGenerate() {
  const double points = static_cast<double>(o_.streams) * static_cast<double>(o_.rate_hz) *
                        static_cast<double>(duration_ns_) / 1e9;
  const std::string what = "[3/5] loading " + std::to_string(o_.streams) + " streams x " +
                           o_.duration + " x " + std::to_string(o_.rate_hz) + " Hz (~" +
                           FormatCount(points) + " points, with defects) into " + kCollection;
  const auto start = std::chrono::steady_clock::now();
  StreamCounter counter(cluster_->btrdb_endpoint(), kCollection);
  if (!ctx_.out_tty) {
    out() << what << " ...\n";
    out().flush();
  }
  for (;;) {
    if (Interrupted()) return InterruptedStatus();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BTRQ_ASSIGN_OR_RETURN(bool done, GenerateDone(&counter, what, elapsed));
    if (done) break;
  }
  Result<std::string> line = generate_->WaitForLine("^generated ", milliseconds(0));
  out() << "[3/5] " << (line.ok() ? *line : "generated the streams") << "\n";
  out().flush();
  BTRQ_ASSIGN_OR_RETURN(manifest_, LoadManifest(manifest_path_));
  return Status::OK();
}

Result<bool> Demo::GenerateDone(StreamCounter* counter, const std::string& what, double elapsed) {
  Result<int> code = generate_->Wait(milliseconds(ctx_.out_tty ? 1000 : 500));
  if (code.ok()) {
    if (ctx_.out_tty) out() << "\r\x1b[K";
    if (*code != 0) {
      return Status::Unavailable(cluster_->WithLogExcerpt(
          "btrdb-lite generate failed with code " + std::to_string(*code), "generate"));
    }
    return true;
  }
  const std::optional<int> created = counter->Count();
  const std::string progress =
      (created && *created > 0
           ? "stream " + std::to_string(*created) + " of " + std::to_string(o_.streams) + ", "
           : std::string()) +
      Fixed(elapsed, 0) + " s";
  if (ctx_.out_tty) {
    out() << "\r" << what << " ... " << progress << "\x1b[K";
    out().flush();
  } else if (std::chrono::steady_clock::now() - last_plain_ >= std::chrono::seconds(10)) {
    out() << "      ... " << progress << "\n";
    out().flush();
    last_plain_ = std::chrono::steady_clock::now();
  }
  return false;
}

Status Demo::SubmitJob() {
  ControlClientOptions co;
  co.endpoint = cluster_->broker_control();
  BTRQ_ASSIGN_OR_RETURN(broker_, BrokerClient::Create(co));
  // One job over the collection. Each stream's nominal rate and valid range (quality's
  // `rate`, `min`, `max`) reach the analytic from the stream's annotations, which the
  // broker passes as params; the defect thresholds come from the manifest.
  SubmitFlags f;
  f.collection = kCollection;
  f.chunk = o_.chunk;
  f.analytic = o_.analytic;
  f.name = "demo: " + o_.analytic + " of " + kCollection;
  if (o_.analytic == "quality") {
    f.params = {"stuck_min=" + std::to_string(manifest_->stuck_min),
                "gap_factor=" + FormatDouble(manifest_->gap_factor)};
  }
  v1::JobSpec spec;
  BTRQ_RETURN_IF_ERROR(ApplySubmitFlags(f, ctx_.clock->WallNanos(), &spec));
  BTRQ_RETURN_IF_ERROR(ValidateJobSpec(spec));
  BTRQ_ASSIGN_OR_RETURN(job_, broker_->SubmitJob(spec));
  out() << "[4/5] " << o_.analytic << " over " << o_.chunk << " chunks: job " << job_ << "\n";
  out().flush();
  return Status::OK();
}

Status Demo::FollowJob() {
  const auto start = std::chrono::steady_clock::now();
  auto last_plain = start - std::chrono::hours(1);
  for (;;) {
    if (Interrupted()) {
      if (ctx_.out_tty) out() << "\n";
      return InterruptedStatus();
    }
    Result<v1::Job> job = broker_->GetJob(job_);
    if (!job.ok()) return job.status().WithContext("following job " + std::to_string(job_));
    const std::string line = std::string(o_.analytic) + " " + ProgressLine(*job);
    const bool terminal = IsTerminal(job->state());
    const auto now = std::chrono::steady_clock::now();
    if (ctx_.out_tty) {
      out() << "\r      " << line << "\x1b[K";
      if (terminal) out() << "\n";
      out().flush();
    } else if (terminal || now - last_plain >= std::chrono::seconds(5)) {
      out() << "      " << line << "\n";
      out().flush();
      last_plain = now;
    }
    if (terminal) {
      final_job_ = std::move(*job);
      follow_seconds_ = std::chrono::duration<double>(now - start).count();
      return Status::OK();
    }
    SleepFor(kPollInterval);
  }
}

Status Demo::FetchResults() {
  ControlClientOptions co;
  co.endpoint = cluster_->sink_control();
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<SinkClient> sink, SinkClient::Create(co));
  std::string jsonl;
  // The incarnation the broker reported: the results of this job, never of an earlier one
  // that had the same id.
  const std::optional<JobNonce> nonce =
      final_job_.id() == job_ ? std::optional<JobNonce>(final_job_.nonce()) : std::nullopt;
  BTRQ_RETURN_IF_ERROR(sink->GetResults(job_, nonce, 0, [&](const v1::ResultBatch& batch) {
    for (const v1::Result& r : batch.results()) {
      BTRQ_ASSIGN_OR_RETURN(results::StoredResult stored, results::ResultFromProto(r));
      results::AppendJsonLine(stored, &jsonl);
      results_.push_back(std::move(stored));
    }
    return Status::OK();
  }).WithContext("results of job " + std::to_string(job_)));
  return WriteFileAtomically(results_path_, jsonl);
}

bool Demo::CheckTruth() {
  if (o_.analytic != "quality" || !manifest_) {
    out() << "\nGround truth\n  (checked for the quality analytic only)\n";
    return true;
  }
  const TruthCheck check = submitter::CheckTruth(*manifest_, results_);
  out() << RenderTruthCheck(check, manifest_->chunk_count);
  return check.ok();
}

void Demo::PrintWhere() {
  const std::string cli = self_ + " --config " + config_path_;
  out() << "\nResults\n";
  out() << "  run directory     " << run_.string() << " (also " << (run_.parent_path() / "latest").string()
        << ")\n";
  out() << "  JSON lines        " << results_path_ << " (" << results_.size() << " results)\n";
  out() << "  ground truth      " << manifest_path_ << "\n";
  out() << "  sink data         " << (run_ / "sink").string() << "\n";
  out() << "  logs              " << (run_ / "logs").string() << "\n";
  if (o_.keep) {
    out() << "  as CSV            " << self_ << " --broker " << cluster_->broker_control()
          << " --sink " << cluster_->sink_control() << " results " << job_
          << " --format csv\n";
  } else {
    out() << "  as CSV, later     " << bin_.sink << " --config " << config_path_ << " &\n"
          << "                    " << cli << " results " << job_
          << " --format csv\n";
  }
}

void Demo::KeepRunning() {
  const std::string pid_file = (run_ / "pids").string();
  std::string pids;
  out() << "\nLeft running (--keep)\n";
  std::vector<std::pair<std::string, Subprocess*>> running = {
      {"btrdb-lite", cluster_->process(Role::kBtrdb)},
      {"broker", cluster_->process(Role::kBroker)},
      {"sink", cluster_->process(Role::kSink)}};
  for (size_t i = 0; i < cluster_->workers(); ++i) {
    running.emplace_back("worker-" + std::to_string(i + 1), cluster_->process(Role::kWorker, i));
  }
  for (const auto& [name, p] : running) {
    if (p == nullptr || !p->Running()) continue;
    pids += std::to_string(p->pid()) + "\n";
    out() << "  " << name << " pid " << p->pid() << ", log " << p->log_path() << "\n";
  }
  if (Status s = WriteFileAtomically(pid_file, pids); !s.ok()) *ctx_.err << "btrq demo: " << s.message() << "\n";
  out() << "Try:\n"
        << "  export PATH=\"" << fs::path(self_).parent_path().string() << ":$PATH\"\n"
        << "  export BTRQ_CONFIG=" << config_path_ << "\n"
        << "  btrq jobs --all\n"
        << "  btrq status " << job_ << "\n"
        << "  btrq workers\n"
        << "  btrq submit --collection " << kCollection
        << " --analytic stats --param window=1h --wait\n"
        << "  btrq results " << job_ << " --format csv | head\n"
        << "  dashboard: http://" << cluster_->broker_http() << "/  (metrics: /metrics)\n"
        << "Stop them: kill $(cat " << pid_file << ")\n";
  // Forget them: nothing stops them when btrq exits.
  cluster_->ReleaseAll();
  cluster_.reset();
}

void Demo::StopAll(bool quiet, milliseconds grace) {
  if (cluster_ == nullptr) return;
  const cluster::StopReport report = cluster_->StopAll(grace);
  cluster_.reset();
  if (quiet || report.processes.empty()) return;
  std::vector<std::string> stopped;
  std::vector<std::string> exited;
  std::vector<std::string> killed;
  for (const cluster::StoppedProcess& p : report.processes) {
    const std::string what = p.name + " (pid " + std::to_string(p.pid);
    if (!p.had_exited) {
      stopped.push_back(what + ")");
    } else if (!p.helper) {
      exited.push_back(what + ", had exited)");
    }
    if (p.killed) killed.push_back(what + ")");
  }
  stopped.insert(stopped.end(), exited.begin(), exited.end());
  out() << "\nStopped " << stopped.size() << " processes:";
  for (size_t i = 0; i < stopped.size(); ++i) out() << (i == 0 ? " " : ", ") << stopped[i];
  out() << "\n";
  if (!killed.empty()) {
    out() << "  (needed SIGKILL after " << grace.count() / 1000 << " s:";
    for (const std::string& k : killed) out() << " " << k;
    out() << ")\n";
  }
  out().flush();
}

int Demo::Run() {
  const auto fail = [this](Status s, int code) {
    // A wait the signal cut short says so, as every other interrupted step does.
    if (Interrupted() && s.code() == StatusCode::kCancelled) s = InterruptedStatus();
    *ctx_.err << "btrq demo: " << s.message() << "\n";
    StopAll(/*quiet=*/false, kFailedStopGrace);
    if (Interrupted()) return 128 + g_signal.load();
    return code;
  };
  if (Status s = Validate(); !s.ok()) return fail(s, kExitUsage);
  Result<cluster::Binaries> bin = cluster::FindBinaries(o_.bin_dir);
  if (!bin.ok()) return fail(bin.status(), kExitError);
  bin_ = *bin;
  self_ = SelfPath();
  if (Status s = MakeRunDir(); !s.ok()) return fail(s, kExitError);

  out() << "btrq demo: " << o_.streams << " streams x " << o_.duration << " x " << o_.rate_hz
        << " Hz, " << o_.analytic << " over " << o_.chunk << " chunks, " << o_.workers << " "
        << (o_.workers == 1 ? "worker" : "workers") << "\n"
        << "run directory: " << run_.string() << "\n";
  out().flush();

  for (const auto& step : {&Demo::StartLite, &Demo::StartGenerate, &Demo::StartServices,
                           &Demo::WaitForGenerate, &Demo::SubmitJob, &Demo::FollowJob,
                           &Demo::FetchResults}) {
    if (Interrupted()) return fail(InterruptedStatus(), kExitError);
    if (Status s = (this->*step)(); !s.ok()) return fail(s, kExitError);
  }

  DemoReportInput report;
  report.job = &final_job_;
  report.results = &results_;
  report.manifest = manifest_ ? &*manifest_ : nullptr;
  report.follow_seconds = follow_seconds_;
  report.workers = o_.workers;
  report.threads = threads_;
  out() << RenderDemoSummary(report);
  const bool truth_ok = CheckTruth();
  PrintWhere();
  if (o_.keep) {
    KeepRunning();
  } else {
    StopAll(/*quiet=*/false, kStopGrace);
  }
  int code = kExitOk;
  const v1::JobState state = final_job_.state();
  if (state == v1::FAILED || state == v1::CANCELLED) {
    code = kExitJobFailed;
  } else if (final_job_.counts().dead() > 0) {
    code = kExitDeadLettered;
  } else if (!truth_ok) {
    code = kExitDemoMismatch;
  }
  if (Interrupted()) code = 128 + g_signal.load();
  return code;
}

}  // namespace

int RunDemo(const DemoOptions& options, const CommandContext& ctx) {
  SignalScope signals;
  Demo demo(options, ctx);
  return demo.Run();
}

}  // namespace btrq::submitter
