#include "submitter/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/time_util.h"
#include "common/lease_token.h"
#include "common/zap.h"
#include "common/zmq_util.h"
#include "results/export.h"
#include "results/result_proto.h"
#include "common/json_writer.h"
#include "submitter/render.h"

namespace btrq::submitter {
namespace {

constexpr const char* kClearScreen = "\x1b[H\x1b[2J";
constexpr const char* kClearLine = "\x1b[K";

int ExitCodeFor(const v1::Job& job) {
  if (job.state() == v1::FAILED || job.state() == v1::CANCELLED) return kExitJobFailed;
  if (job.state() == v1::DONE_WITH_FAILURES || job.counts().dead() > 0) return kExitDeadLettered;
  return kExitOk;
}

std::string Summary(const v1::Job& job) {
  const v1::JobCounts& c = job.counts();
  std::string s = "job " + std::to_string(job.id()) + " " + std::string(JobStateName(job.state())) +
                  ": " + std::to_string(c.done()) + " done, " + std::to_string(c.dead()) +
                  " dead-lettered";
  if (c.cancelled() > 0) s += ", " + std::to_string(c.cancelled()) + " cancelled";
  if (!job.error().empty()) s += " (" + job.error() + ")";
  if (c.dead() > 0) s += "; see `btrq show " + std::to_string(job.id()) + "`";
  return s;
}

}  // namespace

// ---- submit ---------------------------------------------------------------------------------

Result<int> Submit(BrokerClient& broker, const v1::JobSpec& spec, const SubmitOptions& options,
                   const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(JobId id, broker.SubmitJob(spec));
  if (options.quiet || !ctx.out_tty) {
    *ctx.out << id << "\n";
  } else {
    *ctx.out << "submitted job " << id << " (" << spec.analytic() << ")";
    if (!options.wait) *ctx.out << "; follow it with `btrq status " << id << "`";
    *ctx.out << "\n";
  }
  ctx.out->flush();
  if (!options.wait) return static_cast<int>(kExitOk);
  return WaitForJob(broker, id, options, ctx);
}

Result<int> WaitForJob(BrokerClient& broker, JobId id, const SubmitOptions& options,
                       const CommandContext& ctx) {
  std::optional<v1::Job> last;
  bool drew_bar = false;
  std::optional<SteadyTime> last_plain;
  v1::JobState last_state = v1::JOB_STATE_UNSPECIFIED;

  const auto draw = [&](const v1::Job& job) {
    if (options.quiet) return;
    if (ctx.err_tty) {
      *ctx.err << "\r" << "job " << id << " " << JobStateName(job.state()) << " "
               << ProgressLine(job) << kClearLine;
      drew_bar = true;
    } else {
      const SteadyTime now = ctx.clock->Now();
      const bool due = !last_plain || job.state() != last_state ||
                       now - *last_plain >= Nanos(options.plain_interval_ns);
      if (!due) return;
      last_plain = now;
      *ctx.err << "job " << id << " " << JobStateName(job.state()) << " " << ProgressLine(job)
               << "\n";
    }
    last_state = job.state();
    ctx.err->flush();
  };

  std::optional<SteadyTime> failing_since;
  for (;;) {
    bool progressed = false;
    Status s = broker.WatchJob(id, options.watch_interval_ns, [&](const v1::Job& job) {
      progressed = true;
      last = job;
      if (!IsTerminal(job.state())) draw(job);
      return !IsTerminal(job.state());
    });
    if (s.ok()) break;
    const SteadyTime now = ctx.clock->Now();
    if (progressed || !failing_since) failing_since = now;
    if (!s.IsTransient() || now - *failing_since >= Nanos(options.reconnect_timeout_ns)) {
      if (drew_bar) *ctx.err << "\n";
      return s.WithContext("watching job " + std::to_string(id));
    }
    if (!options.quiet) {
      if (drew_bar) *ctx.err << "\n";
      drew_bar = false;
      *ctx.err << "lost the job's progress (" << s.message() << "); reconnecting\n";
    }
    ctx.sleep(options.reconnect_delay_ns);
  }
  if (drew_bar) *ctx.err << "\n";
  if (!last || !IsTerminal(last->state())) {
    // The stream ended without the final state (a broker restart): ask once.
    BTRQ_ASSIGN_OR_RETURN(v1::Job job, broker.GetJob(id));
    if (!IsTerminal(job.state())) {
      return Status::Unavailable("the broker stopped reporting job " + std::to_string(id) +
                                 " before it ended (state " +
                                 std::string(JobStateName(job.state())) +
                                 "); follow it with `btrq status " + std::to_string(id) + "`");
    }
    last = job;
  }
  if (!options.quiet) *ctx.err << Summary(*last) << "\n";
  return ExitCodeFor(*last);
}

// ---- read commands --------------------------------------------------------------------------

Status ShowStatus(BrokerClient& broker, std::optional<JobId> job, bool json,
                  const CommandContext& ctx) {
  if (job) {
    BTRQ_ASSIGN_OR_RETURN(v1::Job j, broker.GetJob(*job));
    if (json) {
      JsonWriter w;
      WriteJobJson(j, &w);
      *ctx.out << w.str() << "\n";
    } else {
      *ctx.out << RenderJobDetail(j);
    }
    return Status::OK();
  }
  BTRQ_ASSIGN_OR_RETURN(v1::BrokerStats stats, broker.GetStats());
  BTRQ_ASSIGN_OR_RETURN(BrokerClient::JobList list, broker.ListJobs(false, 0));
  const std::vector<v1::Job>& jobs = list.jobs;
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("stats");
    WriteStatsJson(stats, &w);
    w.Key("jobs").BeginArray();
    for (const v1::Job& j : jobs) WriteJobJson(j, &w);
    w.EndArray().EndObject();
    *ctx.out << w.str() << "\n";
    return Status::OK();
  }
  *ctx.out << RenderStats(stats);
  if (jobs.empty()) {
    *ctx.out << "no active jobs\n";
  } else {
    *ctx.out << RenderStatusTable(jobs);
  }
  return Status::OK();
}

