#include "common/subprocess.h"

#include <chrono>
#include <cstdio>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq {
namespace {

using std::chrono::milliseconds;
// Generous: the machine may be loaded; a passing test never waits this long.
constexpr milliseconds kDeadline(10000);

std::vector<std::string> Sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

TEST(Subprocess, TrueExitsZero) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn({"/bin/true"}));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(child->Running());
}

TEST(Subprocess, ReportsExitCode) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("exit 7")));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 7);
}

TEST(Subprocess, CapturesStdoutAndStderr) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("echo out-text; echo err-text >&2")));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 0);
  // The readers may still be draining the pipes after the exit: wait for the lines.
  ASSERT_OK_AND_ASSIGN(std::string out, child->WaitForLine("out-text", kDeadline));
  EXPECT_EQ(out, "out-text");
  ASSERT_OK_AND_ASSIGN(std::string err,
                       child->WaitForLine("err-text", kDeadline, /*from_stderr=*/true));
  EXPECT_EQ(err, "err-text");
  EXPECT_EQ(child->Stdout(), "out-text\n");
  EXPECT_EQ(child->Stderr(), "err-text\n");
}

TEST(Subprocess, PassesEnvironment) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("echo value=$BTRQ_SUBPROCESS_TEST"),
                                                     {"BTRQ_SUBPROCESS_TEST=forty-two"}));
  ASSERT_OK_AND_ASSIGN(std::string line, child->WaitForLine("^value=", kDeadline));
  EXPECT_EQ(line, "value=forty-two");
}

TEST(Subprocess, WaitForLineMatchesRegex) {
  ASSERT_OK_AND_ASSIGN(auto child,
                       Subprocess::Spawn(Sh("echo starting; echo 'listening on 127.0.0.1:4242'")));
  ASSERT_OK_AND_ASSIGN(std::string line,
                       child->WaitForLine("listening on [0-9.]+:[0-9]+", kDeadline));
  EXPECT_EQ(line, "listening on 127.0.0.1:4242");
}

TEST(Subprocess, WaitForLineTimesOut) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("echo nothing-useful; exec sleep 30")));
  Result<std::string> line = child->WaitForLine("never printed", milliseconds(200));
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), StatusCode::kDeadlineExceeded);
  // The destructor SIGKILLs the sleeping child.
}

TEST(Subprocess, WaitForLineUnavailableWhenStreamCloses) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("echo only-line")));
  Result<std::string> line = child->WaitForLine("never printed", kDeadline);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), StatusCode::kUnavailable);
}

TEST(Subprocess, WaitPollsWithZeroTimeout) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("exec sleep 30")));
  Result<int> code = child->Wait(milliseconds(0));
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(child->Running());
}

TEST(Subprocess, KillReportsSignal) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("exec sleep 30")));
  ASSERT_OK(child->Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 128 + SIGKILL);
  EXPECT_EQ(child->Kill(SIGKILL).code(), StatusCode::kFailedPrecondition);
}

TEST(Subprocess, StopEndsPoliteChildWithoutKill) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("trap 'exit 3' TERM; echo ready; "
                                                        "while :; do sleep 0.05; done")));
  ASSERT_OK(child->WaitForLine("^ready$", kDeadline).status());
  bool killed = true;
  ASSERT_OK_AND_ASSIGN(int code, child->Stop(kDeadline, &killed));
  EXPECT_EQ(code, 3);
  EXPECT_FALSE(killed);
}

TEST(Subprocess, StopKillsChildIgnoringTerm) {
  ASSERT_OK_AND_ASSIGN(auto child, Subprocess::Spawn(Sh("trap '' TERM; echo ready; "
                                                        "while :; do sleep 0.05; done")));
  ASSERT_OK(child->WaitForLine("^ready$", kDeadline).status());
  bool killed = false;
  ASSERT_OK_AND_ASSIGN(int code, child->Stop(milliseconds(100), &killed));
  EXPECT_EQ(code, 128 + SIGKILL);
  EXPECT_TRUE(killed);
}

TEST(Subprocess, KillReachesTheWholeGroup) {
  SpawnOptions options;
  options.new_process_group = true;
  // The shell starts a grandchild and reports its pid; killing the group must end both.
  ASSERT_OK_AND_ASSIGN(auto child,
                       Subprocess::Start(Sh("sleep 30 & echo grandchild=$!; wait"), options));
  ASSERT_OK_AND_ASSIGN(std::string line, child->WaitForLine("^grandchild=[0-9]+$", kDeadline));
  const pid_t grandchild = std::stoi(line.substr(line.find('=') + 1));
  ASSERT_EQ(kill(grandchild, 0), 0);
  ASSERT_OK(child->Kill(SIGKILL));
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 128 + SIGKILL);
  // The grandchild is not ours to reap (init adopts it): wait until it is gone or a zombie.
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    std::string state;
    if (FILE* f = std::fopen(("/proc/" + std::to_string(grandchild) + "/stat").c_str(), "r")) {
      char buf[256] = {};
      const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
      std::fclose(f);
      const std::string stat(buf, n);
      const size_t paren = stat.rfind(')');
      gone = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
    } else {
      gone = true;
    }
    if (!gone) std::this_thread::sleep_for(milliseconds(10));  // polled, with a deadline
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the group kill";
}

TEST(Subprocess, StartRefusesMissingBinary) {
  Result<std::unique_ptr<Subprocess>> child =
      Subprocess::Spawn({"/nonexistent/btrq-no-such-binary"});
  // ENOENT from exec, mapped by PosixError.
  EXPECT_THAT(child.status(), testing::StatusIs(StatusCode::kNotFound));
}

TEST(Subprocess, LogFileReceivesOutput) {
  testing::TempDir dir;
  SpawnOptions options;
  options.log_path = dir.File("child.log");
  ASSERT_OK_AND_ASSIGN(auto child,
                       Subprocess::Start(Sh("echo to-the-log; echo oops >&2"), options));
  ASSERT_OK_AND_ASSIGN(std::string line, child->WaitForLine("to-the-log", kDeadline));
  EXPECT_EQ(line, "to-the-log");
  ASSERT_OK_AND_ASSIGN(int code, child->Wait(kDeadline));
  EXPECT_EQ(code, 0);
  EXPECT_NE(child->Stdout().find("oops"), std::string::npos);
  EXPECT_EQ(child->Stderr(), "");
}

}  // namespace
}  // namespace btrq
