// A full disk under the broker's journal, for real: the broker runs in a private mount
// namespace on a 1 MiB tmpfs (root only: unshare -m + mount), the test fills that file
// system, and SubmitJob must then fail with a clear error instead of acknowledging a job
// it could not journal; once space is back, submissions succeed again. Where the machine
// does not allow it the test is skipped; the same path through the JournalEnv seam runs
// everywhere in tests/unit/broker (scheduler_test FullDiskRefusesTheJobWithAClearError,
// journal_test FullDiskFailsAcknowledgedRecordsAndKeepsTheRest).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/ports.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace btrq::faults {
namespace {

using ::testing::HasSubstr;
using Millis = std::chrono::milliseconds;

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult RunCli(const std::vector<std::string>& args) {
  CliResult run;
  auto cli = testing::Subprocess::Spawn(args);
  if (!cli.ok()) return run;
  auto code = (*cli)->Wait(Millis(30'000));
  (void)(*cli)->WaitForLine("(?!)", Millis(5'000), false);
  (void)(*cli)->WaitForLine("(?!)", Millis(5'000), true);
  run.code = code.ok() ? *code : -1;
  run.out = (*cli)->Stdout();
  run.err = (*cli)->Stderr();
  return run;
}

// Writes zeros to `path` until the file system is full. Returns the bytes written.
Result<size_t> FillUp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string block(4096, '\0');
  size_t written = 0;
  for (;;) {
    const size_t n = std::fwrite(block.data(), 1, block.size(), f);
    written += n;
    if (n < block.size()) break;
  }
  const int error = errno;
  std::fclose(f);
  if (error != ENOSPC) return Status::IoError("filling stopped with errno " + std::to_string(error));
  return written;
}

TEST(FullDiskTest, SubmitJobFailsWithAClearErrorWhenTheJournalDiskIsFull) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and util-linux's unshare to mount a tiny tmpfs; the "
                    "JournalEnv seam tests in tests/unit/broker cover the same path";
  }
  testing::TempDir dir;
  const std::string mnt = dir.File("journal");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  const std::string control = testing::FreeHostPort();
  // The broker refuses jobs while BTrDB is unreachable: give it one.
  const std::string btrdb = testing::FreeHostPort();
  auto lite = testing::Subprocess::Spawn({BTRQ_BTRDB_LITE_BINARY, "--listen", btrdb});
  ASSERT_OK(lite);
  ASSERT_OK((*lite)->WaitForLine("btrdb-lite: ready on", Millis(30'000)));
  auto broker = testing::Subprocess::Spawn(
      {"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
       "mount -t tmpfs -o size=1m btrq-full-disk \"$0\" && exec \"$@\"", mnt,
       BTRQ_BROKER_BINARY, "--data-dir", mnt, "--listen-control", control, "--listen-tasks",
       testing::FreeZmqEndpoint(), "--listen-http", testing::FreeHostPort(), "--btrdb",
       btrdb});
  ASSERT_OK(broker);
  auto ready = (*broker)->WaitForLine("btrq-broker: ready", Millis(30'000), true);
  if (!ready.ok()) {
    GTEST_SKIP() << "could not start the broker on a private tmpfs: " << (*broker)->Stderr();
  }
  // The tmpfs is visible through the broker's own root.
  const std::string journal_dir = "/proc/" + std::to_string((*broker)->pid()) + "/root" + mnt;
  const std::vector<std::string> submit = {BTRQ_CLI_BINARY, "--broker", control, "submit",
                                           "-q", "--collection", "c", "--analytic", "noop"};

  CliResult first = RunCli(submit);
  ASSERT_EQ(first.code, 0) << first.err;

  ASSERT_OK_AND_ASSIGN(size_t filled, FillUp(journal_dir + "/filler"));
  EXPECT_GT(filled, 0u);
  // The journal's last page may still hold a few records; past it, every submission is
  // refused. Each acknowledged job must be journaled, so none may go missing later.
  std::vector<std::string> acknowledged = {first.out.substr(0, first.out.find('\n'))};
  CliResult refused;
  for (int i = 0; i < 200; ++i) {
    CliResult r = RunCli(submit);
    if (r.code == 0) {
      acknowledged.push_back(r.out.substr(0, r.out.find('\n')));
      continue;
    }
    refused = r;
    break;
  }
  EXPECT_EQ(refused.code, 1) << "no submission failed on a full disk";
  EXPECT_THAT(refused.err, HasSubstr("journal is full")) << refused.err;
  EXPECT_EQ(refused.out, "") << "a job id was printed for a job that was not journaled";
  std::cout << "[ faults   ] " << acknowledged.size()
            << " jobs acknowledged before the full disk refused one: " << refused.err;

  // The broker lives on; with space back it accepts jobs again.
  ASSERT_EQ(::unlink((journal_dir + "/filler").c_str()), 0);
  CliResult again = RunCli(submit);
  EXPECT_EQ(again.code, 0) << again.err;
  CliResult jobs = RunCli({BTRQ_CLI_BINARY, "--broker", control, "jobs", "--all", "--json"});
  EXPECT_EQ(jobs.code, 0) << jobs.err;
  for (const std::string& id : acknowledged) {
    EXPECT_THAT(jobs.out, HasSubstr("\"id\":" + id + ",")) << "acknowledged job " << id;
  }

  ASSERT_OK((*broker)->Kill(SIGTERM));
  ASSERT_OK_AND_ASSIGN(int code, (*broker)->Wait(Millis(20'000)));
  EXPECT_EQ(code, 0) << (*broker)->Stderr();
}

}  // namespace
}  // namespace btrq::faults