Status Top(BrokerClient& broker, const TopOptions& options, const CommandContext& ctx) {
  for (int i = 0; options.iterations == 0 || i < options.iterations; ++i) {
    if (i > 0) ctx.sleep(options.interval_ns);
    BTRQ_ASSIGN_OR_RETURN(v1::BrokerStats stats, broker.GetStats());
    BTRQ_ASSIGN_OR_RETURN(BrokerClient::JobList list, broker.ListJobs(false, 0));
  const std::vector<v1::Job>& jobs = list.jobs;
    BTRQ_ASSIGN_OR_RETURN(std::vector<v1::Worker> workers, broker.ListWorkers());
    const int64_t now = ctx.clock->WallNanos();
    std::string block = "btrq top  " + broker.endpoint() + "  " + FormatWhen(now) + "\n";
    block += RenderStats(stats) + "\n";
    block += jobs.empty() ? "no active jobs\n" : RenderStatusTable(jobs);
    block += "\n" + RenderWorkerTable(workers, now);
    if (ctx.out_tty) {
      *ctx.out << kClearScreen << block;
    } else {
      if (i > 0) *ctx.out << "\n";
      *ctx.out << block;
    }
    ctx.out->flush();
  }
  return Status::OK();
}

Status ListJobs(BrokerClient& broker, bool include_finished, uint32_t limit, bool json,
                const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(BrokerClient::JobList list, broker.ListJobs(include_finished, limit));
  const std::vector<v1::Job>& jobs = list.jobs;
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("jobs").BeginArray();
    for (const v1::Job& j : jobs) WriteJobJson(j, &w);
    w.EndArray();
    if (list.omitted > 0) w.Key("omitted").Uint(list.omitted);
    w.EndObject();
    *ctx.out << w.str() << "\n";
    return Status::OK();
  }
  if (jobs.empty() && list.omitted == 0) {
    *ctx.out << (include_finished ? "no jobs\n" : "no active jobs (--all shows finished ones)\n");
  } else if (!jobs.empty()) {
    *ctx.out << RenderJobTable(jobs);
  }
  if (list.omitted > 0) {
    *ctx.out << "(" << list.omitted << " older jobs not shown: the broker caps its answer's "
             << "size; list fewer with --limit)\n";
  }
  return Status::OK();
}

