#include "analytics/exec.h"

#include <sys/wait.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <span>

#include "analytics/child_process.h"
#include "analytics/flat_json.h"
#include "analytics/params.h"
#include "common/json_writer.h"

namespace btrq::analytics {
namespace {

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
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.timeout_ns);
    ChildProcess::Options child_options;
    child_options.argv = options_.argv;
    child_options.max_stdout_bytes = kExecMaxOutputBytes;
    child_options.stderr_excerpt_bytes = kExecStderrExcerptBytes;
    child_options.what = "exec: command";
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child,
                          ChildProcess::Spawn(std::move(child_options)));
    std::string input = ExecContextJson(task);
    input.push_back('\n');
    BTRQ_RETURN_IF_ERROR(WithStderr(child->Write(input, deadline), *child));

    // The command closing its stdin early ends the read; that is not an error.
    bool stopped_early = false;
    Status child_error;
    const Status read = source.ReadRaw(
        task.key.start, task.end, task.version, [&](std::span<const RawPoint> batch) {
          counters->points_read += static_cast<int64_t>(batch.size());
          input.clear();
          AppendPoints(&input, batch);
          child_error = child->Write(input, deadline);
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
    BTRQ_RETURN_IF_ERROR(WithStderr(child->Finish(deadline), *child));

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
