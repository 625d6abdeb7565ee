#pragma once

// What the broker's dispatcher and the sink do alike with each message on their ROUTER
// socket before it means anything: receive the multipart message, check the envelope
// (identity, optional empty delimiter, body), refuse bodies that ZAP no longer admits
// (ZapAuthenticator::RefusalOf), decode with limits, and count and log (rate-limited)
// every message dropped on the way in btrq_bad_messages_total{reason}.
//
// Threads: a RouterInbox belongs to the thread that owns the socket.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/zap.h"

namespace btrq {

struct RouterInboxOptions {
  // Starts every log line, e.g. "btrq-broker".
  std::string log_prefix;
  // The HELP text of btrq_bad_messages_total.
  std::string bad_help = "Frames dropped, by reason.";
  // Reasons counted from the start (at 0) besides the decoder's, in this order;
  // others are added when first counted.
  std::vector<std::string> reasons;
  CodecLimits limits;
  // Most frames in one message: identity, an optional empty delimiter, body.
  size_t max_frames = 3;
};

// One message received from a ROUTER peer.
struct RouterMessage {
  // identity, optional delimiter, body; empty when the message was not even readable.
  std::vector<zmq::message_t> frames;
  // The decoded body; nullopt when the message was dropped (counted and logged).
  std::optional<Message> message;
  // Why it was dropped: "envelope", a ZAP refusal ("revoked_key", ...) or a decoder
  // reason ("bad_version", ...); "" when `message` is set.
  std::string_view dropped;

  std::string_view identity() const;
  // Every frame but the body, to route a reply back with.
  std::vector<std::string> Envelope() const;
  // The body's frame. REQUIRES: `message` is set.
  const zmq::message_t& body() const { return frames.back(); }
};

class RouterInbox {
 public:
  // Registers the counters in `registry`. `registry` and `log_limiter` are borrowed and
  // must outlive the inbox; `zap` may be null (no CURVE), else it is borrowed too.
  static Result<std::unique_ptr<RouterInbox>> Create(const RouterInboxOptions& options,
                                                     metrics::Registry* registry,
                                                     RateLimiter* log_limiter,
                                                     const ZapAuthenticator* zap);
  RouterInbox(const RouterInbox&) = delete;
  RouterInbox& operator=(const RouterInbox&) = delete;

  // Receives one message from `router` without blocking into `*out`. False when none is
  // waiting. A bad message is still true, with out->dropped set. Errors are the socket's.
  Result<bool> Receive(zmq::socket_t& router, RouterMessage* out);

  // Counts a dropped frame under `reason` and logs it with the peer and `detail`.
  void CountBad(std::string_view reason, std::string_view identity, std::string_view detail);

 private:
  RouterInbox(const RouterInboxOptions& options, metrics::Registry* registry,
              RateLimiter* log_limiter, const ZapAuthenticator* zap);
  Status AddCounter(const std::string& reason);
  // The reason `in` must be dropped for ("" when it may pass); counts it.
  std::string_view Check(RouterMessage* in);

  const RouterInboxOptions options_;
  metrics::Registry* const registry_;
  RateLimiter* const log_limiter_;
  const ZapAuthenticator* const zap_;
  std::map<std::string, metrics::Counter*, std::less<>> bad_messages_;
};

// A printable name for a peer: its identity when it is text, else hex; "(unknown)" when
// empty.
std::string PeerName(std::string_view identity);

}  // namespace btrq
