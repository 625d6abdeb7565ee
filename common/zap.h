#pragma once

// CurveZMQ access control: a ZAP handler (ZeroMQ Authentication Protocol, RFC 27) that lets
// in only listed client public keys, the authorized-keys file it reads, the key files that
// `btrq keygen` writes, and the SocketOptions a daemon derives from its CurveOptions.
//
//   // broker or sink, before binding its CURVE ROUTER:
//   BTRQ_ASSIGN_OR_RETURN(ZapOptions zap, ZapOptionsFrom(config.curve));
//   zap.metrics = &registry;
//   BTRQ_ASSIGN_OR_RETURN(zap_, ZapAuthenticator::Start(context, zap));
//   BTRQ_ASSIGN_OR_RETURN(SocketOptions options, CurveServerOptionsFrom(config.curve, base));
//   // worker:
//   BTRQ_ASSIGN_OR_RETURN(SocketOptions options,
//                         CurveClientOptionsFrom(config.curve, config.curve.broker_public_key));

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/options.h"
#include "common/status.h"
#include "common/zmq_util.h"

namespace btrq {

// A raw CURVE public key, as ZAP carries it.
using CurveKeyBytes = std::array<uint8_t, 32>;

// The Z85 text (40 characters) of `key`.
std::string CurveKeyToZ85(const CurveKeyBytes& key);
// The raw key of Z85 `text`; InvalidArgument unless it is 40 valid Z85 characters.
Result<CurveKeyBytes> CurveKeyFromZ85(std::string_view text);

struct ZapOptions {
  // CURVE client keys that are let in. Empty: every client is refused.
  std::set<CurveKeyBytes> authorized_keys;
  // The authorized-keys file these keys came from, if any. It is read again every second
  // and at handshakes (at most every 100 ms), so a key appended to it is let in at its
  // next handshake, without a restart. A key removed from it is refused once the file has
  // read the same for a second (a file caught half rewritten takes nobody's key away);
  // connections it made before stay up: see Authorized(). A file that cannot be read or
  // parsed leaves the keys as they were: logged at error and counted in
  // btrq_auth_keys_file_errors_total.
  std::string authorized_keys_file;
  // Empty: requests are answered whatever ZMQ_ZAP_DOMAIN the server socket set. Otherwise
  // only requests from sockets with exactly this domain can be accepted (SocketOptions sets
  // no domain, so daemons leave this empty).
  std::string domain;
  // When set, refusals are counted in btrq_auth_refused_total{reason} (reason: unknown_key,
  // mechanism, domain, malformed), acceptances in btrq_auth_accepted_total, the keys let
  // in in btrq_auth_authorized_keys. Must outlive the authenticator.
  metrics::Registry* metrics = nullptr;
  // Refusals are logged here (at warn, at most a few per peer address per interval);
  // null: spdlog's default logger at Start().
  std::shared_ptr<spdlog::logger> logger;
  // Time for the log rate limiter; null: SystemClock::Default(). Must outlive the
  // authenticator.
  const Clock* clock = nullptr;
};

// Answers the ZAP requests of every CURVE (or ZAP-domain) server socket in one context: 200
// for a CURVE client whose public key is authorized, with the key's Z85 text as the
// User-Id (readable on received messages as the "User-Id" property); 400 for any other
// key, any other mechanism (NULL, PLAIN) and a foreign domain. Runs on its own thread.
//
// libzmq lets a CURVE server accept every client when no handler is bound, so: start the
// authenticator before binding the server socket, and stop it only after that socket is
// closed. A client refused with 400 reconnects and is refused again on each attempt.
class ZapAuthenticator {
 public:
  // Binds a REP socket at inproc://zeromq.zap.01 in `context` (at most one per context:
  // Unavailable when one is bound already) and starts answering. The handler is bound when
  // this returns. `context` must outlive the authenticator.
  static Result<std::unique_ptr<ZapAuthenticator>> Start(zmq::context_t& context,
                                                         ZapOptions options);

  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;
  // Stops.
  ~ZapAuthenticator();

  // Stops answering, joins the thread and unbinds the handler; returns within a few
  // milliseconds. Idempotent; call from the thread that owns the authenticator. A request
  // being answered is answered first.
  void Stop();

  // Requests answered 200 / 400 since Start(). Thread-safe.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // Whether the key with Z85 text `user_id` (a received message's "User-Id" property) is
  // let in now. A connection whose key left the authorized-keys file after its handshake
  // stays up; a server drops its frames when this turns false. Thread-safe.
  bool Authorized(std::string_view user_id) const;
  // Why `frame`, received on a CURVE server socket of this context, must be dropped:
  // "unauthenticated" (no ZAP User-Id: it never passed this handler) or "revoked_key"
  // (its connection's key has left the authorized keys since the handshake), with the
  // log's `*detail`; "" when it may pass. Thread-safe.
  std::string_view RefusalOf(const zmq::message_t& frame, std::string* detail) const;
  // How many keys are let in now. Thread-safe.
  size_t authorized_keys() const;

