#include "common/zmq_util.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/posix_error.h"

namespace btrq {
namespace {

Status FromZmqError(const zmq::error_t& e, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += e.what();
  switch (e.num()) {
    case EAGAIN:
    case EHOSTUNREACH:
      return Status::Unavailable(std::move(msg));
    case ETERM:
      return Status::Cancelled(std::move(msg));
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
    case ENODEV:
      return Status::InvalidArgument(std::move(msg));
    case EADDRINUSE:
    case EADDRNOTAVAIL:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::IoError(std::move(msg));
  }
}

Status CheckKey(std::string_view key, std::string_view name) {
  if (key.size() != 40) {
    return Status::InvalidArgument(std::string(name) + ": expected a 40-character Z85 key, got " +
                                   std::to_string(key.size()) + " characters");
  }
  std::string raw(32, '\0');
  const std::string text(key);
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(raw.data()), text.c_str()) == nullptr) {
    return Status::InvalidArgument(std::string(name) + ": not valid Z85");
  }
  return Status::OK();
}

}  // namespace

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Unimplemented(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{std::string(pub, 40), std::string(sec, 40)};
}

Result<std::string> CurvePublicKey(std::string_view secret_z85) {
  BTRQ_RETURN_IF_ERROR(CheckKey(secret_z85, "curve secret key"));
  const std::string secret(secret_z85);
  char pub[41];
  if (zmq_curve_public(pub, secret.c_str()) != 0) {
    return Status::InvalidArgument(std::string("zmq_curve_public: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub, 40);
}

Result<std::string> Z85Encode(std::string_view raw) {
  if (raw.size() % 4 != 0) {
    return Status::InvalidArgument("z85: input size " + std::to_string(raw.size()) +
                                   " is not a multiple of 4");
  }
  std::string out(raw.size() / 4 * 5 + 1, '\0');
  if (zmq_z85_encode(out.data(), reinterpret_cast<const uint8_t*>(raw.data()), raw.size()) ==
      nullptr) {
    return Status::InvalidArgument("z85: encode failed");
  }
  out.pop_back();
  return out;
}

Result<std::string> Z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) {
    return Status::InvalidArgument("z85: text size " + std::to_string(text.size()) +
                                   " is not a multiple of 5");
  }
  const std::string input(text);
  std::string out(text.size() / 5 * 4, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(out.data()), input.c_str()) == nullptr) {
    return Status::InvalidArgument("z85: invalid character");
  }
  return out;
}

Result<zmq::socket_t> MakeSocket(zmq::context_t& context, zmq::socket_type type,
                                 const SocketOptions& o) {
  if (o.curve_server && o.curve_client) {
    return Status::InvalidArgument("socket: curve_server and curve_client are exclusive");
  }
  if (o.curve_server) BTRQ_RETURN_IF_ERROR(CheckKey(o.curve_server->secret_key, "curve secret key"));
  if (o.curve_client) {
    BTRQ_RETURN_IF_ERROR(CheckKey(o.curve_client->server_public_key, "curve server public key"));
    BTRQ_RETURN_IF_ERROR(CheckKey(o.curve_client->public_key, "curve public key"));
    BTRQ_RETURN_IF_ERROR(CheckKey(o.curve_client->secret_key, "curve secret key"));
  }
  try {
    zmq::socket_t s(context, type);
    s.set(zmq::sockopt::linger, o.linger_ms);
    s.set(zmq::sockopt::sndhwm, o.sndhwm);
    s.set(zmq::sockopt::rcvhwm, o.rcvhwm);
    s.set(zmq::sockopt::maxmsgsize, o.max_msg_size);
    if (o.immediate) s.set(zmq::sockopt::immediate, true);
    if (o.router_mandatory) s.set(zmq::sockopt::router_mandatory, true);
    if (o.heartbeat_ivl_ms > 0) s.set(zmq::sockopt::heartbeat_ivl, o.heartbeat_ivl_ms);
    if (o.heartbeat_timeout_ms > 0) s.set(zmq::sockopt::heartbeat_timeout, o.heartbeat_timeout_ms);
    if (o.reconnect_ivl_ms >= 0) s.set(zmq::sockopt::reconnect_ivl, o.reconnect_ivl_ms);
    if (o.reconnect_ivl_max_ms >= 0) s.set(zmq::sockopt::reconnect_ivl_max, o.reconnect_ivl_max_ms);
    if (!o.routing_id.empty()) s.set(zmq::sockopt::routing_id, o.routing_id);
    if (o.curve_server) {
      s.set(zmq::sockopt::curve_server, true);
      s.set(zmq::sockopt::curve_secretkey, o.curve_server->secret_key);
    }
    if (o.curve_client) {
      s.set(zmq::sockopt::curve_serverkey, o.curve_client->server_public_key);
      s.set(zmq::sockopt::curve_publickey, o.curve_client->public_key);
      s.set(zmq::sockopt::curve_secretkey, o.curve_client->secret_key);
    }
    return s;
  } catch (const zmq::error_t& e) {
    return FromZmqError(e, "socket");
  }
}

