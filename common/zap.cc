#include "common/zap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "common/file_util.h"
#include "common/posix_error.h"

namespace btrq {
namespace {

// Fixed by RFC 27: libzmq connects every handshaking session here.
constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
// ZAP requests have 6 frames plus the mechanism's credentials (at most 2, for PLAIN).
constexpr size_t kMaxRequestFrames = 16;
// Stop() wakes the thread through the eventfd at once; the timeout paces the reads of
// the authorized-keys file when no handshake comes.
constexpr std::chrono::milliseconds kPollTimeout(1000);
// The authorized-keys file is read at least this often, and at a handshake when the last
// read is older than kKeysFileMinInterval (a peer cycling keys cannot make it read the
// file at every attempt).
constexpr Nanos kKeysFileInterval(1'000'000'000);
constexpr Nanos kKeysFileMinInterval(100'000'000);
// A change that takes keys away waits until the file has read the same for this long, so
// a file caught half rewritten (an editor that truncates first) cuts nobody off. A change
// that only adds keys applies at once.
constexpr Nanos kRemovalSettle(1'000'000'000);
// Key files are a few lines; anything far larger is not one.
constexpr size_t kMaxKeyFileBytes = 1u << 20;

// Indexes into kReasonNames; also ZapAuthenticator::Refuse's `reason`.
enum Reason : int { kUnknownKey = 0, kMechanism, kDomain, kMalformed, kReasonCount };
constexpr const char* kReasonNames[kReasonCount] = {"unknown_key", "mechanism", "domain",
                                                    "malformed"};
constexpr const char* kReasonTexts[kReasonCount] = {
    "public key not authorized", "CURVE required", "ZAP domain not served", "malformed request"};

Result<std::string> ReadSmallFile(const std::string& path) {
  Result<std::string> content = ReadFileToString(path, kMaxKeyFileBytes);
  if (content.status().code() == StatusCode::kOutOfRange) {
    return Status::InvalidArgument(path + ": larger than " + std::to_string(kMaxKeyFileBytes) +
                                   " bytes; not a key file");
  }
  return content;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// One line of a key file: nothing (blank or comment) or the key it holds. Errors carry no
// place; the caller prefixes "path:line: ".
Result<std::optional<CurveKeyBytes>> ParseKeyLine(std::string_view line) {
  size_t begin = 0;
  while (begin < line.size() && IsBlank(line[begin])) ++begin;
  size_t end = begin;
  while (end < line.size() && !IsBlank(line[end])) ++end;
  const std::string_view token = line.substr(begin, end - begin);
  // '#' is a Z85 digit, but the largest (84): a 5-character group starting with it
  // exceeds 2^32, so no valid key starts with '#' and such a line is always a comment.
  if (token.empty() || token[0] == '#') return std::optional<CurveKeyBytes>();
  BTRQ_ASSIGN_OR_RETURN(CurveKeyBytes key, CurveKeyFromZ85(token));
  return std::optional<CurveKeyBytes>(key);
}

// Calls `on_key(key, line_number)` for each key line of `content`; errors name path:line.
template <typename OnKey>
Status ForEachKeyLine(const std::string& path, std::string_view content, OnKey on_key) {
  size_t line_number = 0;
  while (!content.empty()) {
    ++line_number;
    const size_t newline = content.find('\n');
    const std::string_view line = content.substr(0, newline);
    content = newline == std::string_view::npos ? std::string_view() : content.substr(newline + 1);
    Result<std::optional<CurveKeyBytes>> parsed = ParseKeyLine(line);
    if (!parsed.ok()) {
      return Status::InvalidArgument(path + ":" + std::to_string(line_number) + ": " +
                                     parsed.status().message());
    }
    if (parsed->has_value()) BTRQ_RETURN_IF_ERROR(on_key(**parsed, line_number));
  }
  return Status::OK();
}

// Writes `path` with `content` and exactly `mode` (whatever the umask, and whatever mode
// an overwritten file had: secrets must be 0600). Unless `overwrite`, fails with
// AlreadyExists when `path` exists. A failed write removes the file.
Status WriteKeyFile(const std::string& path, std::string_view content, mode_t mode,
                    bool overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = open(path.c_str(), flags, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " exists");
    return PosixError("create " + path, errno);
  }
  Status status;
  if (fchmod(fd, mode) != 0) status = PosixError("chmod " + path, errno);
  if (status.ok()) status = WriteFully(fd, content, path);
  if (status.ok() && fsync(fd) != 0) status = PosixError("fsync " + path, errno);
  if (close(fd) != 0 && status.ok()) status = PosixError("close " + path, errno);
  if (!status.ok()) unlink(path.c_str());
  return status;
}

}  // namespace

std::string CurveKeyToZ85(const CurveKeyBytes& key) {
  char text[41];
  zmq_z85_encode(text, key.data(), key.size());
  return std::string(text, 40);
}

Result<CurveKeyBytes> CurveKeyFromZ85(std::string_view text) {
  if (text.size() != 40) {
    return Status::InvalidArgument("expected a 40-character Z85 key, got " +
                                   std::to_string(text.size()) + " characters");
  }
  // zmq_z85_decode accepts some characters outside the alphabet; check them all here.
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  for (size_t i = 0; i < text.size(); ++i) {
    if (kAlphabet.find(text[i]) == std::string_view::npos) {
      return Status::InvalidArgument("not a Z85 key: invalid character at column " +
                                     std::to_string(i + 1));
    }
  }
  const std::string input(text);
  CurveKeyBytes key;
  if (zmq_z85_decode(key.data(), input.c_str()) == nullptr) {
    return Status::InvalidArgument("not a Z85 key");
  }
  return key;
}

// ---------------------------------------------------------------------------------------
// ZapAuthenticator

struct ZapAuthenticator::Counters {
  metrics::Counter* accepted = nullptr;
  metrics::Counter* refused[kReasonCount] = {};
  metrics::Counter* keys_file_errors = nullptr;
  metrics::Gauge* authorized_keys = nullptr;
};

Result<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Start(zmq::context_t& context,
                                                                   ZapOptions options) {
  auto counters = std::make_unique<Counters>();
  if (options.metrics != nullptr) {
    BTRQ_ASSIGN_OR_RETURN(counters->accepted,
                          options.metrics->AddCounter("btrq_auth_accepted_total",
                                                      "ZeroMQ peers let in by CURVE key."));
    for (int r = 0; r < kReasonCount; ++r) {
      BTRQ_ASSIGN_OR_RETURN(
          counters->refused[r],
          options.metrics->AddCounter("btrq_auth_refused_total",
                                      "ZeroMQ handshakes refused by the ZAP handler.",
                                      {{"reason", kReasonNames[r]}}));
    }
    BTRQ_ASSIGN_OR_RETURN(
        counters->keys_file_errors,
        options.metrics->AddCounter("btrq_auth_keys_file_errors_total",
                                    "Reads of the authorized-keys file that failed (the "
                                    "keys stay as they were)."));
    BTRQ_ASSIGN_OR_RETURN(counters->authorized_keys,
                          options.metrics->AddGauge("btrq_auth_authorized_keys",
                                                    "CURVE client keys let in."));
  }
  if (!options.logger) options.logger = spdlog::default_logger();
  if (options.clock == nullptr) options.clock = SystemClock::Default();

  BTRQ_ASSIGN_OR_RETURN(WakeupFd wakeup, WakeupFd::Create());
  BTRQ_ASSIGN_OR_RETURN(zmq::socket_t socket,
                        MakeSocket(context, zmq::socket_type::rep, SocketOptions()));
  Result<std::string> bound = Bind(socket, kZapEndpoint);
  if (!bound.ok()) {
    return Status::Unavailable("zap: cannot bind " + std::string(kZapEndpoint) +
                               " (is another ZAP handler running in this context?): " +
                               bound.status().message());
  }
  std::unique_ptr<ZapAuthenticator> auth(new ZapAuthenticator(
      std::move(options), std::move(counters), std::move(socket), std::move(wakeup)));
  // The socket moves to the thread here; thread creation orders the hand-over.
  auth->thread_ = std::thread([a = auth.get()] { a->Run(); });
  return auth;
}

ZapAuthenticator::ZapAuthenticator(ZapOptions options, std::unique_ptr<Counters> counters,
                                   zmq::socket_t socket, WakeupFd wakeup)
    : options_(std::move(options)),
      socket_(std::move(socket)),
      wakeup_(std::move(wakeup)),
      counters_(std::move(counters)),
      log_limiter_(std::make_unique<RateLimiter>(RateLimiter::Options(), options_.clock)) {
  SetAuthorized(options_.authorized_keys);
}

void ZapAuthenticator::SetAuthorized(std::set<CurveKeyBytes> keys) {
  authorized_ = std::move(keys);
  std::set<std::string, std::less<>> z85;
  for (const CurveKeyBytes& key : authorized_) z85.insert(CurveKeyToZ85(key));
  {
    MutexLock lock(&z85_mu_);
    authorized_z85_.swap(z85);
  }
  if (counters_->authorized_keys != nullptr) {
    counters_->authorized_keys->Set(static_cast<double>(authorized_.size()));
  }
}

bool ZapAuthenticator::Authorized(std::string_view user_id) const {
  MutexLock lock(&z85_mu_);
  return authorized_z85_.find(user_id) != authorized_z85_.end();
}

std::string_view ZapAuthenticator::RefusalOf(const zmq::message_t& frame,
                                             std::string* detail) const {
  // Defence in depth: every connection to a CURVE socket passed ZAP, which set a User-Id.
  const char* user_id = zmq_msg_gets(frame.handle(), "User-Id");
  if (user_id == nullptr) {
    *detail = "a message without a ZAP User-Id";
    return "unauthenticated";
  }
  if (Authorized(user_id)) return "";
  *detail = std::string("key ") + user_id + " is no longer in curve.authorized_keys_file";
  return "revoked_key";
}

size_t ZapAuthenticator::authorized_keys() const {
  MutexLock lock(&z85_mu_);
  return authorized_z85_.size();
}

void ZapAuthenticator::ReloadKeys() {
  const std::string& path = options_.authorized_keys_file;
  const SteadyTime now = options_.clock->Now();
  last_read_ = now;
  next_reload_ = now + kKeysFileInterval;
  Result<std::string> text = ReadSmallFile(path);
  if (text.ok() && *text == keys_file_text_) {
    unsettled_text_.reset();
    return;
  }
  Result<std::vector<CurveKeyBytes>> keys = text.status();
  if (text.ok()) keys = ParseAuthorizedKeys(path, *text);
  if (!keys.ok()) {
    if (counters_->keys_file_errors != nullptr) counters_->keys_file_errors->Inc();
    LogRateLimited(options_.logger.get(), log_limiter_.get(), "zap-keys-file",
                   spdlog::level::err, "zap: keeping the {} authorized keys: {}",
                   authorized_.size(), keys.status().ToString());
    return;
  }
  std::set<CurveKeyBytes> next(keys->begin(), keys->end());
  const bool only_adds = std::includes(next.begin(), next.end(), authorized_.begin(),
                                       authorized_.end());
  if (!only_adds) {
    // A change that takes keys away waits until the file has read the same for
    // kRemovalSettle: the next periodic read confirms it.
    if (unsettled_text_ != *text) {
      unsettled_text_ = *text;
      unsettled_since_ = now;
    }
    if (now - unsettled_since_ < kRemovalSettle) {
      next_reload_ = std::min(next_reload_, unsettled_since_ + kRemovalSettle);
      return;
    }
  }
  unsettled_text_.reset();
  keys_file_text_ = std::move(text).value();
  if (next == authorized_) return;
  size_t added = 0;
  for (const CurveKeyBytes& key : next) added += authorized_.count(key) == 0 ? 1 : 0;
  options_.logger->info("zap: {} changed: {} authorized keys ({} added, {} removed)", path,
                        next.size(), added, authorized_.size() + added - next.size());
  SetAuthorized(std::move(next));
}

ZapAuthenticator::~ZapAuthenticator() { Stop(); }

void ZapAuthenticator::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  wakeup_.Notify();
  thread_.join();
}

void ZapAuthenticator::Run() {
  Poller poller;
  const size_t zap = poller.AddSocket(socket_);
  poller.AddFd(wakeup_.fd());
  std::vector<zmq::message_t> request;
  while (!stop_.load(std::memory_order_acquire)) {
    Result<int> ready = poller.Poll(kPollTimeout);
    if (!ready.ok()) {
      // Cancelled: the context is terminating and waits for this socket to close.
      if (ready.status().code() != StatusCode::kCancelled) {
        options_.logger->error("zap: handler stops: {}", ready.status().ToString());
      }
      break;
    }
    if (!options_.authorized_keys_file.empty() && options_.clock->Now() >= next_reload_) {
      ReloadKeys();
    }
    if (*ready == 0 || !poller.Readable(zap)) continue;
    Result<bool> got = RecvMultipart(socket_, kMaxRequestFrames, &request);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::kInvalidMessage) {
        // Too many frames: read and discarded, but REP still owes a reply.
        Refuse(kMalformed, "", "", "", "");
        continue;
      }
      if (got.status().code() != StatusCode::kCancelled) {
        options_.logger->error("zap: handler stops: {}", got.status().ToString());
      }
      break;
    }
    if (*got) Answer(request);
  }
  // Unbinding is synchronous for inproc, so a new handler can bind as soon as Stop()
  // returns; closing alone would release the name later, from libzmq's reaper.
  try {
    socket_.unbind(kZapEndpoint);
  } catch (const zmq::error_t&) {
    // ETERM: the context is going away and drops the name with it.
  }
  socket_.close();
}

