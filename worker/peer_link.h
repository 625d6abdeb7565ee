#pragma once

// One of the worker's two links (to the broker, to the sink): a DEALER connected to the
// peer's ROUTER, with CURVE when keys are given, bounded non-blocking receive and decode,
// and silence detection. Reconnect() replaces the socket (libzmq's own reconnects keep
// the old identity's queues; a new socket starts clean). Not thread-safe: the thread that
// polls the socket owns the link.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "common/clock.h"
#include "common/codec.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/zmq_util.h"

namespace btrq::worker {

struct PeerLinkOptions {
  std::string peer;        // "broker" or "sink": in log lines and rate-limiter keys
  std::string endpoint;    // where the peer's ROUTER listens
  std::string routing_id;  // this worker's id, as the peer's ROUTER sees it
  // Largest frame decoded; frames up to twice this are received and reported too_large,
  // larger ones cost the peer its connection.
  int64_t max_message_bytes = 16 * 1024 * 1024;
  std::optional<CurveClientKeys> curve;
  // No frame for longer than this and the peer counts as silent.
  Nanos silence = std::chrono::seconds(5);
  // Incremented by each Reconnect(); may be null.
  metrics::Counter* reconnects = nullptr;
};

class PeerLink {
 public:
  // A decoded message from the peer.
  using MessageFn = std::function<void(Message)>;
  // A frame dropped: `reason` is a btrq_bad_messages_total reason ("envelope", or a
  // DecodeErrorReasonName), `detail` says what was wrong; `frame` is its bytes (empty for
  // an envelope error), valid during the call.
  using BadFrameFn = std::function<void(std::string_view reason, const std::string& detail,
                                        std::string_view frame)>;

  // `context`, `clock` and `log_limiter` are borrowed and must outlive the link.
  PeerLink(PeerLinkOptions options, zmq::context_t* context, Clock* clock,
           RateLimiter* log_limiter);
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Makes a new DEALER (closing any previous one without lingering) and connects it; the
  // peer counts as heard from now.
  Status Connect();
  // Counts a reconnect, then Connect().
  Status Reconnect();
  // Sends one frame without blocking; false (logged, rate-limited) when it could not go.
  // `type` is for the log line only.
  bool Send(std::string_view frame, MessageType type);
  // Receives and decodes up to `max` waiting frames, without blocking, while
  // `keep_going()` holds (checked before each). Any frame, even a bad one, counts as
  // hearing from the peer.
  void Receive(size_t max, const std::function<bool()>& keep_going, const MessageFn& on_message,
               const BadFrameFn& on_bad);

  // Silent: nothing heard since max(last frame, `since`) for longer than the silence limit.
  bool Silent(SteadyTime now, SteadyTime since = SteadyTime{}) const;
  // When Silent() turns true, given the same `since`.
  SteadyTime SilenceDeadline(SteadyTime since = SteadyTime{}) const;
  SteadyTime heard() const { return heard_; }

  // For a Poller; valid after Connect().
  zmq::socket_t& socket() { return socket_; }
  // Closes the socket, letting queued frames leave for up to `linger_ms`.
  void Close(int linger_ms);

 private:
  const PeerLinkOptions options_;
  zmq::context_t* const context_;
  Clock* const clock_;
  RateLimiter* const log_limiter_;
  const CodecLimits limits_;
  const std::string send_key_;  // rate-limiter key of send failures
  zmq::socket_t socket_;
  SteadyTime heard_{};
};

}  // namespace btrq::worker
