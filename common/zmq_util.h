#pragma once

// ZeroMQ helpers over cppzmq: socket construction from a plain options struct (linger,
// HWM, max message size, CURVE), bind/connect, bounded multipart send/receive, polling
// several sockets and fds, and CURVE keys. Every zmq::error_t is caught here and returned
// as a Status. A zmq socket belongs to one thread; these helpers add no locking.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "common/status.h"

namespace btrq {

// A CURVE key pair as Z85 text (40 characters each).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// A fresh key pair (zmq_curve_keypair). Fails only if libzmq lacks CURVE.
Result<CurveKeyPair> GenerateCurveKeyPair();
// The public key that belongs to a Z85 secret key.
Result<std::string> CurvePublicKey(std::string_view secret_z85);
// Z85 text of `raw`, whose size must be a multiple of 4.
Result<std::string> Z85Encode(std::string_view raw);
// Raw bytes of Z85 `text`, whose size must be a multiple of 5.
Result<std::string> Z85Decode(std::string_view text);

// The serving side of CURVE (a bound ROUTER): its own secret key. Without a ZAP handler
// any client key is accepted.
struct CurveServerKeys {
  std::string secret_key;  // Z85
};
// The connecting side: the server's public key and the client's own pair.
struct CurveClientKeys {
  std::string server_public_key;  // Z85
  std::string public_key;         // Z85
  std::string secret_key;         // Z85
};

struct SocketOptions {
  // Milliseconds to keep unsent messages after close; 0 drops them at once.
  int linger_ms = 0;
  // Queue messages only to completed connections (ZMQ_IMMEDIATE).
  bool immediate = false;
  // ROUTER: sending to an unknown peer fails (EHOSTUNREACH -> Unavailable) instead of
  // dropping silently.
  bool router_mandatory = false;
  // Inbound frames larger than this drop the peer's connection; -1 = no limit.
  int64_t max_msg_size = -1;
  // High-water marks in messages (libzmq's default 1000; 0 = unbounded).
  int sndhwm = 1000;
  int rcvhwm = 1000;
  // ZMTP heartbeats (ms); 0 leaves them off.
  int heartbeat_ivl_ms = 0;
  int heartbeat_timeout_ms = 0;
  // Reconnect backoff (ms); -1 keeps libzmq's defaults (100, no maximum).
  int reconnect_ivl_ms = -1;
  int reconnect_ivl_max_ms = -1;
  // This socket's identity as seen by a ROUTER peer; empty = assigned by the peer.
  std::string routing_id;
  // At most one of these.
  std::optional<CurveServerKeys> curve_server;
  std::optional<CurveClientKeys> curve_client;
};

// A socket with `options` applied. InvalidArgument for bad options (e.g. a malformed key).
Result<zmq::socket_t> MakeSocket(zmq::context_t& context, zmq::socket_type type,
                                 const SocketOptions& options);

// Binds and returns the endpoint actually bound (resolves "tcp://127.0.0.1:*").
Result<std::string> Bind(zmq::socket_t& socket, const std::string& endpoint);
// Bind() for a listen address from config, where port 0 ("tcp://HOST:0") means any free
// port, as ZeroMQ's ":*" does.
Result<std::string> BindListen(zmq::socket_t& socket, const std::string& endpoint);
Status Connect(zmq::socket_t& socket, const std::string& endpoint);

// Sends `frames` as one multipart message. With `dont_wait`, a full queue (or, on a
// ROUTER with router_mandatory, an unknown peer) yields Unavailable instead of blocking.
Status SendMultipart(zmq::socket_t& socket, std::span<const std::string_view> frames,
                     bool dont_wait = true);

// Receives one multipart message into `*frames` (replacing its contents). Returns false
// when none is waiting (`dont_wait`). A message of more than `max_frames` frames is read
// to its end, discarded, and reported as InvalidMessage.
Result<bool> RecvMultipart(zmq::socket_t& socket, size_t max_frames,
                           std::vector<zmq::message_t>* frames, bool dont_wait = true);

// Waits for any of several sockets and file descriptors (zmq_poll).
class Poller {
 public:
  // Returns the item's index, for Readable()/Writable(). `socket` must outlive the Poller.
  size_t AddSocket(zmq::socket_t& socket, short events = ZMQ_POLLIN);
  size_t AddFd(int fd, short events = ZMQ_POLLIN);

  // Waits up to `timeout` (negative: without limit). Returns the number of ready items;
  // 0 on timeout or when a signal interrupted the wait.
  Result<int> Poll(std::chrono::milliseconds timeout);

  bool Readable(size_t index) const { return (items_[index].revents & ZMQ_POLLIN) != 0; }
  bool Writable(size_t index) const { return (items_[index].revents & ZMQ_POLLOUT) != 0; }

 private:
  std::vector<zmq_pollitem_t> items_;
};

// True when `socket` has a message within `timeout`.
Result<bool> PollIn(zmq::socket_t& socket, std::chrono::milliseconds timeout);

// An eventfd to wake a poll loop from another thread or a signal handler (shutdown).
class WakeupFd {
 public:
  static Result<WakeupFd> Create();
  WakeupFd(WakeupFd&& other) noexcept;
  WakeupFd& operator=(WakeupFd&& other) noexcept;
  WakeupFd(const WakeupFd&) = delete;
  WakeupFd& operator=(const WakeupFd&) = delete;
  ~WakeupFd();

  // Makes fd() readable. Async-signal-safe.
  void Notify() const;
  // Makes fd() unreadable again.
  void Drain() const;
  int fd() const { return fd_; }

 private:
  explicit WakeupFd(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace btrq
