#include "common/router_inbox.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/text.h"
#include "common/zmq_util.h"

namespace btrq {
std::string PeerName(std::string_view identity) {
  if (identity.empty()) return "(unknown)";
  const bool printable =
      std::all_of(identity.begin(), identity.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  return printable ? std::string(identity) : HexOf(identity);
}

std::string_view RouterMessage::identity() const {
  return frames.empty() ? std::string_view() : frames.front().to_string_view();
}

std::vector<std::string> RouterMessage::Envelope() const {
  std::vector<std::string> envelope;
  for (size_t i = 0; i + 1 < frames.size(); ++i) envelope.emplace_back(frames[i].to_string());
  return envelope;
}

RouterInbox::RouterInbox(const RouterInboxOptions& options, metrics::Registry* registry,
                         RateLimiter* log_limiter, const ZapAuthenticator* zap)
    : options_(options), registry_(registry), log_limiter_(log_limiter), zap_(zap) {}

Result<std::unique_ptr<RouterInbox>> RouterInbox::Create(const RouterInboxOptions& options,
                                                         metrics::Registry* registry,
                                                         RateLimiter* log_limiter,
                                                         const ZapAuthenticator* zap) {
  std::unique_ptr<RouterInbox> inbox(new RouterInbox(options, registry, log_limiter, zap));
  for (DecodeErrorReason reason : {DecodeErrorReason::kTooLarge, DecodeErrorReason::kBadVersion,
                                   DecodeErrorReason::kUnknownType, DecodeErrorReason::kMalformed,
                                   DecodeErrorReason::kLimits, DecodeErrorReason::kBadField}) {
    BTRQ_RETURN_IF_ERROR(inbox->AddCounter(std::string(DecodeErrorReasonName(reason))));
  }
  for (const std::string& reason : options.reasons) {
    BTRQ_RETURN_IF_ERROR(inbox->AddCounter(reason));
  }
  return inbox;
}

Status RouterInbox::AddCounter(const std::string& reason) {
  BTRQ_ASSIGN_OR_RETURN(
      bad_messages_[reason],
      registry_->AddCounter("btrq_bad_messages_total", options_.bad_help, {{"reason", reason}}));
  return Status::OK();
}

Result<bool> RouterInbox::Receive(zmq::socket_t& router, RouterMessage* out) {
  out->message.reset();
  out->dropped = {};
  Result<bool> received = RecvMultipart(router, options_.max_frames, &out->frames);
  if (!received.ok()) {
    if (received.status().code() != StatusCode::kInvalidMessage) return received.status();
    // Too many frames: read to the end and discarded, from nobody we can name.
    out->frames.clear();
    out->dropped = "envelope";
    CountBad(out->dropped, "", received.status().message());
    return true;
  }
  if (!*received) return false;
  out->dropped = Check(out);
  return true;
}

std::string_view RouterInbox::Check(RouterMessage* in) {
  const std::vector<zmq::message_t>& frames = in->frames;
  const std::string_view identity = in->identity();
  if (frames.size() < 2) {
    CountBad("envelope", identity, "no body frame");
    return "envelope";
  }
  for (size_t i = 1; i + 1 < frames.size(); ++i) {
    if (frames[i].size() != 0) {
      CountBad("envelope", identity, "non-empty delimiter frame");
      return "envelope";
    }
  }
  if (zap_ != nullptr) {
    std::string detail;
    if (const std::string_view refusal = zap_->RefusalOf(frames.back(), &detail);
        !refusal.empty()) {
      CountBad(refusal, identity, detail);
      return refusal;
    }
  }
  Result<Message> decoded = DecodeMessage(frames.back().to_string_view(), options_.limits);
  if (!decoded.ok()) {
    const std::string_view reason = DecodeErrorReasonName(DecodeReasonOf(decoded.status()));
    CountBad(reason, identity, decoded.status().message());
    return reason;
  }
  in->message = std::move(decoded).value();
  return {};
}

void RouterInbox::CountBad(std::string_view reason, std::string_view identity,
                           std::string_view detail) {
  auto it = bad_messages_.find(reason);
  if (it == bad_messages_.end()) {
    // A reason first seen now (a ZAP refusal, a caller's own); not counting is better
    // than failing the receive loop, and the log line below still tells.
    if (AddCounter(std::string(reason)).ok()) it = bad_messages_.find(reason);
  }
  if (it != bad_messages_.end()) it->second->Inc();
  const std::string peer = PeerName(identity);
  // Codec errors already start with their reason.
  const std::string text = detail.starts_with(reason)
                               ? std::string(detail)
                               : std::string(reason) + ": " + std::string(detail);
  LogRateLimited(spdlog::default_logger_raw(), log_limiter_, peer, spdlog::level::warn,
                 "{}: dropped a frame from peer {}: {}", options_.log_prefix, peer, text);
}

}  // namespace btrq