void ZapAuthenticator::Answer(const std::vector<zmq::message_t>& request) {
  // version, request id, domain, address, identity, mechanism, credentials...
  const std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
  if (request.size() < 6 || request[0].to_string_view() != "1.0") {
    Refuse(kMalformed, request_id, "", "", "");
    return;
  }
  const std::string_view domain = request[2].to_string_view();
  const std::string_view address = request[3].to_string_view();
  const std::string_view mechanism = request[5].to_string_view();
  if (mechanism != "CURVE") {
    Refuse(kMechanism, request_id, mechanism, address, "");
    return;
  }
  if (request.size() != 7 || request[6].size() != 32) {
    Refuse(kMalformed, request_id, mechanism, address, "");
    return;
  }
  CurveKeyBytes key;
  std::memcpy(key.data(), request[6].data(), key.size());
  const std::string key_z85 = CurveKeyToZ85(key);
  if (!options_.domain.empty() && domain != options_.domain) {
    Refuse(kDomain, request_id, mechanism, address, key_z85);
    return;
  }
  if (!options_.authorized_keys_file.empty() &&
      options_.clock->Now() - last_read_ >= kKeysFileMinInterval) {
    ReloadKeys();
  }
  if (authorized_.count(key) == 0) {
    Refuse(kUnknownKey, request_id, mechanism, address, key_z85);
    return;
  }
  accepted_.fetch_add(1, std::memory_order_relaxed);
  if (counters_->accepted != nullptr) counters_->accepted->Inc();
  Reply(request_id, "200", "OK", key_z85);
}

