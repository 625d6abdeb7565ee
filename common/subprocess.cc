#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <regex>

#include "common/posix_error.h"

extern char** environ;

namespace btrq {
namespace {

// How often WaitForLine re-reads a log file while the child runs.
constexpr std::chrono::milliseconds kLogPollInterval(20);

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void CloseIfOpen(int fd) {
  if (fd >= 0) ::close(fd);
}

// argv and envp for execve (the caller's environment overlaid with `extra_env`), built
// before fork: the child only calls async-signal-safe functions. Build in place: the
// pointers point into the strings.
struct ExecImage {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argp;
  std::vector<char*> envp;

  void Build(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      vars[kv.substr(0, kv.find('='))] = kv;
    }
    for (const std::string& kv : extra_env) vars[kv.substr(0, kv.find('='))] = kv;
    for (auto& [k, kv] : vars) env.push_back(kv);
    for (std::string& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    args = argv;
    for (std::string& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
  }
};

// The child's stdin, stdout and stderr; -1 keeps the parent's.
struct ChildFds {
  int in = -1;
  int out = -1;
  int err = -1;
};

// In the forked child: process group, parent-death signal, default signal dispositions,
// stdio, then exec. Async-signal-safe calls only.
[[noreturn]] void ExecChild(ExecImage& image, const ChildFds& fds, const SpawnOptions& options,
                            pid_t parent) {
  if (options.new_process_group) ::setpgid(0, 0);
  if (options.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  }
  // Signal dispositions a parent set to "ignore" (SIGPIPE, often) and its blocked mask
  // survive exec; the child starts with the defaults.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (fds.in >= 0) ::dup2(fds.in, STDIN_FILENO);
  if (fds.out >= 0) ::dup2(fds.out, STDOUT_FILENO);
  if (fds.err >= 0) ::dup2(fds.err, STDERR_FILENO);
  ::execve(image.argp[0], image.argp.data(), image.envp.data());
  static const char msg[] = "subprocess: execve failed\n";
  (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
  ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                      const std::vector<std::string>& env) {
  SpawnOptions options;
  options.env = env;
  return Start(argv, options);
}

Result<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                      const SpawnOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("empty argv");
  if (::access(argv[0].c_str(), X_OK) != 0) return PosixError("cannot execute " + argv[0], errno);
  ExecImage image;
  image.Build(argv, options.env);
  const bool to_log = !options.log_path.empty();
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int log_fd = -1;
  int null_fd = -1;
  off_t log_offset = 0;
  const auto close_all = [&] {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], log_fd, null_fd}) {
      CloseIfOpen(fd);
    }
  };
  if (to_log) {
    log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return PosixError("cannot open " + options.log_path, errno);
    struct stat st;
    if (::fstat(log_fd, &st) == 0) log_offset = st.st_size;
    null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
      close_all();
      return PosixError("cannot open /dev/null", errno);
    }
  } else if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const Status s = PosixError("pipe", errno);
    close_all();
    return s;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const Status s = PosixError("fork", errno);
    close_all();
    return s;
  }
  if (pid == 0) {
    ChildFds fds;
    if (to_log) {
      fds = {null_fd, log_fd, log_fd};
    } else {
      fds = {-1, out_pipe[1], err_pipe[1]};
    }
    ExecChild(image, fds, options, parent);
  }
  // Mirror the child's setpgid so that Kill(-pid) works even before the child ran it.
  if (options.new_process_group) ::setpgid(pid, pid);
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->pid_ = pid;
  p->pidfd_ = PidfdOpen(pid);
  p->group_ = options.new_process_group;
  p->log_path_ = options.log_path;
  p->log_offset_ = log_offset;
  if (to_log) {
    ::close(log_fd);
    ::close(null_fd);
    return p;
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Subprocess* raw = p.get();
  p->out_reader_ = std::thread([raw, fd = out_pipe[0]] { raw->ReadLoop(fd, &raw->out_); });
  p->err_reader_ = std::thread([raw, fd = err_pipe[0]] { raw->ReadLoop(fd, &raw->err_); });
  return p;
}

