#include "tests/integration/worker/fake_router.h"

#include <algorithm>
#include <span>
#include <string_view>
#include <utility>

#include "common/codec.h"

namespace btrq::testing {

FakeRouter::~FakeRouter() { Stop(); }

Status FakeRouter::Start() {
  BTRQ_ASSIGN_OR_RETURN(WakeupFd wake, WakeupFd::Create());
  wake_.emplace(std::move(wake));
  try {
    router_ = zmq::socket_t(context_, zmq::socket_type::router);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::router_handover, 1);
    router_.set(zmq::sockopt::router_mandatory, 1);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("fake router socket: ") + e.what());
  }
  BTRQ_ASSIGN_OR_RETURN(endpoint_, Bind(router_, "tcp://127.0.0.1:*"));
  thread_ = std::thread([this] { ThreadMain(); });
  return Status::OK();
}

void FakeRouter::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  wake_->Notify();
  thread_.join();
  router_.close();
}

void FakeRouter::SetResponder(Responder responder) {
  MutexLock lock(&mu_);
  responder_ = std::move(responder);
}

void FakeRouter::Send(const std::string& identity, const Message& message) {
  SendFrames(identity, {EncodeMessage(message)});
}

void FakeRouter::SendFrames(const std::string& identity, std::vector<std::string> frames) {
  {
    MutexLock lock(&mu_);
    frames.insert(frames.begin(), identity);
    outbox_.push_back(std::move(frames));
  }
  wake_->Notify();
}

std::vector<Received> FakeRouter::Log() const {
  MutexLock lock(&mu_);
  return log_;
}

bool FakeRouter::WaitUntil(const std::function<bool(const std::vector<Received>&)>& done,
                           std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (!done(log_)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    cv_.WaitFor(&mu_, std::chrono::milliseconds(20));
  }
  return true;
}

int FakeRouter::bad_frames() const {
  MutexLock lock(&mu_);
  return bad_frames_;
}

void FakeRouter::ThreadMain() {
  auto next_heartbeat = std::chrono::steady_clock::now();
  std::vector<zmq::message_t> frames;
  while (!stop_) {
    Poller poller;
    poller.AddSocket(router_);
    const size_t wake_item = poller.AddFd(wake_->fd());
    if (!poller.Poll(std::chrono::milliseconds(10)).ok()) return;
    if (poller.Readable(wake_item)) wake_->Drain();

    for (;;) {
      auto received = RecvMultipart(router_, 8, &frames);
      if (!received.ok() || !*received) break;
      if (frames.size() != 2) continue;
      const std::string identity = frames[0].to_string();
      auto decoded = DecodeMessage(frames[1].to_string_view());
      std::vector<Message> replies;
      {
        MutexLock lock(&mu_);
        if (std::find(identities_.begin(), identities_.end(), identity) == identities_.end()) {
          identities_.push_back(identity);
        }
        if (!decoded.ok()) {
          ++bad_frames_;
          continue;
        }
        log_.push_back(Received{identity, *decoded, std::chrono::steady_clock::now()});
        if (responder_) replies = responder_(log_.back());
        cv_.SignalAll();
      }
      for (const Message& reply : replies) {
        const std::string body = EncodeMessage(reply);
        const std::string_view parts[2] = {identity, body};
        (void)SendMultipart(router_, parts);
      }
    }

    const auto now = std::chrono::steady_clock::now();
    const int64_t hb_ms = heartbeat_ms_.load();
    std::vector<std::vector<std::string>> outgoing;
    std::vector<std::string> heartbeat_to;
    {
      MutexLock lock(&mu_);
      outgoing.swap(outbox_);
      for (auto& message : outgoing) {
        if (message.front().empty() && !identities_.empty()) message.front() = identities_.back();
      }
      if (hb_ms > 0 && now >= next_heartbeat) {
        next_heartbeat = now + std::chrono::milliseconds(hb_ms);
        heartbeat_to = identities_;
      }
    }
    const std::string heartbeat = EncodeMessage(Message(BrokerHeartbeatMsg{}));
    for (const std::string& id : heartbeat_to) {
      const std::string_view parts[2] = {id, heartbeat};
      (void)SendMultipart(router_, parts);  // a vanished peer misses one heartbeat
    }
    std::vector<std::vector<std::string>> retry;
    for (auto& message : outgoing) {
      std::vector<std::string_view> parts(message.begin(), message.end());
      // An identity not yet connected: try again next turn.
      if (!SendMultipart(router_, parts).ok()) retry.push_back(std::move(message));
    }
    if (!retry.empty()) {
      MutexLock lock(&mu_);
      outbox_.insert(outbox_.begin(), std::make_move_iterator(retry.begin()),
                     std::make_move_iterator(retry.end()));
    }
  }
}

uint64_t CreditGranted(const std::vector<Received>& log) {
  uint64_t n = 0;
  for (const CreditMsg& c : All<CreditMsg>(log)) n += c.credit;
  return n;
}

std::vector<Message> AckAll(const Received& r) {
  const auto* results = std::get_if<ResultMsg>(&r.message);
  if (results == nullptr) return {};
  AckMsg ack;
  for (const TaskResult& result : results->results) ack.keys.push_back(result.task.key);
  return {Message(std::move(ack))};
}

double MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

ResponderReset::~ResponderReset() {
  for (FakeRouter* router : routers_) router->SetResponder({});
}

}  // namespace btrq::testing
