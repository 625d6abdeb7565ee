// `btrq demo` as a user runs it: a small demo (2 streams x 1 day x 5 Hz, 12-hour chunks:
// 4 chunks) through the real binaries, twice in the same directory, and interrupted.

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::submitter {
namespace {

using ::testing::HasSubstr;

constexpr auto kDemoDeadline = std::chrono::seconds(180);

struct DemoRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::vector<std::string> DemoArgs(const std::string& dir) {
  return {BTRQ_BINARY, "demo",  "--streams", "2",     "--duration", "1d",
          "--rate",    "5",     "--workers", "2",     "--dir",      dir};
}

DemoRun RunBtrqDemo(const std::vector<std::string>& argv) {
  DemoRun run;
  auto child = testing::Subprocess::Spawn(argv);
  EXPECT_OK(child);
  if (!child.ok()) return run;
  auto code = (*child)->Wait(kDemoDeadline);
  EXPECT_OK(code);
  run.code = code.ok() ? *code : -1;
  // The reader threads may still be draining the pipes: wait for the streams to close.
  (void)(*child)->WaitForLine("$^", std::chrono::seconds(10));
  (void)(*child)->WaitForLine("$^", std::chrono::seconds(10), /*from_stderr=*/true);
  run.out = (*child)->Stdout();
  run.err = (*child)->Stderr();
  return run;
}

// Every "pid N" and "pids N N ..." the demo printed.
std::set<int> PidsIn(const std::string& text) {
  std::set<int> pids;
  const std::regex pid_list(R"(pids?((?: \d+)+))");
  for (std::sregex_iterator it(text.begin(), text.end(), pid_list), end; it != end; ++it) {
    const std::string list = (*it)[1];
    const std::regex number(R"(\d+)");
    for (std::sregex_iterator n(list.begin(), list.end(), number); n != end; ++n) {
      pids.insert(std::stoi(n->str()));
    }
  }
  return pids;
}

bool ProcessExists(int pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

size_t LineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

void ExpectSuccessfulRun(const DemoRun& run, const std::string& dir) {
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("[1/5] btrdb-lite ready on 127.0.0.1:"));
  EXPECT_THAT(run.out, HasSubstr("[3/5] generated 2 streams"));
  EXPECT_THAT(run.out, HasSubstr("chunks processed  4 of 4"));
  EXPECT_THAT(run.out, HasSubstr("points read"));
  EXPECT_THAT(run.out, HasSubstr("throughput"));
  EXPECT_THAT(run.out, HasSubstr("Worst streams"));
  EXPECT_THAT(run.out, HasSubstr("Worst chunks"));
  EXPECT_THAT(run.out, HasSubstr("results match the generator's ground truth: 4/4 chunks"));
  EXPECT_THAT(run.out, HasSubstr("Stopped 5 processes"));
  // The results and the ground truth are where the summary says.
  const std::string latest = dir + "/latest";
  EXPECT_THAT(run.out, HasSubstr(std::filesystem::canonical(latest).string() + "/results.jsonl"));
  EXPECT_EQ(LineCount(latest + "/results.jsonl"), 4u);
  EXPECT_TRUE(std::filesystem::exists(latest + "/manifest.json"));
  // Every process it started is gone.
  const std::set<int> pids = PidsIn(run.out);
  EXPECT_GE(pids.size(), 5u) << run.out;
  for (int pid : pids) EXPECT_FALSE(ProcessExists(pid)) << "pid " << pid << " still runs";
}

TEST(Demo, RunsEndToEndAndAgainInTheSameDirectory) {
  testing::TempDir dir;
  const DemoRun first = RunBtrqDemo(DemoArgs(dir.path()));
  ExpectSuccessfulRun(first, dir.path());
  const std::string first_run = std::filesystem::canonical(dir.File("latest")).string();

  const DemoRun second = RunBtrqDemo(DemoArgs(dir.path()));
  ExpectSuccessfulRun(second, dir.path());
  EXPECT_NE(std::filesystem::canonical(dir.File("latest")).string(), first_run)
      << "a second run gets a fresh run directory";
  EXPECT_TRUE(std::filesystem::exists(first_run + "/results.jsonl"))
      << "the first run's results are kept";
}

TEST(Demo, CtrlCStopsEveryProcessItStarted) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto demo, testing::Subprocess::Spawn(DemoArgs(dir.path())));
  auto ready = demo->WaitForLine(R"(^\[2/5\] broker ready)", std::chrono::seconds(60));
  ASSERT_TRUE(ready.ok()) << ready.status().ToString() << "\n" << demo->Stdout() << demo->Stderr();
  ASSERT_OK(demo->Kill(SIGINT));
  ASSERT_OK_AND_ASSIGN(int code, demo->Wait(std::chrono::seconds(60)));
  (void)demo->WaitForLine("$^", std::chrono::seconds(10));
  const std::string out = demo->Stdout();
  EXPECT_EQ(code, 128 + SIGINT) << out << demo->Stderr();
  EXPECT_THAT(out, HasSubstr("Stopped "));
  const std::set<int> pids = PidsIn(out);
  EXPECT_GE(pids.size(), 4u) << out;
  for (int pid : pids) EXPECT_FALSE(ProcessExists(pid)) << "pid " << pid << " still runs";
}

TEST(Demo, MissingBinariesAreAClearError) {
  testing::TempDir dir;
  std::vector<std::string> argv = DemoArgs(dir.path());
  argv.insert(argv.end(), {"--bin-dir", dir.File("nowhere")});
  const DemoRun run = RunBtrqDemo(argv);
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("btrq demo: cannot find btrdb-lite"));
  EXPECT_THAT(run.err, HasSubstr("scripts/build"));
}

TEST(Demo, AProcessThatFailsToStartIsNamedWithItsLogAndTheRestAreStopped) {
  testing::TempDir dir;
  // The real binaries, except a broker that fails the way a taken port would.
  const std::string bin = dir.File("bin");
  std::filesystem::create_directory(bin);
  std::filesystem::create_symlink(BTRDB_LITE_BINARY, bin + "/btrdb-lite");
  std::filesystem::create_symlink(BTRQ_SINK_BINARY, bin + "/btrq-sink");
  std::filesystem::create_symlink(BTRQ_WORKER_BINARY, bin + "/btrq-worker");
  {
    std::ofstream broker(bin + "/btrq-broker");
    broker << "#!/bin/sh\necho 'btrq-broker: cannot listen on 127.0.0.1:7400' >&2\nexit 1\n";
  }
  std::filesystem::permissions(bin + "/btrq-broker", std::filesystem::perms::owner_all);
  std::vector<std::string> argv = DemoArgs(dir.File("runs"));
  argv.insert(argv.end(), {"--bin-dir", bin});

  const DemoRun run = RunBtrqDemo(argv);
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("btrq demo: broker exited with code 1 before it was ready"));
  EXPECT_THAT(run.err, HasSubstr("logs/broker.log"));
  EXPECT_THAT(run.err, HasSubstr("btrq-broker: cannot listen on 127.0.0.1:7400"));
  EXPECT_THAT(run.out, HasSubstr("Stopped "));
  const std::set<int> pids = PidsIn(run.out);
  EXPECT_GE(pids.size(), 4u) << run.out;
  for (int pid : pids) EXPECT_FALSE(ProcessExists(pid)) << "pid " << pid << " still runs";
}

}  // namespace
}  // namespace btrq::submitter