void ZapAuthenticator::Refuse(int reason, std::string_view request_id,
                              std::string_view mechanism, std::string_view address,
                              std::string_view key_z85) {
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (counters_->refused[reason] != nullptr) counters_->refused[reason]->Inc();
  // Keyed by address: a peer that cycles keys or reconnects in a loop shares one budget.
  LogRateLimited(options_.logger.get(), log_limiter_.get(), std::string("zap:") + std::string(address),
                 spdlog::level::warn, "zap: refused {} peer {} key {}: {}",
                 mechanism.empty() ? "?" : mechanism, address.empty() ? "?" : address,
                 key_z85.empty() ? "-" : key_z85, kReasonTexts[reason]);
  Reply(request_id, "400", kReasonTexts[reason], "");
}

void ZapAuthenticator::Reply(std::string_view request_id, std::string_view code,
                             std::string_view text, std::string_view user_id) {
  // version, request id, status code, status text, user id, metadata.
  const std::string_view frames[] = {"1.0", request_id, code, text, user_id, ""};
  // Blocking is safe: the requester is an inproc session waiting for exactly this reply.
  const Status sent = SendMultipart(socket_, frames, /*dont_wait=*/false);
  if (!sent.ok() && sent.code() != StatusCode::kCancelled) {
    options_.logger->error("zap: reply failed: {}", sent.ToString());
  }
}