Status ShowJob(BrokerClient& broker, JobId job, uint32_t dead_limit, bool json,
               const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(v1::Job j, broker.GetJob(job));
  std::vector<v1::DeadLetter> dead;
  if (j.counts().dead() > 0) {
    BTRQ_ASSIGN_OR_RETURN(dead, broker.ListDeadLetters(job, dead_limit));
  }
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("job");
    WriteJobJson(j, &w);
    w.Key("dead_letters").BeginArray();
    for (const v1::DeadLetter& d : dead) WriteDeadLetterJson(d, &w);
    w.EndArray().EndObject();
    *ctx.out << w.str() << "\n";
    return Status::OK();
  }
  *ctx.out << RenderJobDetail(j) << RenderSpec(j.spec());
  if (j.counts().dead() > 0) {
    *ctx.out << "dead letters (" << dead.size() << " of " << j.counts().dead()
             << "; `btrq retry " << job << "` requeues them)\n"
             << RenderDeadLetters(dead);
  }
  return Status::OK();
}

Status ListWorkers(BrokerClient& broker, bool json, const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(std::vector<v1::Worker> workers, broker.ListWorkers());
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("workers").BeginArray();
    for (const v1::Worker& worker : workers) WriteWorkerJson(worker, &w);
    w.EndArray().EndObject();
    *ctx.out << w.str() << "\n";
  } else {
    *ctx.out << RenderWorkerTable(workers, ctx.clock->WallNanos());
  }
  return Status::OK();
}

// ---- actions --------------------------------------------------------------------------------

Status CancelJob(BrokerClient& broker, JobId job, const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(v1::Job j, broker.CancelJob(job));
  *ctx.out << "job " << job << " " << JobStateName(j.state()) << ": " << j.counts().done()
           << " of " << j.counts().total() << " tasks were done\n";
  return Status::OK();
}

Status RetryJob(BrokerClient& broker, JobId job, const CommandContext& ctx) {
  BTRQ_ASSIGN_OR_RETURN(v1::Job j, broker.RetryJob(job));
  *ctx.out << "job " << job << " requeued its dead-lettered tasks; now "
           << JobStateName(j.state()) << "\n";
  return Status::OK();
}

Status DrainWorker(BrokerClient& broker, const std::string& worker_id, const CommandContext& ctx) {
  BTRQ_RETURN_IF_ERROR(broker.DrainWorker(worker_id));
  *ctx.out << "worker " << worker_id << " is draining: it finishes its tasks and takes no more\n";
  return Status::OK();
}

// ---- results --------------------------------------------------------------------------------