Subprocess::~Subprocess() {
  if (!reaped_ && !released_) {
    ::kill(group_ ? -pid_ : pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_reader_.joinable()) out_reader_.join();
  if (err_reader_.joinable()) err_reader_.join();
  CloseIfOpen(pidfd_);
}

void Subprocess::ReadLoop(int fd, Capture* capture) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    MutexLock l(&mu_);
    if (n <= 0) {
      capture->closed = true;
      cv_.SignalAll();
      break;
    }
    capture->text.append(buf, static_cast<size_t>(n));
    cv_.SignalAll();
  }
  ::close(fd);
}

Result<std::string> Subprocess::WaitForLine(const std::string& pattern,
                                            std::chrono::milliseconds timeout, bool from_stderr) {
  if (!log_path_.empty()) return WaitForLogLine(pattern, timeout);
  const std::regex re(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
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
    cv_.WaitFor(&mu_, deadline - now);
  }
}

Result<std::string> Subprocess::WaitForLogLine(const std::string& pattern,
                                               std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t scanned = 0;
  for (;;) {
    // Read before checking for exit: a line written just before exiting still counts.
    const bool exited = reaped_ || Exited(std::chrono::milliseconds(0));
    const std::string text = ReadLog();
    size_t nl;
    while ((nl = text.find('\n', scanned)) != std::string::npos) {
      std::string line = text.substr(scanned, nl - scanned);
      scanned = nl + 1;
      if (std::regex_search(line, re)) return line;
    }
    if (exited) {
      return Status::Unavailable("the process exited before a line matched '" + pattern + "'");
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::DeadlineExceeded("no line matched '" + pattern + "'");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    Exited(std::min(left + std::chrono::milliseconds(1), kLogPollInterval));
  }
}

bool Subprocess::Exited(std::chrono::milliseconds timeout) const {
  if (pidfd_ < 0) {
    // Without pidfd (old kernels): kill(pid, 0) succeeds for a zombie too, so only a
    // reaped child counts as exited; waits fall back to waitpid in Wait().
    if (timeout.count() > 0) ::poll(nullptr, 0, static_cast<int>(timeout.count()));
    return false;
  }
  pollfd pfd{pidfd_, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

std::string Subprocess::ReadLog() const {
  const int fd = ::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buf[65536];
  off_t offset = log_offset_;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  ::close(fd);
  return text;
}

Status Subprocess::Kill(int signal) {
  if (reaped_) return Status::FailedPrecondition("process already reaped");
  if (::kill(group_ ? -pid_ : pid_, signal) != 0) return PosixError("kill", errno);
  return Status::OK();
}

Result<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (!reaped_) {
    if (pidfd_ >= 0) {
      if (!Exited(timeout)) return Status::DeadlineExceeded("process did not exit in time");
    } else if (timeout.count() == 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == 0) return Status::DeadlineExceeded("process did not exit in time");
      if (r != pid_) return PosixError("waitpid", errno);
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return PosixError("waitpid", errno);
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_code_;
}

Result<int> Subprocess::Stop(std::chrono::milliseconds grace, bool* killed) {
  if (killed != nullptr) *killed = false;
  if (reaped_) return exit_code_;
  // ESRCH (already exited, not yet reaped) is fine: Wait() reaps it.
  Kill(SIGTERM).IgnoreError();
  Result<int> code = Wait(grace);
  if (code.ok() || code.status().code() != StatusCode::kDeadlineExceeded) return code;
  if (killed != nullptr) *killed = true;
  Kill(SIGKILL).IgnoreError();
  return Wait(std::chrono::milliseconds(10'000));
}

bool Subprocess::Running() {
  if (reaped_) return false;
  return !Wait(std::chrono::milliseconds(0)).ok();
}

std::string Subprocess::Stdout() const {
  if (!log_path_.empty()) return ReadLog();
  MutexLock l(&mu_);
  return out_.text;
}

std::string Subprocess::Stderr() const {
  if (!log_path_.empty()) return "";
  MutexLock l(&mu_);
  return err_.text;
}

}  // namespace btrq