// ---------------------------------------------------------------------------------------
// Key files

Result<std::vector<CurveKeyBytes>> LoadAuthorizedKeys(const std::string& path) {
  BTRQ_ASSIGN_OR_RETURN(std::string content, ReadSmallFile(path));
  return ParseAuthorizedKeys(path, content);
}

Result<std::vector<CurveKeyBytes>> ParseAuthorizedKeys(const std::string& path,
                                                       std::string_view content) {
  std::set<CurveKeyBytes> seen;
  std::vector<CurveKeyBytes> keys;
  BTRQ_RETURN_IF_ERROR(ForEachKeyLine(path, content, [&](const CurveKeyBytes& key, size_t) {
    if (seen.insert(key).second) keys.push_back(key);
    return Status::OK();
  }));
  return keys;
}

Result<CurveKeyPair> WriteKeyPair(const std::string& dir, const std::string& name,
                                  bool overwrite) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Status::InvalidArgument("key pair name '" + name +
                                   "': must be non-empty and hold no '/'");
  }
  const std::string base = (dir.empty() ? std::string(".") : dir) + "/" + name;
  const std::string secret_path = base + ".key";
  const std::string public_path = base + ".pub";
  if (!overwrite) {
    for (const std::string& path : {public_path, secret_path}) {
      struct stat st;
      if (stat(path.c_str(), &st) == 0) return Status::AlreadyExists(path + " exists");
    }
  }
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, GenerateCurveKeyPair());
  BTRQ_RETURN_IF_ERROR(WriteKeyFile(secret_path, pair.secret_key + "\n", 0600, overwrite));
  const Status written = WriteKeyFile(public_path, pair.public_key + "\n", 0644, overwrite);
  if (!written.ok()) {
    unlink(secret_path.c_str());
    return written;
  }
  return pair;
}

