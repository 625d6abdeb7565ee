#include "tests/integration/broker/fake_worker.h"

#include <algorithm>

#include "common/codec.h"
#include "common/zmq_util.h"

namespace btrq::testing {

Result<std::unique_ptr<FakeWorker>> FakeWorker::Connect(const std::string& endpoint,
                                                        const std::string& id) {
  std::unique_ptr<FakeWorker> w(new FakeWorker());
  w->id_ = id;
  SocketOptions options;
  options.routing_id = id;
  BTRQ_ASSIGN_OR_RETURN(w->socket_, MakeSocket(w->context_, zmq::socket_type::dealer, options));
  BTRQ_RETURN_IF_ERROR(btrq::Connect(w->socket_, endpoint));
  return w;
}

FakeWorker::~FakeWorker() { socket_.close(); }

Status FakeWorker::Send(const Message& message) {
  return SendFrames({EncodeMessage(message)});
}

Status FakeWorker::SendFrames(const std::vector<std::string>& frames) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return SendMultipart(socket_, views, /*dont_wait=*/false);
}

Status FakeWorker::Hello(uint32_t credit) {
  HelloMsg hello;
  hello.worker_id = id_;
  hello.host = "test-host";
  hello.pid = 4242;
  hello.threads = 2;
  hello.analytics = {"count", "noop", "quality"};
  BTRQ_RETURN_IF_ERROR(Send(Message(hello)));
  last_heartbeat_ = std::chrono::steady_clock::now();
  return Send(Message(CreditMsg{credit}));
}

std::vector<TaskSpec> FakeWorker::held() const {
  std::vector<TaskSpec> out;
  for (const TaskSpec& t : tasks_) {
    const TaskRef ref{t.key, t.attempt};
    if (std::find(finished_.begin(), finished_.end(), ref) == finished_.end()) out.push_back(t);
  }
  return out;
}

Status FakeWorker::MaybeHeartbeat() {
  if (heartbeat_every_.count() == 0) return Status::OK();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_heartbeat_ < heartbeat_every_) return Status::OK();
  last_heartbeat_ = now;
  HeartbeatMsg hb;
  for (const TaskSpec& t : held()) hb.running.push_back(TaskRef{t.key, t.attempt});
  return Send(Message(hb));
}

Result<Message> FakeWorker::ReceiveUntil(const std::function<bool(const Message&)>& accept,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<zmq::message_t> frames;
  while (true) {
    BTRQ_RETURN_IF_ERROR(MaybeHeartbeat());
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::DeadlineExceeded("no such message from the broker");
    const auto slice = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(20),
        std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    BTRQ_ASSIGN_OR_RETURN(bool ready, PollIn(socket_, slice));
    if (!ready) continue;
    BTRQ_ASSIGN_OR_RETURN(bool got, RecvMultipart(socket_, 4, &frames));
    if (!got || frames.empty()) continue;
    BTRQ_ASSIGN_OR_RETURN(Message m, DecodeMessage(frames.back().to_string_view()));
    if (const auto* task = std::get_if<TaskMsg>(&m)) {
      ++task_frames_;
      tasks_.insert(tasks_.end(), task->tasks.begin(), task->tasks.end());
    }
    all_.push_back(m);
    if (accept(m)) return m;
  }
}

Status FakeWorker::WaitForTasks(size_t n, std::chrono::milliseconds timeout) {
  if (tasks_.size() >= n) return Status::OK();
  return ReceiveUntil([this, n](const Message&) { return tasks_.size() >= n; }, timeout).status();
}

Status FakeWorker::Done(const std::vector<TaskSpec>& tasks, ErrorClass error,
                        const std::string& message) {
  DoneMsg done;
  for (const TaskSpec& t : tasks) {
    done.items.push_back(DoneItem{TaskRef{t.key, t.attempt}, error, message});
    finished_.push_back(TaskRef{t.key, t.attempt});
  }
  return Send(Message(done));
}

}  // namespace btrq::testing
