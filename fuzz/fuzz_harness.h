#pragma once

// Shared by the message-handler fuzzers (broker_fuzzer, sink_fuzzer, worker_fuzzer):
// how an input becomes a short sequence of ZeroMQ messages, and the small socket helpers
// the harnesses use. Header-only: each fuzzer is one translation unit plus this.
//
// Input layout (also what make_handler_corpus writes):
//   byte 0                 number of messages - 1 (mod kMaxMessages)
//   per message:  byte     selector: bit 0 = which sender, bit 1 = an empty delimiter
//                          frame goes first
//                 2 bytes  body length, little-endian (cut to what is left)
//                 body     the frame, normally one encoded btrq message
// A truncated tail yields fewer messages; an empty input none.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/messages.h"
#include "common/status.h"
#include "common/zmq_util.h"

namespace btrq::fuzz {

constexpr size_t kMaxMessages = 8;

struct Piece {
  int sender = 0;          // 0 or 1
  bool delimiter = false;  // send an empty frame before the body
  std::string body;
};

inline std::vector<Piece> SplitInput(const uint8_t* data, size_t size) {
  std::vector<Piece> pieces;
  if (size == 0) return pieces;
  const size_t count = data[0] % kMaxMessages + 1;
  size_t at = 1;
  while (pieces.size() < count && at + 3 <= size) {
    Piece p;
    p.sender = data[at] & 1;
    p.delimiter = (data[at] & 2) != 0;
    size_t len = data[at + 1] | (size_t{data[at + 2]} << 8);
    at += 3;
    if (len > size - at) len = size - at;
    p.body.assign(reinterpret_cast<const char*>(data + at), len);
    at += len;
    pieces.push_back(std::move(p));
  }
  return pieces;
}

// The inverse of SplitInput, for seeds.
inline std::string JoinInput(const std::vector<Piece>& pieces) {
  std::string out;
  out.push_back(static_cast<char>(pieces.empty() ? 0 : pieces.size() - 1));
  for (const Piece& p : pieces) {
    out.push_back(static_cast<char>((p.sender & 1) | (p.delimiter ? 2 : 0)));
    out.push_back(static_cast<char>(p.body.size() & 0xff));
    out.push_back(static_cast<char>((p.body.size() >> 8) & 0xff));
    out += p.body;
  }
  return out;
}

// Daemons log every dropped frame (rate-limited); a fuzzer's stderr needs none of it.
inline void QuietLogs() { spdlog::set_level(spdlog::level::off); }

[[noreturn]] inline void Die(const char* who, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", who, what.c_str());
  std::fflush(stderr);
  std::abort();
}

template <typename T>
T CheckOk(const char* who, Result<T> result) {
  if (!result.ok()) Die(who, result.status().ToString());
  return std::move(result).value();
}
inline void CheckOk(const char* who, const Status& status) {
  if (!status.ok()) Die(who, status.ToString());
}

// Directories MakeTempDir made, removed when the process exits (libFuzzer ends with exit()
// after -max_total_time or -runs; a crash leaves them for the post-mortem).
inline std::vector<std::string>& TempDirs() {
  static std::vector<std::string>* dirs = new std::vector<std::string>();
  return *dirs;
}
// True once the process is exiting: a daemon's loop that ends then is no finding.
inline std::atomic<bool>& Exiting() {
  static std::atomic<bool> exiting{false};
  return exiting;
}
inline void RemoveTempDirs() {
  Exiting() = true;
  for (const std::string& dir : TempDirs()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
}

// A fresh directory for a daemon's data, on tmpfs when there is one (fsync is cheap),
// removed at exit.
inline std::string MakeTempDir(const char* who, const char* name) {
  static std::once_flag registered;
  std::call_once(registered, [] { std::atexit(RemoveTempDirs); });
  const char* base = std::getenv("TMPDIR");
  std::string root = base != nullptr ? base : "/dev/shm";
  std::string templ = root + "/" + name + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    templ = std::string("/tmp/") + name + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) Die(who, "mkdtemp failed");
  }
  TempDirs().push_back(templ);
  return templ;
}

// Sends the frames as one message without blocking; a full queue drops them (the input
// is then partly lost, which is fine for a fuzzer and never blocks the harness).
inline void SendFrames(zmq::socket_t& socket, std::vector<std::string_view> frames) {
  (void)SendMultipart(socket, frames, /*dont_wait=*/true);
}

// Receives and decodes one message if one is waiting (`wait` bounds the wait).
// The frame list is {identity?, body}; returns false when nothing arrived.
inline bool Receive(zmq::socket_t& socket, std::chrono::milliseconds wait,
                    std::vector<zmq::message_t>* frames) {
  if (wait.count() > 0) {
    Result<bool> ready = PollIn(socket, wait);
    if (!ready.ok() || !*ready) return false;
  }
  Result<bool> got = RecvMultipart(socket, 4, frames, /*dont_wait=*/true);
  return got.ok() && *got;
}

// A DEALER with `identity` connected to `endpoint`, never blocking on a full queue.
inline zmq::socket_t ConnectDealer(const char* who, zmq::context_t& context,
                                   const std::string& identity, const std::string& endpoint) {
  SocketOptions o;
  o.routing_id = identity;
  o.linger_ms = 0;
  o.sndhwm = 0;
  zmq::socket_t s = CheckOk(who, MakeSocket(context, zmq::socket_type::dealer, o));
  CheckOk(who, Connect(s, endpoint));
  return s;
}

// Reads and drops whatever is waiting on each socket.
inline void DrainAll(std::vector<zmq::socket_t>& sockets) {
  std::vector<zmq::message_t> frames;
  for (zmq::socket_t& s : sockets) {
    while (Receive(s, std::chrono::milliseconds(0), &frames)) {
    }
  }
}

// The one instance of a harness, built on first use and never destroyed.
template <typename H>
H& Instance() {
  static H* harness = new H();
  return *harness;
}

inline std::string_view Body(const std::vector<zmq::message_t>& frames) {
  if (frames.empty()) return {};
  return frames.back().to_string_view();
}

}  // namespace btrq::fuzz

// The libFuzzer entry points of a handler fuzzer whose harness class `H` (in namespace
// btrq) has `void RunOne(const uint8_t*, size_t)`. The harness is built on first use and
// never destroyed: the threads it starts run for the whole process.
#define BTRQ_FUZZ_ENTRY_POINTS(H)                                              \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {                        \
    ::btrq::fuzz::QuietLogs();                                                 \
    ::btrq::fuzz::Instance<::btrq::H>();                                       \
    return 0;                                                                  \
  }                                                                            \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {   \
    ::btrq::fuzz::Instance<::btrq::H>().RunOne(data, size);                    \
    return 0;                                                                  \
  }
