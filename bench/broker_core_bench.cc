// Scheduler throughput: one job of N chunks dispatched to a fake worker that completes
// each batch at once, in the order the dispatcher loop would call the scheduler.
// Runs without a journal, then with one (group commit, fdatasync) in a temp dir, then
// times replay and compaction of that journal.
//
// Prints wall time, tasks/s and the CPU time of the calling (loop) thread per task, plus
// the whole process's (which includes the journal's sync thread).
//
// Usage: broker_core_bench [tasks (default 1000000)] [streams (default 100)] [batch (256)]

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "broker/scheduler.h"
#include "common/clock.h"
#include "tests/support/fake_stream_catalog.h"

namespace btrq::broker {
namespace {

using Seconds = std::chrono::duration<double>;

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

double CpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct RunResult {
  double seconds = 0;
  double thread_cpu = 0;   // the loop thread
  double process_cpu = 0;  // every thread
  uint64_t tasks = 0;
};

void Print(const char* label, const RunResult& r) {
  std::printf("%-17s %8.3f s  %10.0f tasks/s  loop cpu %6.3f us/task  process cpu %6.3f us/task",
              label, r.seconds, r.tasks / r.seconds, r.thread_cpu * 1e6 / r.tasks,
              r.process_cpu * 1e6 / r.tasks);
}

Result<RunResult> Run(Scheduler& s, uint64_t streams, int64_t chunks_per_stream, size_t batch) {
  JobSpec spec;
  spec.collection = "bench";
  spec.analytic = "noop";
  spec.chunk = 1'000'000'000;
  bool durable = false;
  BTRQ_ASSIGN_OR_RETURN(JobId id, s.SubmitJob(spec, [&](const Status& st) { durable = st.ok(); }));
  BTRQ_RETURN_IF_ERROR(s.SyncJournal());
  if (!durable) return Status::Internal("job not durable");
  HelloMsg hello;
  hello.worker_id = "bench-worker";
  hello.analytics = {"noop"};
  s.OnWorkerHello(hello);
  BTRQ_RETURN_IF_ERROR(s.OnWorkerCredit(hello.worker_id, static_cast<uint32_t>(batch)));

  const auto t0 = std::chrono::steady_clock::now();
  const double thread0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const double process0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t tasks = 0;
  DoneMsg done;
  for (;;) {
    s.Expand();
    std::vector<TaskSpec> got = s.NextDispatch(hello.worker_id, batch);
    if (got.empty()) {
      BTRQ_RETURN_IF_ERROR(s.SyncJournal());  // let pending pins become durable
      s.Expand();
      got = s.NextDispatch(hello.worker_id, batch);
      if (got.empty()) break;
    }
    done.items.clear();
    for (const TaskSpec& t : got) done.items.push_back(DoneItem{TaskRef{t.key, t.attempt}});
    const DoneOutcome out = s.OnWorkerDone(hello.worker_id, done);
    if (out.accepted != got.size()) return Status::Internal("a DONE was rejected");
    tasks += got.size();
    BTRQ_RETURN_IF_ERROR(s.OnWorkerCredit(hello.worker_id, static_cast<uint32_t>(got.size())));
    BTRQ_RETURN_IF_ERROR(s.PollJournal());
  }
  BTRQ_RETURN_IF_ERROR(s.SyncJournal());
  const double secs = Seconds(std::chrono::steady_clock::now() - t0).count();
  const double thread_cpu = CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - thread0;
  const double process_cpu = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process0;
  BTRQ_ASSIGN_OR_RETURN(JobInfo info, s.GetJob(id));
  if (info.state != JobState::kDone || info.counts.done != streams * static_cast<uint64_t>(chunks_per_stream)) {
    return Status::Internal("job did not finish: " + std::string(JobStateName(info.state)));
  }
  return RunResult{secs, thread_cpu, process_cpu, tasks};
}

Status Main(uint64_t tasks, uint64_t streams, size_t batch) {
  const int64_t per_stream = static_cast<int64_t>(tasks / streams);
  std::printf("machine: %s, %ld cpus\n", CpuModel().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("job: %llu streams x %lld chunks = %llu tasks, dispatch batch %zu\n",
              static_cast<unsigned long long>(streams), static_cast<long long>(per_stream),
              static_cast<unsigned long long>(streams * per_stream), batch);

  btrq::testing::FakeStreamCatalog catalog;
  for (uint64_t i = 0; i < streams; ++i) {
    catalog.AddStream(btrq::testing::TestUuid(static_cast<uint32_t>(i + 1)), 0,
                      per_stream * 1'000'000'000 - 1);
  }
  Clock* clock = SystemClock::Default();
  SchedulerOptions options;

  {
    BTRQ_ASSIGN_OR_RETURN(auto s, Scheduler::Create(options, clock, &catalog, nullptr));
    BTRQ_ASSIGN_OR_RETURN(RunResult r, Run(*s, streams, per_stream, batch));
    Print("no journal:", r);
    std::printf("\n");
  }

  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("btrq-bench-" + std::to_string(getpid()))).string();
  JournalOptions jo;
  jo.dir = dir;
  {
    BTRQ_ASSIGN_OR_RETURN(auto journal, Journal::Open(jo, clock));
    BTRQ_ASSIGN_OR_RETURN(auto s, Scheduler::Create(options, clock, &catalog, std::move(journal)));
    BTRQ_ASSIGN_OR_RETURN(RunResult r, Run(*s, streams, per_stream, batch));
    const JournalStats& js = s->journal()->stats();
    Print("journal (fsync):", r);
    std::printf("  %llu records, %.1f MB, %llu writes, %llu fdatasyncs (%s)\n",
                static_cast<unsigned long long>(js.appended),
                js.bytes_written / 1e6, static_cast<unsigned long long>(js.writes),
                static_cast<unsigned long long>(js.syncs), dir.c_str());
  }
  {
    const auto t0 = std::chrono::steady_clock::now();
    BTRQ_ASSIGN_OR_RETURN(auto journal, Journal::Open(jo, clock));
    const uint64_t records = journal->recovery().records;
    BTRQ_ASSIGN_OR_RETURN(auto s, Scheduler::Create(options, clock, &catalog, std::move(journal)));
    const double replay = Seconds(std::chrono::steady_clock::now() - t0).count();
    std::printf("replay:           %8.3f s  %10.0f records/s\n", replay, records / replay);
    const auto t1 = std::chrono::steady_clock::now();
    const uint64_t before = s->journal()->file_bytes();
    BTRQ_RETURN_IF_ERROR(s->Compact());
    std::printf("compaction:       %8.3f s  %.1f MB -> %llu bytes\n",
                Seconds(std::chrono::steady_clock::now() - t1).count(), before / 1e6,
                static_cast<unsigned long long>(s->journal()->file_bytes()));
  }
  std::filesystem::remove_all(dir);
  return Status::OK();
}

}  // namespace
}  // namespace btrq::broker

int main(int argc, char** argv) {
  uint64_t tasks = 1'000'000;
  uint64_t streams = 100;
  size_t batch = 256;
  CLI::App app{"scheduler throughput without sockets, without and with the journal"};
  app.add_option("tasks", tasks, "tasks in the job")->capture_default_str();
  app.add_option("streams", streams, "streams they cover")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("batch", batch, "tasks per dispatch")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const btrq::Status s = btrq::broker::Main(tasks, streams, batch);
  if (!s.ok()) std::fprintf(stderr, "broker_core_bench: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