Result<CurveKeyPair> ReadKeyPair(const std::string& secret_path) {
  BTRQ_ASSIGN_OR_RETURN(std::string content, ReadSmallFile(secret_path));
  std::optional<CurveKeyBytes> secret;
  BTRQ_RETURN_IF_ERROR(
      ForEachKeyLine(secret_path, content, [&](const CurveKeyBytes& key, size_t line) {
        if (secret.has_value()) {
          return Status::InvalidArgument(secret_path + ":" + std::to_string(line) +
                                         ": a second key; a secret-key file holds one");
        }
        secret = key;
        return Status::OK();
      }));
  if (!secret.has_value()) return Status::InvalidArgument(secret_path + ": no key in the file");
  CurveKeyPair pair;
  pair.secret_key = CurveKeyToZ85(*secret);
  Result<std::string> public_key = CurvePublicKey(pair.secret_key);
  if (!public_key.ok()) {
    return Status::InvalidArgument(secret_path + ": " + public_key.status().message());
  }
  pair.public_key = *std::move(public_key);
  return pair;
}

// ---------------------------------------------------------------------------------------
// From CurveOptions

Result<CurveKeyPair> CurveKeyPairFrom(const CurveOptions& curve) {
  CurveKeyPair pair;
  if (!curve.secret_key.empty()) {
    Result<CurveKeyBytes> secret = CurveKeyFromZ85(curve.secret_key);
    if (!secret.ok()) return Status::InvalidArgument("curve.secret_key: " + secret.status().message());
    pair.secret_key = curve.secret_key;
    BTRQ_ASSIGN_OR_RETURN(pair.public_key, CurvePublicKey(pair.secret_key));
  } else if (!curve.secret_key_file.empty()) {
    BTRQ_ASSIGN_OR_RETURN(pair, ReadKeyPair(curve.secret_key_file));
  } else {
    return Status::InvalidArgument("curve: set curve.secret_key or curve.secret_key_file");
  }
  if (!curve.public_key.empty() && curve.public_key != pair.public_key) {
    return Status::InvalidArgument("curve.public_key " + curve.public_key +
                                   " does not belong to the secret key, whose public key is " +
                                   pair.public_key);
  }
  return pair;
}

Result<SocketOptions> CurveServerOptionsFrom(const CurveOptions& curve, SocketOptions base) {
  if (!curve.enabled) return base;
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, CurveKeyPairFrom(curve));
  base.curve_client.reset();
  base.curve_server = CurveServerKeys{std::move(pair.secret_key)};
  return base;
}

Result<SocketOptions> CurveClientOptionsFrom(const CurveOptions& curve,
                                             std::string_view server_public_key,
                                             SocketOptions base) {
  if (!curve.enabled) return base;
  if (server_public_key.empty()) {
    return Status::InvalidArgument(
        "curve: the server's public key is not set (curve.broker_public_key / "
        "curve.sink_public_key)");
  }
  Result<CurveKeyBytes> server = CurveKeyFromZ85(server_public_key);
  if (!server.ok()) {
    return Status::InvalidArgument("curve: server public key: " + server.status().message());
  }
  BTRQ_ASSIGN_OR_RETURN(CurveKeyPair pair, CurveKeyPairFrom(curve));
  base.curve_server.reset();
  base.curve_client = CurveClientKeys{std::string(server_public_key), std::move(pair.public_key),
                                      std::move(pair.secret_key)};
  return base;
}

Result<ZapOptions> ZapOptionsFrom(const CurveOptions& curve) {
  if (curve.authorized_keys_file.empty()) {
    return Status::InvalidArgument(
        "curve.authorized_keys_file is required where CURVE servers run (broker, sink)");
  }
  BTRQ_ASSIGN_OR_RETURN(std::vector<CurveKeyBytes> keys,
                        LoadAuthorizedKeys(curve.authorized_keys_file));
  ZapOptions options;
  options.authorized_keys.insert(keys.begin(), keys.end());
  options.authorized_keys_file = curve.authorized_keys_file;
  return options;
}

}  // namespace btrq
