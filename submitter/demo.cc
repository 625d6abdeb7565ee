#include "submitter/demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <yaml-cpp/yaml.h>

#include "btrdb/v5/btrdb.grpc.pb.h"

#include "common/file_util.h"
#include "common/number_format.h"
#include "common/subprocess.h"
#include "common/time_util.h"
#include "results/export.h"
#include "results/result_proto.h"
#include "submitter/broker_client.h"
#include "submitter/job_spec.h"
#include "submitter/render.h"

namespace btrq::submitter {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kReadyTimeout(30'000);  // per process, from its start
constexpr milliseconds kStopGrace(15'000);     // SIGTERM to SIGKILL
// After a failure: a worker whose broker is gone cannot finish its drain.
constexpr milliseconds kFailedStopGrace(3'000);
constexpr milliseconds kPollInterval(200);     // progress and interrupt checks
constexpr int kLogExcerptLines = 20;
constexpr size_t kWorstShown = 5;
constexpr size_t kMismatchesShown = 10;

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

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string LastLines(const std::string& text, int n) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < n; ++i) {
    const size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

// `count` TCP ports of 127.0.0.1 free a moment ago, distinct (all are held while picking).
Result<std::vector<int>> FreePorts(int count) {
  std::vector<int> fds;
  std::vector<int> ports;
  Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = Status::IoError("socket() failed");
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      status = Status::IoError("cannot bind a free port on 127.0.0.1");
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

// How many streams `collection` holds on the BTrDB server at `address`: the generator
// creates each stream just before loading it, so this is its progress. nullopt on error.
class StreamCounter {
 public:
  StreamCounter(const std::string& address, std::string collection)
      : stub_(v5api::BTrDB::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        collection_(std::move(collection)) {}

  std::optional<int> Count() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v5api::LookupStreamsParams params;
    params.set_collection(collection_);
    std::unique_ptr<grpc::ClientReader<v5api::LookupStreamsResponse>> reader =
        stub_->LookupStreams(&context, params);
    v5api::LookupStreamsResponse response;
    int n = 0;
    while (reader->Read(&response)) {
      if (response.stat().code() != 0) return std::nullopt;
      n += response.results_size();
    }
    if (!reader->Finish().ok()) return std::nullopt;
    return n;
  }

 private:
  std::unique_ptr<v5api::BTrDB::Stub> stub_;
  std::string collection_;
};

// ---- binaries -------------------------------------------------------------------------------

struct Binaries {
  std::string btrq;  // this program
  std::string lite, broker, sink, worker;
};

Result<Binaries> FindBinaries(const std::string& bin_dir) {
  std::vector<fs::path> roots;
  if (!bin_dir.empty()) {
    roots.push_back(fs::path(bin_dir));
  } else {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return Status::IoError("cannot read /proc/self/exe: " + ec.message());
    roots.push_back(exe.parent_path());
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  // An install puts them side by side; the build tree in one folder per component.
  const auto find = [&roots](const std::string& name,
                             const std::string& build_subdir) -> Result<std::string> {
    std::vector<fs::path> tried;
    for (const fs::path& root : roots) {
      tried.push_back(root / name);
      tried.push_back((root / ".." / build_subdir / name).lexically_normal());
      tried.push_back((root / build_subdir / name).lexically_normal());
    }
    for (const fs::path& p : tried) {
      if (::access(p.c_str(), X_OK) == 0) return p.string();
    }
    std::string list;
    for (const fs::path& p : tried) list += (list.empty() ? "" : ", ") + p.string();
    return Status::NotFound("cannot find " + name + " (looked for " + list +
                            "); build everything with scripts/build, or pass --bin-dir");
  };
  Binaries b;
  b.btrq = ec ? "btrq" : self.string();
  BTRQ_ASSIGN_OR_RETURN(b.lite, find("btrdb-lite", "lite"));
  BTRQ_ASSIGN_OR_RETURN(b.broker, find("btrq-broker", "broker"));
  BTRQ_ASSIGN_OR_RETURN(b.sink, find("btrq-sink", "sink"));
  BTRQ_ASSIGN_OR_RETURN(b.worker, find("btrq-worker", "worker"));
  return b;
}

// ---- the manifest ---------------------------------------------------------------------------

// The quality fields compared with the truth: integers exactly, doubles to 1e-9 relative.
constexpr const char* kTruthInts[] = {"count",     "duplicates",   "unique",
                                      "expected",  "gaps",         "nonfinite",
                                      "out_of_range", "longest_stuck", "stuck_runs"};
constexpr const char* kTruthDoubles[] = {"missing_seconds", "completeness", "score", "min", "max"};

struct TruthChunk {
  int64_t end = 0;
  std::map<std::string, double> fields;
};

struct ManifestStream {
  std::string name;  // "sensor03/voltage"
  std::string kind;
  std::map<int64_t, TruthChunk> chunks;  // by start
};

struct KindRange {
  std::string name;
  double min = 0;
  double max = 0;
};

struct Manifest {
  std::vector<KindRange> kinds;  // in the manifest's order
  int64_t stuck_min = 10;
  double gap_factor = 2;
  std::map<std::string, ManifestStream> streams;  // by UUID text
  size_t chunk_count = 0;
};

Result<Manifest> LoadManifest(const std::string& path) {
  try {
    const YAML::Node doc = YAML::LoadFile(path);
    Manifest m;
    m.stuck_min = doc["stuck_min"].as<int64_t>();
    m.gap_factor = doc["gap_factor"].as<double>();
    for (const auto& kind : doc["kinds"]) {
      m.kinds.push_back({kind.first.as<std::string>(), kind.second["min"].as<double>(),
                         kind.second["max"].as<double>()});
    }
    for (const YAML::Node& s : doc["streams"]) {
      ManifestStream stream;
      stream.name = s["name"].as<std::string>();
      stream.kind = s["kind"].as<std::string>();
      for (const YAML::Node& c : s["chunks"]) {
        TruthChunk chunk;
        chunk.end = c["end"].as<int64_t>();
        for (const char* f : kTruthInts) {
          chunk.fields[f] = static_cast<double>(c[f].as<int64_t>());
        }
        for (const char* f : kTruthDoubles) {
          if (c[f]) chunk.fields[f] = c[f].as<double>();
        }
        stream.chunks[c["start"].as<int64_t>()] = std::move(chunk);
        ++m.chunk_count;
      }
      m.streams[s["uuid"].as<std::string>()] = std::move(stream);
    }
    return m;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("cannot read the manifest " + path + ": " + e.what());
  }
}

// ---- results --------------------------------------------------------------------------------

std::optional<double> Number(const Fields& fields, const std::string& name) {
  for (const auto& [key, value] : fields) {
    if (key != name) continue;
    if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&value)) return *d;
    return std::nullopt;
  }
  return std::nullopt;
}

double Num(const Fields& fields, const std::string& name) {
  return Number(fields, name).value_or(0);
}

// Why a chunk lost score, worst first: "12.3 s missing in 3 gaps, 2 duplicates".
std::string Why(const Fields& f) {
  std::vector<std::pair<double, std::string>> reasons;  // (points affected, text)
  const double missing_points = std::max(0.0, Num(f, "expected") - Num(f, "unique"));
  const int64_t gaps = static_cast<int64_t>(Num(f, "gaps"));
  if (missing_points > 0 || gaps > 0) {
    std::string text = Fixed(Num(f, "missing_seconds"), 1) + " s missing";
    if (gaps > 0) text += " in " + Plural(gaps, "gap", "gaps");
    reasons.emplace_back(missing_points, text);
  }
  const int64_t duplicates = static_cast<int64_t>(Num(f, "duplicates"));
  if (duplicates > 0) {
    reasons.emplace_back(duplicates, Plural(duplicates, "duplicate", "duplicates"));
  }
  const int64_t stuck_runs = static_cast<int64_t>(Num(f, "stuck_runs"));
  if (stuck_runs > 0) {
    const int64_t longest = static_cast<int64_t>(Num(f, "longest_stuck"));
    reasons.emplace_back(longest, Plural(stuck_runs, "stuck run", "stuck runs") + " (longest " +
                                      std::to_string(longest) + " points)");
  }
  const int64_t out_of_range = static_cast<int64_t>(Num(f, "out_of_range"));
  if (out_of_range > 0) {
    reasons.emplace_back(out_of_range, Plural(out_of_range, "value", "values") + " out of range");
  }
  const int64_t nonfinite = static_cast<int64_t>(Num(f, "nonfinite"));
  if (nonfinite > 0) reasons.emplace_back(nonfinite, Plural(nonfinite, "NaN/Inf value", "NaN/Inf values"));
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out;
  for (const auto& [weight, text] : reasons) out += (out.empty() ? "" : ", ") + text;
  return out.empty() ? "-" : out;
}

bool Close(double got, double want) {
  if (got == want) return true;
  return std::fabs(got - want) <= 1e-9 * std::max(std::fabs(got), std::fabs(want));
}

// ---- the demo -------------------------------------------------------------------------------

struct Child {
  std::string name;  // "broker", "worker-1"
  int tier = 0;      // stopped in order: 0 workers, 1 broker and sink, 2 btrdb-lite
  std::unique_ptr<Subprocess> process;
};

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
  Status WriteConfig();
  Status StartGenerate();
  Status StartServices();
  Status WaitForGenerate();
  Status SubmitJob();
  Status FollowJob();
  Status FetchResults();
  void PrintSummary();
  bool CheckTruth();
  void PrintWhere();
  void KeepRunning();
  // Stops every child still running, in tiers (workers, broker and sink, btrdb-lite): SIGTERM,
  // then SIGKILL after `grace`. Unless `quiet`, lists them with their pids.
  void StopAll(bool quiet, milliseconds grace);

  // Starts `argv` logging to logs/NAME.log.
  Result<Child*> Spawn(const std::string& name, int tier, const std::vector<std::string>& argv);
  // Waits for a line matching `pattern` in the child's log; a clear error otherwise.
  Result<std::string> WaitReady(Child* child, const std::string& pattern);
  // Prints `status` and the end of `child`'s log; returns `status`.
  Status Failed(const Child* child, Status status);

  const DemoOptions& o_;
  const CommandContext& ctx_;
  int64_t duration_ns_ = 0;
  int64_t chunk_ns_ = 0;
  int threads_ = 1;
  Binaries bin_;
  fs::path run_;
  std::string config_path_;
  std::string manifest_path_;
  std::string results_path_;
  std::vector<std::unique_ptr<Child>> children_;
  Child* generate_ = nullptr;
  std::string lite_address_;
  int broker_control_ = 0, broker_tasks_ = 0, broker_http_ = 0;
  int sink_results_ = 0, sink_control_ = 0, sink_http_ = 0;
  std::string generate_line_;
  std::optional<Manifest> manifest_;
  std::unique_ptr<BrokerClient> broker_;
  JobId job_ = 0;
  v1::Job final_job_;
  double follow_seconds_ = 0;
  std::vector<results::StoredResult> results_;
  bool reported_ = false;  // the error was printed (with a log excerpt) where it happened
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
  for (const char* sub : {"logs", "broker", "sink"}) {
    fs::create_directories(run_ / sub, ec);
    if (ec) return Status::IoError("cannot create " + (run_ / sub).string() + ": " + ec.message());
  }
  config_path_ = (run_ / "config.yaml").string();
  manifest_path_ = (run_ / "manifest.json").string();
  results_path_ = (run_ / "results.jsonl").string();
  // DIR/latest -> the newest run (a real file or folder named "latest" is left alone).
  const fs::path latest = dir / "latest";
  if (fs::is_symlink(latest, ec)) fs::remove(latest, ec);
  if (!fs::exists(latest, ec)) fs::create_directory_symlink(run_.filename(), latest, ec);
  return Status::OK();
}

Result<Child*> Demo::Spawn(const std::string& name, int tier,
                           const std::vector<std::string>& argv) {
  SpawnOptions so;
  so.log_path = (run_ / "logs" / (name + ".log")).string();
  so.new_process_group = true;
  so.die_with_parent = !o_.keep;
  Result<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv, so);
  if (!p.ok()) return p.status().WithContext("starting " + name);
  auto child = std::make_unique<Child>();
  child->name = name;
  child->tier = tier;
  child->process = std::move(*p);
  children_.push_back(std::move(child));
  return children_.back().get();
}

Result<std::string> Demo::WaitReady(Child* child, const std::string& pattern) {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  for (;;) {
    if (Interrupted()) return InterruptedStatus();
    Result<std::string> line = child->process->WaitForLine(pattern, kPollInterval);
    if (line.ok()) return line;
    if (line.status().code() != StatusCode::kDeadlineExceeded) {
      Result<int> code = child->process->Wait(milliseconds(2000));
      return Failed(child, Status::Unavailable(
                               child->name + " exited" +
                               (code.ok() ? " with code " + std::to_string(*code) : std::string()) +
                               " before it was ready"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Failed(child, Status::DeadlineExceeded(
                               child->name + " was not ready within " +
                               std::to_string(kReadyTimeout.count() / 1000) + " s"));
    }
  }
}

Status Demo::Failed(const Child* child, Status status) {
  const std::string log = child->process->Stdout();
  *ctx_.err << "btrq demo: " << status.message() << "\n";
  if (!log.empty()) {
    *ctx_.err << "--- last lines of " << child->process->log_path() << " ---\n"
              << LastLines(log, kLogExcerptLines);
    if (log.back() != '\n') *ctx_.err << "\n";
    *ctx_.err << "---\n";
  }
  // Printed here with its context; Run() must not print it again.
  reported_ = true;
  return status;
}

Status Demo::StartLite() {
  BTRQ_ASSIGN_OR_RETURN(Child * lite, Spawn("btrdb-lite", 2,
                                            {bin_.lite, "serve", "--listen", "127.0.0.1:0",
                                             "--log-level", "warn"}));
  BTRQ_ASSIGN_OR_RETURN(std::string line, WaitReady(lite, "^btrdb-lite: ready on "));
  lite_address_ = line.substr(line.find(" on ") + 4);
  out() << "[1/5] btrdb-lite ready on " << lite_address_ << " (in memory, pid "
        << lite->process->pid() << ")\n";
  out().flush();
  return Status::OK();
}

Status Demo::WriteConfig() {
  BTRQ_ASSIGN_OR_RETURN(std::vector<int> ports, FreePorts(6));
  broker_control_ = ports[0];
  broker_tasks_ = ports[1];
  broker_http_ = ports[2];
  sink_results_ = ports[3];
  sink_control_ = ports[4];
  sink_http_ = ports[5];
  const auto host = [](int port) { return YamlQuote("127.0.0.1:" + std::to_string(port)); };
  const auto zmq = [](int port) { return YamlQuote("tcp://127.0.0.1:" + std::to_string(port)); };
  std::string y;
  y += "# btrq demo: every process of this run was started with --config " + config_path_ + "\n";
  y += "# Use it with the CLI: btrq --config " + config_path_ + " status\n";
  y += "log:\n  level: info\n  format: text\n";
  y += "btrdb:\n  endpoints: " + YamlQuote(lite_address_) + "\n  tls: \"off\"\n";
  y += "broker:\n";
  y += "  control_listen: " + host(broker_control_) + "\n";
  y += "  tasks_listen: " + zmq(broker_tasks_) + "\n";
  y += "  http_listen: " + host(broker_http_) + "\n";
  y += "  data_dir: " + YamlQuote((run_ / "broker").string()) + "\n";
  y += "sink:\n";
  y += "  listen: " + zmq(sink_results_) + "\n";
  y += "  control_listen: " + host(sink_control_) + "\n";
  y += "  http_listen: " + host(sink_http_) + "\n";
  y += "  data_dir: " + YamlQuote((run_ / "sink").string()) + "\n";
  y += "worker:\n";
  y += "  broker: " + zmq(broker_tasks_) + "\n";
  y += "  sink: " + zmq(sink_results_) + "\n";
  y += "  threads: " + std::to_string(threads_) + "\n";
  y += "control:\n";
  y += "  broker: " + host(broker_control_) + "\n";
  y += "  sink: " + host(sink_control_) + "\n";
  return WriteFileAtomically(config_path_, y);
}

Status Demo::StartGenerate() {
  BTRQ_ASSIGN_OR_RETURN(generate_, Spawn("generate", 2,
                                         {bin_.lite, "generate", "--endpoint", lite_address_,
                                          "--streams", std::to_string(o_.streams),
                                          "--duration", o_.duration,
                                          "--rate", std::to_string(o_.rate_hz),
                                          "--seed", std::to_string(o_.seed),
                                          "--manifest", manifest_path_,
                                          "--manifest-chunk", o_.chunk}));
  return Status::OK();
}

Status Demo::StartServices() {
  const std::vector<std::string> config = {"--config", config_path_};
  const auto with_config = [&config](std::vector<std::string> argv) {
    argv.insert(argv.end(), config.begin(), config.end());
    return argv;
  };
  BTRQ_ASSIGN_OR_RETURN(Child * broker, Spawn("broker", 1, with_config({bin_.broker})));
  BTRQ_ASSIGN_OR_RETURN(Child * sink, Spawn("sink", 1, with_config({bin_.sink})));
  std::vector<Child*> workers;
  for (int i = 1; i <= o_.workers; ++i) {
    BTRQ_ASSIGN_OR_RETURN(Child * w, Spawn("worker-" + std::to_string(i), 0,
                                           with_config({bin_.worker})));
    workers.push_back(w);
  }
  BTRQ_RETURN_IF_ERROR(WaitReady(broker, "btrq-broker: ready").status());
  BTRQ_RETURN_IF_ERROR(WaitReady(sink, "btrq-sink: ready").status());
  for (Child* w : workers) BTRQ_RETURN_IF_ERROR(WaitReady(w, "btrq-worker: ready").status());
  out() << "[2/5] broker ready on 127.0.0.1:" << broker_control_ << " (pid "
        << broker->process->pid() << "), sink on 127.0.0.1:" << sink_control_ << " (pid "
        << sink->process->pid() << "), " << o_.workers << " "
        << (o_.workers == 1 ? "worker" : "workers") << " x " << threads_ << " "
        << (threads_ == 1 ? "thread" : "threads") << " (pids";
  for (Child* w : workers) out() << " " << w->process->pid();
  out() << ")\n";
  out().flush();
  return Status::OK();
}

Status Demo::WaitForGenerate() {
  const double points = static_cast<double>(o_.streams) * static_cast<double>(o_.rate_hz) *
                        static_cast<double>(duration_ns_) / 1e9;
  const std::string what = "[3/5] loading " + std::to_string(o_.streams) + " streams x " +
                           o_.duration + " x " + std::to_string(o_.rate_hz) + " Hz (~" +
                           FormatCount(points) + " points, with defects) into staging/sensors";
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  StreamCounter counter(lite_address_, "staging/sensors");
  auto last_plain = std::chrono::steady_clock::now();
  if (!ctx_.out_tty) {
    out() << what << " ...\n";
    out().flush();
  }
  for (;;) {
    if (Interrupted()) return InterruptedStatus();
    Result<int> code = generate_->process->Wait(milliseconds(ctx_.out_tty ? 1000 : 500));
    if (!code.ok()) {
      const std::optional<int> created = counter.Count();
      const std::string progress =
          (created && *created > 0
               ? "stream " + std::to_string(*created) + " of " + std::to_string(o_.streams) + ", "
               : std::string()) +
          Fixed(elapsed(), 0) + " s";
      if (ctx_.out_tty) {
        out() << "\r" << what << " ... " << progress << "\x1b[K";
        out().flush();
      } else if (std::chrono::steady_clock::now() - last_plain >= std::chrono::seconds(10)) {
        out() << "      ... " << progress << "\n";
        out().flush();
        last_plain = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (ctx_.out_tty) out() << "\r\x1b[K";
    if (*code != 0) {
      return Failed(generate_, Status::Unavailable("btrdb-lite generate failed with code " +
                                                   std::to_string(*code)));
    }
    break;
  }
  Result<std::string> line = generate_->process->WaitForLine("^generated ", milliseconds(0));
  generate_line_ = line.ok() ? *line : "generated the streams";
  out() << "[3/5] " << generate_line_ << "\n";
  out().flush();
  BTRQ_ASSIGN_OR_RETURN(manifest_, LoadManifest(manifest_path_));
  return Status::OK();
}

Status Demo::SubmitJob() {
  ControlClientOptions co;
  co.endpoint = "127.0.0.1:" + std::to_string(broker_control_);
  BTRQ_ASSIGN_OR_RETURN(broker_, BrokerClient::Create(co));
  // One job over the collection. Each stream's nominal rate and valid range (quality's
  // `rate`, `min`, `max`) reach the analytic from the stream's annotations, which the
  // broker passes as params; the defect thresholds come from the manifest.
  SubmitFlags f;
  f.collection = "staging/sensors";
  f.chunk = o_.chunk;
  f.analytic = o_.analytic;
  f.name = "demo: " + o_.analytic + " of staging/sensors";
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
  co.endpoint = "127.0.0.1:" + std::to_string(sink_control_);
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<SinkClient> sink, SinkClient::Create(co));
  std::string jsonl;
  BTRQ_RETURN_IF_ERROR(sink->GetResults(job_, 0, [&](const v1::ResultBatch& batch) {
    for (const v1::Result& r : batch.results()) {
      BTRQ_ASSIGN_OR_RETURN(results::StoredResult stored, results::ResultFromProto(r));
      results::AppendJsonLine(stored, &jsonl);
      results_.push_back(std::move(stored));
    }
    return Status::OK();
  }).WithContext("results of job " + std::to_string(job_)));
  return WriteFileAtomically(results_path_, jsonl);
}

void Demo::PrintSummary() {
  const v1::JobCounts& counts = final_job_.counts();
  const uint64_t done = counts.done(), dead = counts.dead(), cancelled = counts.cancelled();
  const int64_t first_submit = final_job_.submitted_at(), last_finish = final_job_.finished_at();
  int64_t points = 0;
  for (const results::StoredResult& r : results_) points += r.result.points_read;
  // The broker's own clock from submit to finish; the demo's otherwise.
  double seconds = follow_seconds_;
  if (first_submit > 0 && last_finish > first_submit) {
    seconds = static_cast<double>(last_finish - first_submit) / 1e9;
  }
  const double secs = std::max(seconds, 1e-3);

  out() << "\nSummary\n";
  out() << "  chunks processed  " << done << " of " << counts.total();
  if (dead > 0) out() << ", " << dead << " dead-lettered (btrq show JOB lists them)";
  if (cancelled > 0) out() << ", " << cancelled << " cancelled";
  out() << " (job " << job_ << ")\n";
  out() << "  points read       " << Grouped(points)
        << (points == 0 ? " (the analytic read no raw points)" : "") << "\n";
  out() << "  wall time         " << Fixed(seconds, 2) << " s (submit to last result)\n";
  out() << "  throughput        ";
  if (points > 0) out() << FormatCount(static_cast<double>(points) / secs) << " points/s, ";
  out() << Fixed(static_cast<double>(done) / secs, 1) << " chunks/s with "
        << o_.workers << " x " << threads_ << " worker " << (threads_ == 1 ? "thread" : "threads")
        << "\n";

  const auto stream_name = [this](const results::StoredResult& r) {
    const std::string uuid = r.result.task.key.stream.ToString();
    if (manifest_) {
      auto it = manifest_->streams.find(uuid);
      if (it != manifest_->streams.end()) return it->second.name;
    }
    return uuid;
  };
  const bool scored = std::any_of(results_.begin(), results_.end(), [](const auto& r) {
    return Number(r.result.fields, "score").has_value();
  });
  if (!scored) return;

  // Worst streams: the lowest mean chunk score, with the defects of all their chunks.
  struct StreamAgg {
    std::string name;
    double score_sum = 0;
    int64_t chunks = 0;
    Fields totals;
  };
  std::map<std::string, StreamAgg> streams;
  for (const results::StoredResult& r : results_) {
    StreamAgg& s = streams[r.result.task.key.stream.ToString()];
    s.name = stream_name(r);
    s.score_sum += Num(r.result.fields, "score");
    ++s.chunks;
    for (const char* f : {"expected", "unique", "gaps", "missing_seconds", "duplicates",
                          "stuck_runs", "out_of_range", "nonfinite"}) {
      auto it = std::find_if(s.totals.begin(), s.totals.end(),
                             [f](const auto& kv) { return kv.first == f; });
      if (it == s.totals.end()) {
        s.totals.emplace_back(f, Num(r.result.fields, f));
      } else {
        it->second = std::get<double>(it->second) + Num(r.result.fields, f);
      }
    }
    // The longest stuck run of the stream, not a sum.
    auto it = std::find_if(s.totals.begin(), s.totals.end(),
                           [](const auto& kv) { return kv.first == "longest_stuck"; });
    const double longest = Num(r.result.fields, "longest_stuck");
    if (it == s.totals.end()) {
      s.totals.emplace_back("longest_stuck", longest);
    } else {
      it->second = std::max(std::get<double>(it->second), longest);
    }
  }
  std::vector<const StreamAgg*> by_score;
  for (const auto& [uuid, s] : streams) by_score.push_back(&s);
  std::sort(by_score.begin(), by_score.end(), [](const StreamAgg* a, const StreamAgg* b) {
    const double sa = a->score_sum / static_cast<double>(a->chunks);
    const double sb = b->score_sum / static_cast<double>(b->chunks);
    return sa != sb ? sa < sb : a->name < b->name;
  });
  out() << "\nWorst streams (mean chunk score; 1 is perfect)\n";
  size_t clean_streams = 0;
  for (const StreamAgg* s : by_score) {
    if (s->score_sum >= static_cast<double>(s->chunks)) ++clean_streams;
  }
  size_t shown = 0;
  for (const StreamAgg* s : by_score) {
    const double mean = s->score_sum / static_cast<double>(s->chunks);
    if (shown == kWorstShown || mean >= 1) break;
    char row[160];
    std::snprintf(row, sizeof(row), "  %.6f  %-20s  ", mean, s->name.c_str());
    out() << row << Why(s->totals) << "\n";
    ++shown;
  }
  if (shown == 0) out() << "  every stream scored 1\n";
  out() << "  (" << clean_streams << " of " << streams.size() << " streams are perfect)\n";

  // Worst chunks.
  std::vector<const results::StoredResult*> chunks;
  for (const results::StoredResult& r : results_) chunks.push_back(&r);
  std::stable_sort(chunks.begin(), chunks.end(), [](const auto* a, const auto* b) {
    return Num(a->result.fields, "score") < Num(b->result.fields, "score");
  });
  out() << "\nWorst chunks (score, stream, chunk start, why)\n";
  shown = 0;
  for (const results::StoredResult* r : chunks) {
    const double score = Num(r->result.fields, "score");
    if (shown == kWorstShown || score >= 1) break;
    char row[200];
    std::snprintf(row, sizeof(row), "  %.6f  %-20s  %s  ", score, stream_name(*r).c_str(),
                  FormatTimestamp(r->result.task.key.start, 0).c_str());
    out() << row << Why(r->result.fields) << "\n";
    ++shown;
  }
  if (shown == 0) out() << "  every chunk scored 1\n";
}

bool Demo::CheckTruth() {
  out() << "\nGround truth\n";
  if (o_.analytic != "quality" || !manifest_) {
    out() << "  (checked for the quality analytic only)\n";
    return true;
  }
  std::vector<std::string> problems;
  size_t matched = 0;
  std::map<std::string, std::map<int64_t, bool>> seen;
  for (const results::StoredResult& r : results_) {
    const std::string uuid = r.result.task.key.stream.ToString();
    const int64_t start = r.result.task.key.start;
    auto s = manifest_->streams.find(uuid);
    const std::string where =
        (s != manifest_->streams.end() ? s->second.name : uuid) + " " + FormatTimestamp(start, 0);
    if (s == manifest_->streams.end() || !s->second.chunks.count(start)) {
      problems.push_back(where + ": a result the manifest has no chunk for");
      continue;
    }
    seen[uuid][start] = true;
    const TruthChunk& truth = s->second.chunks.at(start);
    std::string diffs;
    for (const auto& [field, want] : truth.fields) {
      const std::optional<double> got = Number(r.result.fields, field);
      if (got && Close(*got, want)) continue;
      diffs += (diffs.empty() ? "" : ", ") + field + " " +
               (got ? FormatDouble(*got) : std::string("missing")) + " (truth " + FormatDouble(want) +
               ")";
    }
    if (diffs.empty()) {
      ++matched;
    } else {
      problems.push_back(where + ": " + diffs);
    }
  }
  for (const auto& [uuid, stream] : manifest_->streams) {
    for (const auto& [start, chunk] : stream.chunks) {
      if (!seen[uuid].count(start)) {
        problems.push_back(stream.name + " " + FormatTimestamp(start, 0) + ": no result");
      }
    }
  }
  if (problems.empty()) {
    out() << "  results match the generator's ground truth: " << matched << "/"
          << manifest_->chunk_count << " chunks\n";
    return true;
  }
  out() << "  results DIFFER from the generator's ground truth: " << matched << "/"
        << manifest_->chunk_count << " chunks match\n";
  for (size_t i = 0; i < problems.size() && i < kMismatchesShown; ++i) {
    out() << "  " << problems[i] << "\n";
  }
  if (problems.size() > kMismatchesShown) {
    out() << "  ... and " << problems.size() - kMismatchesShown << " more\n";
  }
  return false;
}

void Demo::PrintWhere() {
  const std::string cli = bin_.btrq + " --config " + config_path_;
  out() << "\nResults\n";
  out() << "  run directory     " << run_.string() << " (also " << (run_.parent_path() / "latest").string()
        << ")\n";
  out() << "  JSON lines        " << results_path_ << " (" << results_.size() << " results)\n";
  out() << "  ground truth      " << manifest_path_ << "\n";
  out() << "  sink data         " << (run_ / "sink").string() << "\n";
  out() << "  logs              " << (run_ / "logs").string() << "\n";
  if (o_.keep) {
    out() << "  as CSV            " << bin_.btrq << " --broker 127.0.0.1:" << broker_control_
          << " --sink 127.0.0.1:" << sink_control_ << " results " << job_
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
  for (const auto& c : children_) {
    if (c.get() == generate_ || !c->process->Running()) continue;
    pids += std::to_string(c->process->pid()) + "\n";
    out() << "  " << c->name << " pid " << c->process->pid() << ", log "
          << c->process->log_path() << "\n";
  }
  if (Status s = WriteFileAtomically(pid_file, pids); !s.ok()) *ctx_.err << "btrq demo: " << s.message() << "\n";
  out() << "Try:\n"
        << "  export PATH=\"" << fs::path(bin_.btrq).parent_path().string() << ":$PATH\"\n"
        << "  export BTRQ_CONFIG=" << config_path_ << "\n"
        << "  btrq jobs --all\n"
        << "  btrq status " << job_ << "\n"
        << "  btrq workers\n"
        << "  btrq submit --collection staging/sensors --analytic stats --param window=1h --wait\n"
        << "  btrq results " << job_ << " --format csv | head\n"
        << "  dashboard: http://127.0.0.1:" << broker_http_ << "/  (metrics: /metrics)\n"
        << "Stop them: kill $(cat " << pid_file << ")\n";
  // Forget them: nothing stops them when btrq exits.
  for (const auto& c : children_) c->process->Release();
  children_.clear();
}

void Demo::StopAll(bool quiet, milliseconds grace) {
  if (children_.empty()) return;
  std::vector<std::string> stopped;
  std::vector<std::string> killed;
  for (int tier = 0; tier <= 2; ++tier) {
    std::vector<Child*> group;
    for (const auto& c : children_) {
      if (c->tier == tier && c->process->Running()) group.push_back(c.get());
    }
    for (Child* c : group) (void)c->process->Kill(SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (Child* c : group) {
      const auto left = std::chrono::duration_cast<milliseconds>(
          deadline - std::chrono::steady_clock::now());
      Result<int> code = c->process->Wait(std::max(left, milliseconds(0)));
      const std::string what = c->name + " (pid " + std::to_string(c->process->pid()) + ")";
      if (!code.ok()) {
        (void)c->process->Kill(SIGKILL);
        (void)c->process->Wait(milliseconds(10'000));
        killed.push_back(what);
      }
      stopped.push_back(what);
    }
  }
  for (const auto& c : children_) {
    if (c.get() == generate_) continue;
    if (std::find_if(stopped.begin(), stopped.end(), [&c](const std::string& s) {
          return s.rfind(c->name + " ", 0) == 0;
        }) == stopped.end()) {
      stopped.push_back(c->name + " (pid " + std::to_string(c->process->pid()) + ", had exited)");
    }
  }
  children_.clear();
  if (quiet) return;
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
  const auto fail = [this](const Status& s, int code) {
    if (!reported_) *ctx_.err << "btrq demo: " << s.message() << "\n";
    StopAll(/*quiet=*/false, kFailedStopGrace);
    if (Interrupted()) return 128 + g_signal.load();
    return code;
  };
  if (Status s = Validate(); !s.ok()) return fail(s, kExitUsage);
  Result<Binaries> bin = FindBinaries(o_.bin_dir);
  if (!bin.ok()) return fail(bin.status(), kExitError);
  bin_ = *bin;
  if (Status s = MakeRunDir(); !s.ok()) return fail(s, kExitError);

  out() << "btrq demo: " << o_.streams << " streams x " << o_.duration << " x " << o_.rate_hz
        << " Hz, " << o_.analytic << " over " << o_.chunk << " chunks, " << o_.workers << " "
        << (o_.workers == 1 ? "worker" : "workers") << "\n"
        << "run directory: " << run_.string() << "\n";
  out().flush();

  for (const auto& step : {&Demo::StartLite, &Demo::WriteConfig, &Demo::StartGenerate,
                           &Demo::StartServices, &Demo::WaitForGenerate, &Demo::SubmitJob,
                           &Demo::FollowJob, &Demo::FetchResults}) {
    if (Interrupted()) return fail(InterruptedStatus(), kExitError);
    if (Status s = (this->*step)(); !s.ok()) return fail(s, kExitError);
  }

  PrintSummary();
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
