#include "analytics/python.h"

#include <fnmatch.h>

#include <bit>
#include <chrono>
#include <optional>
#include <span>
#include <utility>

#include "analytics/flat_json.h"
#include "analytics/params.h"
#include "common/json_writer.h"

namespace btrq::analytics {
namespace {

// The points frame is the arrays' bytes as they lie in memory: numpy reads them in place.
static_assert(std::endian::native == std::endian::little,
              "python: P frames are little-endian; a big-endian host must swap them");

constexpr std::string_view kOwnParams[] = {"function", "input", "timeout"};

bool IsDottedName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = '.';
  for (const char c : s) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!alpha && !(digit && prev != '.')) {
      return false;
    }
    prev = c;
  }
  return true;
}

// Gathers BTrDB's batches into P frames of up to kPythonPointsPerFrame points.
class PointFrames {
 public:
  PointFrames() {
    times_.reserve(kPythonPointsPerFrame);
    values_.reserve(kPythonPointsPerFrame);
  }
  // Adds what fits of `batch`; returns how many points it took.
  size_t Add(std::span<const RawPoint> batch) {
    const size_t n = std::min(batch.size(), kPythonPointsPerFrame - times_.size());
    for (size_t i = 0; i < n; ++i) {
      times_.push_back(batch[i].time);
      values_.push_back(batch[i].value);
    }
    return n;
  }
  bool full() const { return times_.size() == kPythonPointsPerFrame; }
  bool empty() const { return times_.empty(); }
  // The frame of the points gathered; empties the gatherer.
  const std::string& Take() {
    const uint64_t n = times_.size();
    frame_.clear();
    AppendPyHeader(&frame_, kPyPoints, sizeof(n) + 16 * n);
    frame_.append(reinterpret_cast<const char*>(&n), sizeof(n));
    frame_.append(reinterpret_cast<const char*>(times_.data()), 8 * n);
    frame_.append(reinterpret_cast<const char*>(values_.data()), 8 * n);
    times_.clear();
    values_.clear();
    return frame_;
  }

 private:
  std::vector<int64_t> times_;
  std::vector<double> values_;
  std::string frame_;
};

std::string Frame(char kind, std::string_view payload = {}) {
  std::string out;
  AppendPyHeader(&out, kind, payload.size());
  out.append(payload);
  return out;
}

const FieldValue* Find(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::string TextOf(const Fields& fields, std::string_view name) {
  const FieldValue* v = Find(fields, name);
  const std::string* s = v != nullptr ? std::get_if<std::string>(v) : nullptr;
  return s != nullptr ? *s : "";
}

bool FlagOf(const Fields& fields, std::string_view name) {
  const FieldValue* v = Find(fields, name);
  const int64_t* i = v != nullptr ? std::get_if<int64_t>(v) : nullptr;
  return i != nullptr && *i != 0;
}

// One task on one interpreter. `healthy` turns false when the interpreter must go.
class PythonCall {
 public:
  PythonCall(PythonInterpreter* py, SteadyDeadline deadline) : py_(py), deadline_(deadline) {}

  bool healthy() const { return healthy_; }

  Result<Fields> Run(const TaskSpec& task, const PythonOptions& options, PointSource& source,
                     RunCounters* counters) {
    BTRQ_RETURN_IF_ERROR(Io(py_->Write(Frame(kPyTask, PythonTaskJson(task, options)),
                                       deadline_)));
    PointFrames frames;
    Status io;
    bool answered = false;
    const Status read = source.ReadRaw(
        task.key.start, task.end, task.version, [&](std::span<const RawPoint> batch) {
          counters->points_read += static_cast<int64_t>(batch.size());
          while (!batch.empty()) {
            batch = batch.subspan(frames.Add(batch));
            if (!frames.full()) break;
            io = Io(py_->Write(frames.Take(), deadline_));
            if (!io.ok()) return io;
            if (py_->ReplyReady()) {
              answered = true;
              return Status::Cancelled("python: answered before the end of the points");
            }
          }
          return Status::OK();
        });
    if (!io.ok()) return io;
    if (!answered && !frames.empty()) {
      BTRQ_RETURN_IF_ERROR(Io(py_->Write(frames.Take(), deadline_)));
    }
    BTRQ_RETURN_IF_ERROR(Io(py_->Write(Frame(kPyEnd), deadline_)));
    Result<PythonInterpreter::Frame> reply = py_->ReadReply(deadline_);
    BTRQ_RETURN_IF_ERROR(Io(reply.status()));
    // A failed read still ends in step (E sent, the reply taken), keeping the interpreter;
    // the function saw part of the chunk, so its answer is dropped.
    if (!read.ok() && !answered) return read;
    return Decode(*reply);
  }

 private:
  // An I/O error leaves the interpreter out of step or gone: it is replaced, and the task
  // fails transiently (the function is not to blame for its runtime).
  Status Io(const Status& s) {
    if (s.ok()) return s;
    healthy_ = false;
    std::string message = s.message();
    if (py_->Exited()) message += " (the interpreter exited)";
    const StatusCode code =
        s.code() == StatusCode::kDeadlineExceeded ? s.code() : StatusCode::kUnavailable;
    return Status(code, message + py_->StderrExcerpt());
  }

  Result<Fields> Decode(const PythonInterpreter::Frame& reply) {
    if (reply.kind != kPyResult && reply.kind != kPyFailure) {
      healthy_ = false;
      return Status::Unavailable("python: a '" + std::string(1, reply.kind) +
                                 "' frame where a result was due");
    }
    Result<Fields> fields = ParseFlatJsonObject(reply.payload);
    if (!fields.ok()) {
      healthy_ = false;
      return Status::Unavailable("python: an unreadable reply: " + fields.status().message());
    }
    if (reply.kind == kPyResult) return fields;
    if (FlagOf(*fields, "replace")) healthy_ = false;
    std::string message = "python: " + TextOf(*fields, "type") + ": " +
                          TextOf(*fields, "message");
    const std::string trace = TextOf(*fields, "traceback");
    if (!trace.empty()) message += "\n" + trace;
    return FlagOf(*fields, "transient") ? Status::Unavailable(message)
                                        : Status::FailedPrecondition(message);
  }

  PythonInterpreter* const py_;
  const SteadyDeadline deadline_;
  bool healthy_ = true;
};

class PythonAnalytic final : public Analytic {
 public:
  PythonAnalytic(PythonOptions options, std::shared_ptr<PythonPool> pool)
      : options_(std::move(options)), pool_(std::move(pool)) {}

  Result<Fields> Run(const TaskSpec& task, PointSource& source,
                     RunCounters* counters) const override {
    if (pool_ == nullptr) return Status::FailedPrecondition("python: no runtime here");
    ScopedSigpipeBlock sigpipe_block;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.timeout_ns);
    BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<PythonInterpreter> py, pool_->Checkout());
    PythonCall call(py.get(), deadline);
    const auto started = std::chrono::steady_clock::now();
    Result<Fields> result = call.Run(task, options_, source, counters);
    pool_->AddTaskTime(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             started)
            .count()));
    if (call.healthy()) {
      pool_->Return(std::move(py));
    } else {
      pool_->Discard(std::move(py));
    }
    return result;
  }

 private:
  const PythonOptions options_;
  const std::shared_ptr<PythonPool> pool_;
};

}  // namespace

