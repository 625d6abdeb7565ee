#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <regex>

extern char** environ;

namespace btrq::testing {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                      const std::vector<std::string>& env) {
  if (argv.empty()) return Status::InvalidArgument("empty argv");
  // Everything exec needs is prepared before fork: the child only calls
  // async-signal-safe functions.
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    vars[kv.substr(0, kv.find('='))] = kv;
  }
  for (const std::string& kv : env) vars[kv.substr(0, kv.find('='))] = kv;
  std::vector<std::string> env_strings;
  for (auto& [k, kv] : vars) env_strings.push_back(kv);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::IoError("pipe failed");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return Status::IoError("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) return Status::IoError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(argp[0], argp.data(), envp.data());
    static const char msg[] = "subprocess: execve failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->pid_ = pid;
  p->pidfd_ = PidfdOpen(pid);
  Subprocess* raw = p.get();
  p->out_reader_ = std::thread([raw, fd = out_pipe[0]] { raw->ReadLoop(fd, &raw->out_); });
  p->err_reader_ = std::thread([raw, fd = err_pipe[0]] { raw->ReadLoop(fd, &raw->err_); });
  return p;
}

Subprocess::~Subprocess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_reader_.joinable()) out_reader_.join();
  if (err_reader_.joinable()) err_reader_.join();
  if (pidfd_ >= 0) ::close(pidfd_);
}

void Subprocess::ReadLoop(int fd, Capture* capture) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (n <= 0) {
      capture->closed = true;
      cv_.notify_all();
      break;
    }
    capture->text.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
}

Result<std::string> Subprocess::WaitForLine(const std::string& pattern, std::chrono::milliseconds timeout,
                                            bool from_stderr) {
  const std::regex re(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> l(mu_);
  const Capture& c = from_stderr ? err_ : out_;
  size_t scanned = 0;  // complete lines before this offset have been checked
  for (;;) {
    size_t nl;
    while ((nl = c.text.find('\n', scanned)) != std::string::npos) {
      std::string line = c.text.substr(scanned, nl - scanned);
      scanned = nl + 1;
      if (std::regex_search(line, re)) return line;
    }
    if (c.closed) return Status::Unavailable("output closed before a line matched '" + pattern + "'");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::DeadlineExceeded("no line matched '" + pattern + "'");
    cv_.wait_until(l, deadline);
  }
}

Status Subprocess::Kill(int signal) {
  if (reaped_) return Status::FailedPrecondition("process already reaped");
  if (::kill(pid_, signal) != 0) return Status::IoError(std::string("kill: ") + std::strerror(errno));
  return Status::OK();
}

Result<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (!reaped_) {
    if (pidfd_ >= 0) {
      pollfd pfd{pidfd_, POLLIN, 0};
      int rc;
      do {
        rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) return Status::DeadlineExceeded("process did not exit in time");
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return Status::IoError("waitpid failed");
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_code_;
}

std::string Subprocess::Stdout() const {
  std::lock_guard<std::mutex> l(mu_);
  return out_.text;
}

std::string Subprocess::Stderr() const {
  std::lock_guard<std::mutex> l(mu_);
  return err_.text;
}

}  // namespace btrq::testing