Status ExportResults(SinkClient& sink, const ResultsOptions& options, const CommandContext& ctx) {
  // With --out, the file is replaced only once every result is written (destroyed
  // uncommitted, the writer removes its temp file).
  std::unique_ptr<AtomicFileWriter> file;
  if (!options.out_path.empty()) {
    BTRQ_ASSIGN_OR_RETURN(file, AtomicFileWriter::Create(options.out_path));
  }
  const auto write = [&](const std::string& text) -> Status {
    if (file) return file->Append(text);
    ctx.out->write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!*ctx.out) {
      return Status::IoError("cannot write the results: " + std::string(std::strerror(errno)));
    }
    return Status::OK();
  };

  // CSV takes its columns from every result, not the first page: a first pass collects
  // the field names (bounded by CsvWriter), the second writes the rows.
  std::unique_ptr<results::CsvWriter> csv;
  if (options.format == ResultFormat::kCsv) {
    csv = std::make_unique<results::CsvWriter>();
    BTRQ_RETURN_IF_ERROR(
        sink.GetResults(options.job, options.nonce, options.limit, [&](const v1::ResultBatch& batch) {
              for (const v1::Result& r : batch.results()) {
                BTRQ_ASSIGN_OR_RETURN(results::StoredResult stored, results::ResultFromProto(r));
                BTRQ_RETURN_IF_ERROR(csv->AddColumnsOf(stored));
              }
              return Status::OK();
            }).WithContext("results of job " + std::to_string(options.job)));
  }
  bool header_written = false;
  uint64_t count = 0;
  std::string buffer;
  Status s = sink.GetResults(options.job, options.nonce, options.limit, [&](const v1::ResultBatch& batch) {
    std::vector<results::StoredResult> page;
    page.reserve(static_cast<size_t>(batch.results_size()));
    for (const v1::Result& r : batch.results()) {
      BTRQ_ASSIGN_OR_RETURN(results::StoredResult stored, results::ResultFromProto(r));
      page.push_back(std::move(stored));
    }
    buffer.clear();
    if (csv) {
      if (!header_written) {
        csv->AppendHeader(&buffer);
        header_written = true;
      }
      for (const results::StoredResult& r : page) csv->AppendRow(r, &buffer);
    } else {
      for (const results::StoredResult& r : page) results::AppendJsonLine(r, &buffer);
    }
    BTRQ_RETURN_IF_ERROR(write(buffer));
    count += page.size();
    return Status::OK();
  });
  if (!s.ok()) return s.WithContext("results of job " + std::to_string(options.job));
  if (csv && !header_written) {
    // No results: the header of the fixed columns still makes a valid, empty table.
    buffer.clear();
    csv->AppendHeader(&buffer);
    BTRQ_RETURN_IF_ERROR(write(buffer));
  }
  if (!file) {
    ctx.out->flush();
    if (!*ctx.out) return Status::IoError("cannot write the results");
    return Status::OK();
  }
  BTRQ_RETURN_IF_ERROR(file->Commit());
  *ctx.err << "wrote " << count << " results of job " << options.job << " to "
           << options.out_path << "\n";
  return Status::OK();
}

// ---- keygen ---------------------------------------------------------------------------------

Status Keygen(const KeygenOptions& options, const CommandContext& ctx) {
  if (options.name.empty() || options.name.find('/') != std::string::npos) {
    return Status::InvalidArgument("--name must be a plain file name, not \"" + options.name + "\"");
  }
  struct stat st;
  if (::stat(options.out_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("--out-dir " + options.out_dir + " is not a directory");
  }
  if (options.lease_secret) {
    const std::string path = options.out_dir + "/" + options.name + ".lease";
    Status written = WriteNewLeaseSecret(path, options.force);
    if (written.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists(written.message() + " (use --force to overwrite it)");
    }
    BTRQ_RETURN_IF_ERROR(written);
    *ctx.out << "lease secret: " << path
             << " (mode 0600; give it to the broker and the sink only, as lease_secret_file)\n";
    return Status::OK();
  }
  Result<CurveKeyPair> pair = WriteKeyPair(options.out_dir, options.name, options.force);
  if (pair.status().code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists(pair.status().message() + " (use --force to overwrite it)");
  }
  BTRQ_RETURN_IF_ERROR(pair.status());
  const std::string base = options.out_dir + "/" + options.name;
  const std::string secret_path = base + ".key";
  const std::string public_path = base + ".pub";
  *ctx.out << "secret key: " << secret_path << " (mode 0600; keep it private)\n"
           << "public key: " << public_path << "\n"
           << pair->public_key << "\n";
  return Status::OK();
}

}  // namespace btrq::submitter