Result<PythonOptions> ParsePythonOptions(const Fields& params) {
  ParamReader reader(kPythonName, params);
  PythonOptions options;
  BTRQ_ASSIGN_OR_RETURN(std::optional<std::string> function, reader.String("function"));
  if (!function) return reader.Invalid("function", "is required (module:qualname)");
  const size_t colon = function->find(':');
  if (colon == std::string::npos || !IsDottedName(function->substr(0, colon)) ||
      !IsDottedName(function->substr(colon + 1))) {
    return reader.Invalid("function", "must be module:qualname, e.g. qa:data_quality, not \"" +
                                          *function + "\"");
  }
  options.function = *function;
  options.module = function->substr(0, colon);
  BTRQ_ASSIGN_OR_RETURN(std::optional<std::string> input, reader.String("input"));
  if (input) {
    if (*input == "numpy") {
      options.input = PythonInput::kNumpy;
    } else if (*input == "points") {
      options.input = PythonInput::kPoints;
    } else if (*input == "pandas") {
      options.input = PythonInput::kPandas;
    } else if (*input == "batches") {
      options.input = PythonInput::kBatches;
    } else {
      return reader.Invalid("input", "must be numpy, points, pandas or batches");
    }
  }
  BTRQ_ASSIGN_OR_RETURN(std::optional<int64_t> timeout, reader.Duration("timeout"));
  if (timeout) {
    if (*timeout <= 0) return reader.Invalid("timeout", "must be positive");
    options.timeout_ns = *timeout;
  }
  // Every other param is the function's own: no CheckAllUsed().
  return options;
}

bool PythonModuleAllowed(const std::vector<std::string>& patterns, std::string_view module) {
  const std::string name(module);
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

Result<std::unique_ptr<Analytic>> NewPython(const Fields& params,
                                            const std::vector<std::string>& allowed,
                                            std::shared_ptr<PythonPool> pool) {
  BTRQ_ASSIGN_OR_RETURN(PythonOptions options, ParsePythonOptions(params));
  if (pool != nullptr && !PythonModuleAllowed(allowed, options.module)) {
    return Status::InvalidArgument("python: module " + options.module +
                                   " is not allowed on this worker (worker.python.modules)");
  }
  return std::unique_ptr<Analytic>(
      std::make_unique<PythonAnalytic>(std::move(options), std::move(pool)));
}

std::string PythonTaskJson(const TaskSpec& task, const PythonOptions& options) {
  static constexpr const char* kInputs[] = {"numpy", "points", "pandas", "batches"};
  std::string out;
  out.reserve(384);
  out.append("{\"function\":");
  AppendJsonQuoted(&out, options.function);
  out.append(",\"input\":\"");
  out.append(kInputs[static_cast<size_t>(options.input)]);
  out.append("\",\"task\":{\"job\":");
  out.append(std::to_string(task.key.job));
  out.append(",\"stream\":");
  AppendJsonQuoted(&out, task.key.stream.ToString());
  out.append(",\"start\":" + std::to_string(task.key.start));
  out.append(",\"end\":" + std::to_string(task.end));
  out.append(",\"version\":" + std::to_string(task.version));
  out.append(",\"earliest\":" + std::to_string(task.stream_earliest));
  out.append(",\"latest\":" + std::to_string(task.stream_latest));
  out.append(",\"attempt\":" + std::to_string(task.attempt));
  out.append("},\"params\":");
  Fields own;
  for (const auto& field : task.params) {
    if (std::find(std::begin(kOwnParams), std::end(kOwnParams), field.first) ==
        std::end(kOwnParams)) {
      own.push_back(field);
    }
  }
  AppendJsonObject(&out, own);
  out.push_back('}');
  return out;
}

}  // namespace btrq::analytics