Result<std::string> Bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
    return socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return FromZmqError(e, "bind " + endpoint);
  }
}

Result<std::string> BindListen(zmq::socket_t& socket, const std::string& endpoint) {
  if (endpoint.size() > 2 && endpoint.ends_with(":0")) {
    return Bind(socket, endpoint.substr(0, endpoint.size() - 2) + ":*");
  }
  return Bind(socket, endpoint);
}

Status Connect(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
    return Status::OK();
  } catch (const zmq::error_t& e) {
    return FromZmqError(e, "connect " + endpoint);
  }
}

Status SendMultipart(zmq::socket_t& socket, std::span<const std::string_view> frames,
                     bool dont_wait) {
  if (frames.empty()) return Status::InvalidArgument("send: no frames");
  try {
    for (size_t i = 0; i < frames.size(); ++i) {
      zmq::send_flags flags = dont_wait ? zmq::send_flags::dontwait : zmq::send_flags::none;
      if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
      // ZeroMQ delivers multipart messages atomically: once the first frame is queued,
      // the rest are too, so only the first can report "would block".
      if (!socket.send(zmq::buffer(frames[i].data(), frames[i].size()), flags)) {
        return Status::Unavailable("send: queue full (would block)");
      }
    }
    return Status::OK();
  } catch (const zmq::error_t& e) {
    return FromZmqError(e, "send");
  }
}

Result<bool> RecvMultipart(zmq::socket_t& socket, size_t max_frames,
                           std::vector<zmq::message_t>* frames, bool dont_wait) {
  frames->clear();
  try {
    const zmq::recv_flags flags = dont_wait ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
    zmq::message_t msg;
    if (!socket.recv(msg, flags)) return false;
    size_t count = 1;
    bool more = msg.more();
    if (max_frames > 0) frames->push_back(std::move(msg));
    // The remaining frames of a message are already here: receive them without waiting.
    while (more) {
      zmq::message_t part;
      if (!socket.recv(part, zmq::recv_flags::none)) break;
      more = part.more();
      if (++count <= max_frames) frames->push_back(std::move(part));
    }
    if (count > max_frames) {
      frames->clear();
      return Status::InvalidMessage("recv: message of " + std::to_string(count) +
                                    " frames exceeds the limit of " +
                                    std::to_string(max_frames));
    }
    return true;
  } catch (const zmq::error_t& e) {
    frames->clear();
    return FromZmqError(e, "recv");
  }
}

size_t Poller::AddSocket(zmq::socket_t& socket, short events) {
  items_.push_back(zmq_pollitem_t{socket.handle(), 0, events, 0});
  return items_.size() - 1;
}

size_t Poller::AddFd(int fd, short events) {
  items_.push_back(zmq_pollitem_t{nullptr, fd, events, 0});
  return items_.size() - 1;
}

Result<int> Poller::Poll(std::chrono::milliseconds timeout) {
  for (auto& item : items_) item.revents = 0;
  const long ms = timeout.count() < 0 ? -1 : static_cast<long>(timeout.count());
  const int rc = zmq_poll(items_.data(), static_cast<int>(items_.size()), ms);
  if (rc >= 0) return rc;
  const int err = zmq_errno();
  if (err == EINTR) return 0;
  return FromZmqError(zmq::error_t(), "poll");
}

Result<bool> PollIn(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  Poller poller;
  const size_t i = poller.AddSocket(socket);
  BTRQ_ASSIGN_OR_RETURN(int n, poller.Poll(timeout));
  return n > 0 && poller.Readable(i);
}

Result<WakeupFd> WakeupFd::Create() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return PosixError("eventfd", errno);
  return WakeupFd(fd);
}

WakeupFd::WakeupFd(WakeupFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

WakeupFd& WakeupFd::operator=(WakeupFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

WakeupFd::~WakeupFd() {
  if (fd_ >= 0) close(fd_);
}

void WakeupFd::Notify() const {
  const uint64_t one = 1;
  // Only EAGAIN (counter saturated, still readable) can fail here; nothing to do then.
  [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof(one));
}

void WakeupFd::Drain() const {
  uint64_t value;
  [[maybe_unused]] const ssize_t n = read(fd_, &value, sizeof(value));
}

}  // namespace btrq
