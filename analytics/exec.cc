#include "analytics/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>

#include "common/json_writer.h"
#include "analytics/flat_json.h"
#include "analytics/params.h"

extern char** environ;

namespace btrq::analytics {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string ErrnoText(int err) { return std::strerror(err); }

// Closes an fd on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    Reset();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Blocks SIGPIPE in the calling thread while alive, so a write to a pipe whose reader
// has gone fails with EPIPE instead of killing the process; a SIGPIPE raised meanwhile
// is consumed before the old mask is restored.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~ScopedSigpipeBlock() {
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
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

Result<std::pair<Fd, Fd>> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::ResourceExhausted("exec: pipe: " + ErrnoText(errno));
  }
  return std::pair<Fd, Fd>(Fd(fds[0]), Fd(fds[1]));
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One run of the command: the child, its three pipes, and the deadline. The destructor
// kills the child's process group and reaps the child if that has not happened yet.
class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                     SteadyClock::time_point deadline) {
    BTRQ_ASSIGN_OR_RETURN(auto in, MakePipe());
    BTRQ_ASSIGN_OR_RETURN(auto out, MakePipe());
    BTRQ_ASSIGN_OR_RETURN(auto err, MakePipe());

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.first.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out.second.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.second.get(), STDERR_FILENO);

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

    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);

    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      return Status::InvalidArgument("exec: cannot run '" + argv[0] + "': " + ErrnoText(rc));
    }

    auto child = std::unique_ptr<ChildProcess>(new ChildProcess(pid, deadline));
    child->stdin_ = std::move(in.second);
    child->stdout_ = std::move(out.first);
    child->stderr_ = std::move(err.first);
    SetNonBlocking(child->stdin_.get());
    SetNonBlocking(child->stdout_.get());
    SetNonBlocking(child->stderr_.get());
    // The child's ends close with `in`, `out`, `err` here; only the child holds them now.
    const long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) child->pidfd_ = Fd(static_cast<int>(pidfd));
    return child;
  }

  ~ChildProcess() {
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  std::string* input() { return &input_; }
  bool stdin_closed() const { return !stdin_.valid(); }

  // Writes all of input() (dropping it if the child closes its stdin), reading stdout and
  // stderr meanwhile so neither side can block the other.
  Status Feed() {
    while (stdin_.valid() && input_offset_ < input_.size()) BTRQ_RETURN_IF_ERROR(PollOnce());
    input_.clear();
    input_offset_ = 0;
    return Status::OK();
  }

  // Closes stdin, then reads stdout and stderr to their end and waits for the exit.
  Status Finish() {
    stdin_.Reset();
    while (stdout_.valid() || stderr_.valid() || !reaped_) {
      if (reaped_ && !group_killed_) {
        // The command is gone; whatever it left behind holding our pipes goes too.
        ::kill(-pid_, SIGKILL);
        group_killed_ = true;
      }
      BTRQ_RETURN_IF_ERROR(PollOnce());
    }
    return Status::OK();
  }

  const std::string& out() const { return out_; }
  int wait_status() const { return wait_status_; }

  // The last kExecStderrExcerptBytes of stderr, for error messages.
  std::string StderrExcerpt() const {
    if (err_.empty()) return "";
    std::string excerpt = err_.size() > kExecStderrExcerptBytes
                              ? "..." + err_.substr(err_.size() - kExecStderrExcerptBytes)
                              : err_;
    while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == ' ')) {
      excerpt.pop_back();
    }
    return "; stderr: " + excerpt;
  }

 private:
  ChildProcess(pid_t pid, SteadyClock::time_point deadline) : pid_(pid), deadline_(deadline) {}

  // Waits (until the deadline) for one of: stdin writable, stdout/stderr readable, the
  // child's exit; handles what is ready.
  Status PollOnce() {
    pollfd fds[4];
    nfds_t n = 0;
    int in_i = -1, out_i = -1, err_i = -1, pid_i = -1;
    if (stdin_.valid() && input_offset_ < input_.size()) {
      in_i = static_cast<int>(n);
      fds[n++] = {stdin_.get(), POLLOUT, 0};
    }
    if (stdout_.valid()) {
      out_i = static_cast<int>(n);
      fds[n++] = {stdout_.get(), POLLIN, 0};
    }
    if (stderr_.valid()) {
      err_i = static_cast<int>(n);
      fds[n++] = {stderr_.get(), POLLIN, 0};
    }
    const bool watch_exit = !reaped_ && !stdin_.valid();
    if (watch_exit && pidfd_.valid()) {
      pid_i = static_cast<int>(n);
      fds[n++] = {pidfd_.get(), POLLIN, 0};
    }
    const auto now = SteadyClock::now();
    if (now >= deadline_) return Status::DeadlineExceeded("exec: command timed out");
    int64_t wait_ms =
        std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now).count();
    // Without a pidfd the exit is noticed by polling waitpid.
    if (watch_exit && !pidfd_.valid()) wait_ms = std::min<int64_t>(wait_ms, 10);
    const int rc = ::poll(fds, n, static_cast<int>(std::min<int64_t>(wait_ms, 1 << 30)));
    if (rc < 0) {
      if (errno == EINTR) return Status::OK();
      return Status::Internal("exec: poll: " + ErrnoText(errno));
    }
    if (in_i >= 0 && fds[in_i].revents != 0) WriteSome();
    if (out_i >= 0 && fds[out_i].revents != 0) {
      BTRQ_RETURN_IF_ERROR(ReadSome(&stdout_, &out_, /*keep_tail=*/false));
    }
    if (err_i >= 0 && fds[err_i].revents != 0) {
      BTRQ_RETURN_IF_ERROR(ReadSome(&stderr_, &err_, /*keep_tail=*/true));
    }
    if (watch_exit && (pid_i < 0 || fds[pid_i].revents != 0)) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        wait_status_ = status;
      }
    }
    return Status::OK();
  }

  void WriteSome() {
    const ssize_t w = ::write(stdin_.get(), input_.data() + input_offset_,
                              input_.size() - input_offset_);
    if (w > 0) {
      input_offset_ += static_cast<size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      // EPIPE: the command stopped reading its input. Not an error by itself.
      stdin_.Reset();
    }
  }

  Status ReadSome(Fd* fd, std::string* into, bool keep_tail) {
    char buf[65536];
    const ssize_t r = ::read(fd->get(), buf, sizeof(buf));
    if (r == 0) {
      fd->Reset();
    } else if (r > 0) {
      into->append(buf, static_cast<size_t>(r));
      if (keep_tail && into->size() > 2 * kExecStderrExcerptBytes) {
        into->erase(0, into->size() - kExecStderrExcerptBytes);
      } else if (!keep_tail && into->size() > kExecMaxOutputBytes) {
        return Status::FailedPrecondition("exec: command wrote more than " +
                                          std::to_string(kExecMaxOutputBytes) +
                                          " bytes to stdout");
      }
    } else if (errno != EAGAIN && errno != EINTR) {
      fd->Reset();
    }
    return Status::OK();
  }

  const pid_t pid_;
  const SteadyClock::time_point deadline_;
  Fd stdin_;
  Fd stdout_;
  Fd stderr_;
  Fd pidfd_;
  std::string input_;
  size_t input_offset_ = 0;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  bool group_killed_ = false;
  int wait_status_ = 0;
};