 private:
  struct Counters;
  ZapAuthenticator(ZapOptions options, std::unique_ptr<Counters> counters, zmq::socket_t socket,
                   WakeupFd wakeup);

  // The thread: answers requests until Stop() or the context's termination.
  void Run();
  // Answers one request (the frames after REP's envelope).
  void Answer(const std::vector<zmq::message_t>& request);
  // Reads options_.authorized_keys_file again and takes its keys if it changed.
  void ReloadKeys();
  void SetAuthorized(std::set<CurveKeyBytes> keys);
  // Counts and logs a refusal (`reason` indexes the .cc's reason table), then replies 400.
  void Refuse(int reason, std::string_view request_id, std::string_view mechanism,
              std::string_view address, std::string_view key_z85);
  void Reply(std::string_view request_id, std::string_view code, std::string_view text,
             std::string_view user_id);

  const ZapOptions options_;
  // The thread's own: the keys let in and the file text they come from; when the file
  // was last read and is due to be read again; a text that would take keys away, not
  // applied yet, and since when the file has read so.
  std::set<CurveKeyBytes> authorized_;
  std::string keys_file_text_;
  SteadyTime last_read_{};
  SteadyTime next_reload_{};
  std::optional<std::string> unsettled_text_;
  SteadyTime unsettled_since_{};
  // authorized_'s Z85 texts, for Authorized() on other threads.
  mutable Mutex z85_mu_;
  std::set<std::string, std::less<>> authorized_z85_ BTRQ_GUARDED_BY(z85_mu_);
  zmq::socket_t socket_;  // owned by the thread from Start() until Stop()
  WakeupFd wakeup_;
  std::unique_ptr<Counters> counters_;
  std::unique_ptr<RateLimiter> log_limiter_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

// The public keys in an authorized-keys file: one Z85 key (40 characters) per line,
// optionally followed by blanks and a free-text label (e.g. the worker's name). Blank lines
// and lines starting with '#' are skipped (no valid Z85 key starts with '#'). Errors name
// the place: "path:line: ...". Duplicates are kept once, in file order.
Result<std::vector<CurveKeyBytes>> LoadAuthorizedKeys(const std::string& path);
// The same for the file's `content`; `path` only names the place in errors.
Result<std::vector<CurveKeyBytes>> ParseAuthorizedKeys(const std::string& path,
                                                       std::string_view content);

// Writes a fresh key pair (the one `btrq keygen` makes) as `dir`/`name`.key, the secret
// key, and `dir`/`name`.pub, the public key: each file holds the Z85 key and a newline, so
// a .pub file can be appended to an authorized-keys file as is. Modes are exactly 0600
// and 0644, whatever the umask. `dir` must exist. Unless `overwrite`, AlreadyExists
// ("<path> exists") when either file does, and nothing is written; InvalidArgument for a
// name that is empty or holds '/'. Returns the pair written.
Result<CurveKeyPair> WriteKeyPair(const std::string& dir, const std::string& name,
                                  bool overwrite = false);

// Reads a secret-key file (one Z85 key, as WriteKeyPair writes it, maybe among '#'
// comments and blank lines) and derives its public key. Errors name the file (and line).
Result<CurveKeyPair> ReadKeyPair(const std::string& secret_path);

// `curve`'s own key pair: secret_key, or else the one in secret_key_file; InvalidArgument
// when public_key is set and does not belong to that secret key.
Result<CurveKeyPair> CurveKeyPairFrom(const CurveOptions& curve);

// `base` with CURVE server keys set from `curve` when curve.enabled (unchanged otherwise).
Result<SocketOptions> CurveServerOptionsFrom(const CurveOptions& curve, SocketOptions base = {});

// `base` with CURVE client keys set from `curve` and `server_public_key` (Z85, e.g.
// curve.broker_public_key) when curve.enabled (unchanged otherwise).
Result<SocketOptions> CurveClientOptionsFrom(const CurveOptions& curve,
                                             std::string_view server_public_key,
                                             SocketOptions base = {});

// ZapOptions whose authorized_keys come from curve.authorized_keys_file (required:
// InvalidArgument when empty), which is also watched for changes. Metrics and logger are
// left for the caller.
Result<ZapOptions> ZapOptionsFrom(const CurveOptions& curve);

}  // namespace btrq
