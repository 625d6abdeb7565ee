#pragma once

// `btrq demo`: the whole system on one host in one command. Starts btrdb-lite (in memory),
// loads it with `btrdb-lite generate` (synthetic sensor streams with injected defects and
// a manifest of the ground truth), starts btrq-broker, btrq-sink and `workers` btrq-worker
// processes on free ports of 127.0.0.1, submits one `quality` job over the collection (the
// broker passes each stream's rate/min/max annotations as params), shows its progress,
// prints a summary (chunks,
// points, throughput, the worst streams and chunks and why), checks every result against
// the manifest, says where the results are, and stops every process it started.
//
// Files, under DIR/run-YYYYMMDD-HHMMSS/ (DIR/latest points at the newest run):
//   config.yaml     the config every process was started with (--config)
//   manifest.json   the generator's ground truth
//   results.jsonl   every result, as `btrq results --format jsonl` writes them
//   broker/ sink/   the broker's journal and the sink's result store
//   logs/*.log      each process's stdout and stderr
//   pids            with --keep: the pids of the processes left running
//
// The sibling binaries (btrdb-lite, btrq-broker, btrq-sink, btrq-worker) are looked up next
// to the running btrq (an install) and in the build tree's layout (build/submitter/btrq
// beside build/broker/btrq-broker, ...).
//
// Children run in their own process groups (Ctrl-C reaches only btrq, which then stops
// them in order) and, unless --keep, die with btrq even if it is killed. SIGINT, SIGTERM
// and SIGHUP stop every child and give 128 + the signal number.

#include <cstdint>
#include <string>

#include "submitter/commands.h"

namespace btrq::submitter {

struct DemoOptions {
  int streams = 16;
  std::string duration = "3d";   // span of every stream
  int64_t rate_hz = 30;          // samples per second
  std::string chunk = "12h";     // task length (and the manifest's truth chunks)
  int workers = 2;
  int threads = 0;               // per worker; 0: hardware threads / workers, at least 1
  std::string dir = "var/demo";  // runs go in DIR/run-<timestamp>
  bool keep = false;             // leave the processes running and say how to use them
  std::string analytic = "quality";  // another analytic: one job, no ground-truth check
  uint64_t seed = 1;
  std::string bin_dir;           // where the binaries are; empty: found (see above)
};

// Exit code of `btrq demo` when the results differ from the generator's ground truth.
inline constexpr int kExitDemoMismatch = 4;

// Runs the demo; human output on ctx.out (progress redrawn in place when ctx.out_tty),
// errors on ctx.err as "btrq demo: MESSAGE" with an excerpt of the failing process's log.
// Returns kExitOk, kExitUsage for bad options, kExitError when a step fails,
// kExitDeadLettered / kExitJobFailed as `submit --wait`, kExitDemoMismatch, or 128 + signal
// when interrupted. Installs handlers for SIGINT, SIGTERM and SIGHUP while it runs.
int RunDemo(const DemoOptions& options, const CommandContext& ctx);

}  // namespace btrq::submitter