// Appends "time,value\n" per point.
void AppendPoints(std::string* out, std::span<const RawPoint> batch) {
  char buf[64];
  for (const RawPoint& p : batch) {
    char* end = std::to_chars(buf, buf + 24, p.time).ptr;
    *end++ = ',';
    end = std::to_chars(end, buf + sizeof(buf) - 1, p.value).ptr;
    *end++ = '\n';
    out->append(buf, end);
  }
}

class ExecAnalytic final : public Analytic {
 public:
  explicit ExecAnalytic(ExecOptions options) : options_(std::move(options)) {}

  Result<Fields> Run(const TaskSpec& task, PointSource& source,
                     RunCounters* counters) const override {
    ScopedSigpipeBlock sigpipe_block;
    const auto deadline = SteadyClock::now() + std::chrono::nanoseconds(options_.timeout_ns);
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child,
                          ChildProcess::Spawn(options_.argv, deadline));
    std::string* input = child->input();
    *input = ExecContextJson(task);
    input->push_back('\n');
    BTRQ_RETURN_IF_ERROR(WithStderr(child->Feed(), *child));

    // The command closing its stdin early ends the read; that is not an error.
    bool stopped_early = false;
    Status child_error;
    const Status read = source.ReadRaw(
        task.key.start, task.end, task.version, [&](std::span<const RawPoint> batch) {
          counters->points_read += static_cast<int64_t>(batch.size());
          AppendPoints(input, batch);
          child_error = child->Feed();
          if (!child_error.ok()) return child_error;
          if (child->stdin_closed()) {
            stopped_early = true;
            return Status::Cancelled("exec: command closed its stdin");
          }
          return Status::OK();
        });
    // On any error the destructor of `child` kills the command.
    if (!child_error.ok()) return WithStderr(child_error, *child);
    if (!read.ok() && !stopped_early) return read;  // the reader's error, unchanged
    BTRQ_RETURN_IF_ERROR(WithStderr(child->Finish(), *child));

