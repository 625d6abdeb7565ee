#pragma once

// One function per `btrq` subcommand. Each takes the client it needs, its options and a
// CommandContext (where output goes, whether it is a terminal, the clock), so tests run
// them against fake services. Errors are returned, not printed: RunCli (cli.h) prints them
// once. Human output goes to `out`; progress of `submit --wait` goes to `err` so that
// `out` carries only the job id.

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "btrq/v1/control.pb.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "submitter/broker_client.h"

namespace btrq::submitter {

// Exit codes of `btrq` (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,         // the broker or sink failed or is unreachable, or refused
  kExitDeadLettered = 2,  // submit --wait: the job ended with dead-lettered tasks
  kExitJobFailed = 3,     // submit --wait: the job failed or was cancelled
  kExitUsage = 64,        // bad flags, job file, config or values; nothing was sent
};

struct CommandContext {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool out_tty = false;  // stdout is a terminal: friendly lines, in-place redraws
  bool err_tty = false;  // stderr is a terminal: the --wait progress bar redraws with \r
  Clock* clock = nullptr;  // wall time for "now" and ages; steady time for pacing
  // Waits `ns` nanoseconds (between `top` refreshes).
  std::function<void(int64_t ns)> sleep;
};

struct SubmitOptions {
  bool wait = false;   // follow the job with WatchJob until it ends
  bool quiet = false;  // print only the job id
  int64_t watch_interval_ns = 0;  // asked of the broker; 0: its default
  // Without a terminal, a progress line at most this often (and at state changes).
  int64_t plain_interval_ns = 10'000'000'000;
  // A watch that breaks transiently (a broker restart) is resumed; give up after this long
  // without a working stream.
  int64_t reconnect_timeout_ns = 60'000'000'000;
  int64_t reconnect_delay_ns = 1'000'000'000;
};

// Submits `spec` (already validated), prints the job id, and with `wait` follows it.
// Returns the exit code: kExitOk, or with `wait` kExitDeadLettered / kExitJobFailed.
Result<int> Submit(BrokerClient& broker, const v1::JobSpec& spec, const SubmitOptions& options,
                   const CommandContext& ctx);
// Follows job `id` until it ends, drawing progress on ctx.err; the exit code as Submit's.
// Survives broker restarts: a transiently failed watch is resumed (ctx.sleep between tries).
Result<int> WaitForJob(BrokerClient& broker, JobId id, const SubmitOptions& options,
                       const CommandContext& ctx);

// `btrq status [JOB]`: one job in detail, or the broker's stats and every active job.
Status ShowStatus(BrokerClient& broker, std::optional<JobId> job, bool json,
                  const CommandContext& ctx);

struct TopOptions {
  int64_t interval_ns = 2'000'000'000;
  int iterations = 0;  // 0: until interrupted
};
// `btrq top`: stats, active jobs and workers, redrawn in place on a terminal (ANSI clear),
// as repeated blocks otherwise.
Status Top(BrokerClient& broker, const TopOptions& options, const CommandContext& ctx);

// `btrq jobs [--all] [--limit N]`.
Status ListJobs(BrokerClient& broker, bool include_finished, uint32_t limit, bool json,
                const CommandContext& ctx);
// `btrq show JOB`: the spec, counts and up to `dead_limit` dead letters.
Status ShowJob(BrokerClient& broker, JobId job, uint32_t dead_limit, bool json,
               const CommandContext& ctx);
Status CancelJob(BrokerClient& broker, JobId job, const CommandContext& ctx);
Status RetryJob(BrokerClient& broker, JobId job, const CommandContext& ctx);
Status ListWorkers(BrokerClient& broker, bool json, const CommandContext& ctx);
Status DrainWorker(BrokerClient& broker, const std::string& worker_id, const CommandContext& ctx);

enum class ResultFormat { kJsonl, kCsv };
struct ResultsOptions {
  JobId job = 0;
  // The job's incarnation (the broker's Job.nonce); nullopt: the sink's current one.
  std::optional<JobNonce> nonce;
  ResultFormat format = ResultFormat::kJsonl;
  // Empty: ctx.out. Otherwise written to "PATH.tmp-PID" and renamed into place when
  // complete, so PATH never holds a partial export.
  std::string out_path;
  uint32_t limit = 0;  // 0: all
};
// `btrq results JOB`: the sink's results, streamed, as JSON lines or CSV (sink/export.h).
Status ExportResults(SinkClient& sink, const ResultsOptions& options, const CommandContext& ctx);

struct KeygenOptions {
  std::string out_dir = ".";
  std::string name = "btrq";
  bool force = false;  // overwrite existing files
  bool lease_secret = false;  // NAME.lease, a lease secret, instead of a key pair
};
// `btrq keygen`: a CurveZMQ key pair as Z85 text, NAME.key (secret, mode 0600) and
// NAME.pub (0644), each one line; with lease_secret, NAME.lease (0600), the secret of
// broker.lease_secret_file and sink.lease_secret_file. kAlreadyExists when a file exists
// without `force`.
Status Keygen(const KeygenOptions& options, const CommandContext& ctx);

}  // namespace btrq::submitter
