#include "analytics/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace btrq::analytics {

// Closes an fd on destruction.
class ChildProcess::Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
  int TakeRead() { return std::exchange(read, -1); }
  int TakeWrite() { return std::exchange(write, -1); }
};

Status MakePipe(Pipe* p, const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::ResourceExhausted(what + ": pipe: " + ErrnoText(errno));
  }
  p->read = fds[0];
  p->write = fds[1];
  return Status::OK();
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// environ with `extra` ("KEY=VALUE") added, an entry of `extra` replacing ours of the key.
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view key = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return x.size() > key.size() && x.compare(0, key.size(), key) == 0 &&
             x[key.size()] == '=';
    });
    if (!replaced) out.emplace_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (!was_pending_) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(Options options) {
  Pipe in, out, err;
  BTRQ_RETURN_IF_ERROR(MakePipe(&in, options.what));
  BTRQ_RETURN_IF_ERROR(MakePipe(&out, options.what));
  BTRQ_RETURN_IF_ERROR(MakePipe(&err, options.what));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1,
                        SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> argv = options.argv;
  std::vector<std::string> env = MergedEnv(options.env);
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status::InvalidArgument(options.what + ": cannot run '" + argv[0] +
                                   "': " + ErrnoText(rc));
  }
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess(pid, std::move(options)));
  if (child->options_.memory_limit_bytes > 0) {
    // Set from outside, just after the start: the child's first allocations (an
    // interpreter's start-up) are small, and posix_spawn cannot set limits itself.
    const rlimit limit{child->options_.memory_limit_bytes, child->options_.memory_limit_bytes};
    if (::prlimit(pid, RLIMIT_AS, &limit, nullptr) != 0) {
      return Status::Internal(child->options_.what + ": prlimit: " + ErrnoText(errno));
    }
  }
  child->stdin_ = std::make_unique<Fd>(in.TakeWrite());
  child->stdout_ = std::make_unique<Fd>(out.TakeRead());
  child->stderr_ = std::make_unique<Fd>(err.TakeRead());
  SetNonBlocking(child->stdin_->get());
  SetNonBlocking(child->stdout_->get());
  SetNonBlocking(child->stderr_->get());
  // The child's ends close with `in`, `out`, `err` here; only the child holds them now.
  const long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
  child->pidfd_ = std::make_unique<Fd>(pidfd >= 0 ? static_cast<int>(pidfd) : -1);
  return child;
}

ChildProcess::ChildProcess(pid_t pid, Options options)
    : pid_(pid), options_(std::move(options)) {}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

bool ChildProcess::stdin_closed() const { return !stdin_->valid(); }

Status ChildProcess::Write(std::string_view data, SteadyDeadline deadline) {
  written_ = 0;
  while (stdin_->valid() && written_ < data.size()) {
    BTRQ_RETURN_IF_ERROR(PollOnce(data.substr(written_), deadline));
  }
  return Status::OK();
}

Status ChildProcess::ReadUntil(const std::function<bool()>& until, SteadyDeadline deadline) {
  while (!until()) {
    if (!stdout_->valid()) {
      return Status::Unavailable(options_.what + ": the process closed its output" +
                                 StderrExcerpt());
    }
    BTRQ_RETURN_IF_ERROR(PollOnce({}, deadline));
  }
  return Status::OK();
}

Status ChildProcess::Finish(SteadyDeadline deadline) {
  stdin_->Reset();
  while (stdout_->valid() || stderr_->valid() || !reaped_) {
    if (reaped_ && !group_killed_) {
      // The command is gone; whatever it left behind holding our pipes goes too.
      ::kill(-pid_, SIGKILL);
      group_killed_ = true;
    }
    BTRQ_RETURN_IF_ERROR(PollOnce({}, deadline));
  }
  return Status::OK();
}

bool ChildProcess::Exited() {
  if (!reaped_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      wait_status_ = status;
    }
  }
  return reaped_;
}

std::string ChildProcess::StderrExcerpt() const {
  if (err_.empty()) return "";
  const size_t keep = options_.stderr_excerpt_bytes;
  std::string excerpt = err_.size() > keep ? "..." + err_.substr(err_.size() - keep) : err_;
  while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == ' ')) {
    excerpt.pop_back();
  }
  return "; stderr: " + excerpt;
}

Status ChildProcess::PollOnce(std::string_view data, SteadyDeadline deadline) {
  pollfd fds[4];
  nfds_t n = 0;
  int in_i = -1, out_i = -1, err_i = -1, pid_i = -1;
  if (stdin_->valid() && !data.empty()) {
    in_i = static_cast<int>(n);
    fds[n++] = {stdin_->get(), POLLOUT, 0};
  }
  if (stdout_->valid()) {
    out_i = static_cast<int>(n);
    fds[n++] = {stdout_->get(), POLLIN, 0};
  }
  if (stderr_->valid()) {
    err_i = static_cast<int>(n);
    fds[n++] = {stderr_->get(), POLLIN, 0};
  }
  const bool watch_exit = !reaped_ && !stdin_->valid();
  if (watch_exit && pidfd_->valid()) {
    pid_i = static_cast<int>(n);
    fds[n++] = {pidfd_->get(), POLLIN, 0};
  }
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return Status::DeadlineExceeded(options_.what + ": timed out");
  int64_t wait_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  // Without a pidfd the exit is noticed by polling waitpid.
  if (watch_exit && !pidfd_->valid()) wait_ms = std::min<int64_t>(wait_ms, 10);
  const int rc = ::poll(fds, n, static_cast<int>(std::min<int64_t>(wait_ms, 1 << 30)));
  if (rc < 0) {
    if (errno == EINTR) return Status::OK();
    return Status::Internal(options_.what + ": poll: " + ErrnoText(errno));
  }
  if (in_i >= 0 && fds[in_i].revents != 0) {
    const ssize_t w = ::write(stdin_->get(), data.data(), data.size());
    if (w > 0) {
      written_ += static_cast<size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      // EPIPE: the child stopped reading its input. Not an error by itself.
      stdin_->Reset();
    }
  }
  if (out_i >= 0 && fds[out_i].revents != 0) BTRQ_RETURN_IF_ERROR(ReadSome(stdout_.get(), true));
  if (err_i >= 0 && fds[err_i].revents != 0) BTRQ_RETURN_IF_ERROR(ReadSome(stderr_.get(), false));
  if (watch_exit && (pid_i < 0 || fds[pid_i].revents != 0)) Exited();
  return Status::OK();
}

Status ChildProcess::ReadSome(Fd* fd, bool is_stdout) {
  char buf[65536];
  const ssize_t r = ::read(fd->get(), buf, sizeof(buf));
  if (r == 0) {
    fd->Reset();
  } else if (r > 0) {
    std::string& into = is_stdout ? out_ : err_;
    into.append(buf, static_cast<size_t>(r));
    const size_t keep = options_.stderr_excerpt_bytes;
    if (!is_stdout && into.size() > 2 * keep) {
      into.erase(0, into.size() - keep);
    } else if (is_stdout && into.size() > options_.max_stdout_bytes) {
      return Status::FailedPrecondition(options_.what + ": wrote more than " +
                                        std::to_string(options_.max_stdout_bytes) +
                                        " bytes to stdout");
    }
  } else if (errno != EAGAIN && errno != EINTR) {
    fd->Reset();
  }
  return Status::OK();
}

}  // namespace btrq::analytics
