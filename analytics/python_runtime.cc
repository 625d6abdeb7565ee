#include "analytics/python_runtime.h"

#include <chrono>
#include <utility>

namespace btrq::analytics {
namespace {

uint32_t LoadLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// The length of the complete frame at the front of `out`, 0 when it is not complete yet.
size_t CompleteFrame(const std::string& out) {
  if (out.size() < kPyHeaderBytes) return 0;
  const size_t total = kPyHeaderBytes + LoadLe32(out.data());
  return out.size() >= total ? total : 0;
}

std::string JoinPath(const std::vector<std::string>& dirs) {
  std::string out;
  for (const std::string& d : dirs) {
    if (!out.empty()) out.push_back(':');
    out += d;
  }
  return out;
}

}  // namespace

void AppendPyHeader(std::string* out, char kind, size_t payload_bytes) {
  const auto n = static_cast<uint32_t>(payload_bytes);
  const char header[kPyHeaderBytes] = {static_cast<char>(n & 0xff),
                                       static_cast<char>((n >> 8) & 0xff),
                                       static_cast<char>((n >> 16) & 0xff),
                                       static_cast<char>((n >> 24) & 0xff),
                                       kind, 0, 0, 0};
  out->append(header, kPyHeaderBytes);
}

Result<std::unique_ptr<PythonInterpreter>> PythonInterpreter::Start(
    const PythonRuntimeOptions& options) {
  ChildProcess::Options child;
  child.argv = {options.interpreter, "-m", "btrq.runner"};
  // Our package first, so a user's module named btrq cannot replace the runner.
  // One thread each for numpy's BLAS: the worker's executor threads are the parallelism.
  child.env = {"PYTHONPATH=" + JoinPath(options.path), "PYTHONDONTWRITEBYTECODE=1",
               "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1"};
  child.max_stdout_bytes = kPyHeaderBytes + kPyMaxReplyBytes;
  child.memory_limit_bytes = options.memory_limit_bytes;
  child.what = "python";
  Result<std::unique_ptr<ChildProcess>> spawned = ChildProcess::Spawn(std::move(child));
  if (!spawned.ok()) return Status::Unavailable(spawned.status().message());
  std::unique_ptr<PythonInterpreter> interpreter(new PythonInterpreter(std::move(*spawned)));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options.start_timeout_ns);
  Result<Frame> hello = interpreter->ReadReply(deadline);
  if (!hello.ok() || hello->kind != kPyHello) {
    const std::string why = hello.ok() ? "a '" + std::string(1, hello->kind) + "' frame"
                                       : hello.status().message();
    return Status::Unavailable("python: " + options.interpreter +
                               " -m btrq.runner did not start: " + why +
                               interpreter->StderrExcerpt());
  }
  return interpreter;
}

Status PythonInterpreter::Write(std::string_view bytes, SteadyDeadline deadline) {
  // Whole frames only: stopping inside one would put the runner out of step. A runner that
  // answered early reads on to the E frame, so the write always completes.
  BTRQ_RETURN_IF_ERROR(child_->Write(bytes, deadline));
  if (child_->stdin_closed()) {
    return Status::Unavailable("python: the interpreter stopped reading" +
                               child_->StderrExcerpt());
  }
  return Status::OK();
}

bool PythonInterpreter::ReplyReady() const { return CompleteFrame(child_->out()) > 0; }

Result<PythonInterpreter::Frame> PythonInterpreter::ReadReply(SteadyDeadline deadline) {
  BTRQ_RETURN_IF_ERROR(child_->ReadUntil([this] { return ReplyReady(); }, deadline));
  std::string& out = child_->out();
  const size_t total = CompleteFrame(out);
  Frame frame;
  frame.kind = out[4];
  frame.payload.assign(out, kPyHeaderBytes, total - kPyHeaderBytes);
  out.erase(0, total);
  return frame;
}

Result<std::unique_ptr<PythonInterpreter>> PythonPool::Checkout() {
  {
    MutexLock lock(&mu_);
    while (!idle_.empty()) {
      std::unique_ptr<PythonInterpreter> interpreter = std::move(idle_.back());
      idle_.pop_back();
      // One that died while idle (killed from outside) is replaced here.
      if (interpreter->Exited()) {
        replaced_.fetch_add(1);
        continue;
      }
      busy_.fetch_add(1);
      return interpreter;
    }
  }
  BTRQ_ASSIGN_OR_RETURN(std::unique_ptr<PythonInterpreter> interpreter,
                        PythonInterpreter::Start(options_));
  started_.fetch_add(1);
  busy_.fetch_add(1);
  return interpreter;
}

void PythonPool::Return(std::unique_ptr<PythonInterpreter> interpreter) {
  busy_.fetch_sub(1);
  MutexLock lock(&mu_);
  idle_.push_back(std::move(interpreter));
}

void PythonPool::Discard(std::unique_ptr<PythonInterpreter> interpreter) {
  busy_.fetch_sub(1);
  replaced_.fetch_add(1);
  interpreter.reset();  // kills its process group and reaps it
}

}  // namespace btrq::analytics
