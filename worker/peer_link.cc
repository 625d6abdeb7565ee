#include "worker/peer_link.h"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace btrq::worker {
namespace {

// A DEALER connected to a ROUTER receives the body alone: one frame.
constexpr size_t kMaxFrames = 1;

CodecLimits LimitsOf(const PeerLinkOptions& options) {
  CodecLimits limits;
  limits.max_frame_bytes = static_cast<size_t>(options.max_message_bytes);
  return limits;
}

}  // namespace

PeerLink::PeerLink(PeerLinkOptions options, zmq::context_t* context, Clock* clock,
                   RateLimiter* log_limiter)
    : options_(std::move(options)),
      context_(context),
      clock_(clock),
      log_limiter_(log_limiter),
      limits_(LimitsOf(options_)),
      send_key_("send-" + options_.peer) {}

Status PeerLink::Connect() {
  if (socket_) socket_.close();
  SocketOptions o;
  o.linger_ms = 0;
  o.routing_id = options_.routing_id;
  // Frames far over the codec's limit cost the peer its connection; frames between the
  // two are received and counted as too_large.
  o.max_msg_size = options_.max_message_bytes * 2;
  o.reconnect_ivl_ms = 100;
  o.reconnect_ivl_max_ms = 2000;
  o.curve_client = options_.curve;
  BTRQ_ASSIGN_OR_RETURN(socket_, MakeSocket(*context_, zmq::socket_type::dealer, o));
  BTRQ_RETURN_IF_ERROR(
      btrq::Connect(socket_, options_.endpoint).WithContext("worker." + options_.peer));
  heard_ = clock_->Now();
  return Status::OK();
}

Status PeerLink::Reconnect() {
  if (options_.reconnects != nullptr) options_.reconnects->Inc();
  return Connect();
}

bool PeerLink::Send(std::string_view frame, MessageType type) {
  const Status sent = SendMultipart(socket_, std::span<const std::string_view>(&frame, 1));
  if (!sent.ok()) {
    LogRateLimited(spdlog::default_logger_raw(), log_limiter_, send_key_, spdlog::level::warn,
                   "btrq-worker: sending {} to the {} failed: {}", MessageTypeName(type),
                   options_.peer, sent.ToString());
    return false;
  }
  return true;
}

void PeerLink::Receive(size_t max, const std::function<bool()>& keep_going,
                       const MessageFn& on_message, const BadFrameFn& on_bad) {
  std::vector<zmq::message_t> frames;
  for (size_t n = 0; n < max && keep_going(); ++n) {
    auto received = RecvMultipart(socket_, kMaxFrames, &frames);
    if (!received.ok()) {
      if (received.status().code() != StatusCode::kInvalidMessage) {
        LogRateLimited(spdlog::default_logger_raw(), log_limiter_, "recv", spdlog::level::warn,
                       "btrq-worker: receiving failed: {}", received.status().ToString());
        return;
      }
      on_bad("envelope", received.status().message(), std::string_view());
      continue;
    }
    if (!*received) return;
    // Any frame at all shows the peer is alive.
    heard_ = clock_->Now();
    auto decoded = DecodeMessage(frames.front().to_string_view(), limits_);
    if (!decoded.ok()) {
      on_bad(DecodeErrorReasonName(DecodeReasonOf(decoded.status())), decoded.status().message(),
             frames.front().to_string_view());
      continue;
    }
    on_message(std::move(decoded).value());
  }
}

bool PeerLink::Silent(SteadyTime now, SteadyTime since) const {
  return now - std::max(heard_, since) > options_.silence;
}

SteadyTime PeerLink::SilenceDeadline(SteadyTime since) const {
  return std::max(heard_, since) + options_.silence;
}

void PeerLink::Close(int linger_ms) {
  if (!socket_) return;
  try {
    socket_.set(zmq::sockopt::linger, linger_ms);
  } catch (const zmq::error_t&) {
    // Closing with the socket's own linger is all that is left to do.
  }
  socket_.close();
}

}  // namespace btrq::worker