    const int status = child->wait_status();
    if (WIFSIGNALED(status)) {
      return Status::FailedPrecondition("exec: command killed by signal " +
                                        std::to_string(WTERMSIG(status)) +
                                        child->StderrExcerpt());
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return Status::FailedPrecondition("exec: command exited with status " +
                                        std::to_string(WEXITSTATUS(status)) +
                                        child->StderrExcerpt());
    }
    Result<Fields> fields = ParseFlatJsonObject(child->out());
    if (!fields.ok()) {
      return Status::FailedPrecondition("exec: command output is not a JSON object of numbers "
                                        "and strings: " +
                                        fields.status().message() + child->StderrExcerpt());
    }
    return fields;
  }

 private:
  // Adds the stderr excerpt to an error of the command itself.
  static Status WithStderr(const Status& s, const ChildProcess& child) {
    if (s.ok()) return s;
    return Status(s.code(), s.message() + child.StderrExcerpt(), s.subcode());
  }

  ExecOptions options_;
};

}  // namespace

std::string ExecContextJson(const TaskSpec& task) {
  std::string out;
  out.reserve(256);
  out.append("{\"job\":");
  out.append(std::to_string(task.key.job));
  out.append(",\"stream\":");
  AppendJsonQuoted(&out, task.key.stream.ToString());
  out.append(",\"start\":");
  out.append(std::to_string(task.key.start));
  out.append(",\"end\":");
  out.append(std::to_string(task.end));
  out.append(",\"version\":");
  out.append(std::to_string(task.version));
  out.append(",\"attempt\":");
  out.append(std::to_string(task.attempt));
  out.append(",\"stream_earliest\":");
  out.append(std::to_string(task.stream_earliest));
  out.append(",\"stream_latest\":");
  out.append(std::to_string(task.stream_latest));
  out.append(",\"params\":");
  AppendJsonObject(&out, task.params);
  out.push_back('}');
  return out;
}

Result<ExecOptions> ParseExecOptions(const Fields& params) {
  ParamReader reader(kExecName, params);
  ExecOptions options;
  BTRQ_ASSIGN_OR_RETURN(std::optional<std::string> command, reader.String("command"));
  if (!command) return reader.Invalid("command", "is required");
  const size_t first = command->find_first_not_of(" \t\n\r\f\v");
  if (first != std::string::npos && (*command)[first] == '[') {
    Result<std::vector<std::string>> argv = ParseJsonStringArray(*command);
    if (!argv.ok()) return reader.Invalid("command", "is not a JSON array of strings: " +
                                                         argv.status().message());
    options.argv = std::move(argv).value();
  } else {
    size_t pos = 0;
    while (true) {
      const size_t start = command->find_first_not_of(" \t\n\r\f\v", pos);
      if (start == std::string::npos) break;
      size_t end = command->find_first_of(" \t\n\r\f\v", start);
      if (end == std::string::npos) end = command->size();
      options.argv.push_back(command->substr(start, end - start));
      pos = end;
    }
  }
  if (options.argv.empty() || options.argv[0].empty()) {
    return reader.Invalid("command", "must name a program");
  }
  BTRQ_ASSIGN_OR_RETURN(std::optional<int64_t> timeout, reader.Duration("timeout"));
  if (timeout) {
    if (*timeout == 0) return reader.Invalid("timeout", "must be positive");
    options.timeout_ns = *timeout;
  }
  // Every other param is the command's own: no CheckAllUsed().
  return options;
}

Result<std::unique_ptr<Analytic>> NewExec(const Fields& params) {
  BTRQ_ASSIGN_OR_RETURN(ExecOptions options, ParseExecOptions(params));
  return std::unique_ptr<Analytic>(std::make_unique<ExecAnalytic>(std::move(options)));
}

}  // namespace btrq::analytics
