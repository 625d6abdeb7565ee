#include "common/ids.h"

#include <sys/random.h>

#include <charconv>
#include <cstring>
#include <mutex>
#include <random>

namespace btrq {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Fills `out` with unpredictable bytes: getrandom(2), or a random_device-seeded
// generator when the kernel call is unavailable.
void RandomBytes(uint8_t* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(out + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  if (got == n) return;
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  for (; got < n; ++got) out[got] = static_cast<uint8_t>(gen());
}

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline uint64_t UuidWords(const Uuid& u) {
  uint64_t a, b;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return Mix64(a ^ Mix64(b + 0x9e3779b97f4a7c15ULL));
}

// 64x64 -> 128-bit multiply folded to 64 bits (as in wyhash): one multiply mixes well.
inline uint64_t Fold(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

// Fold with both operands folded back in (wyhash's "protected" mum): an operand of zero
// no longer erases the other one.
inline uint64_t FoldKeep(uint64_t a, uint64_t b) { return Fold(a, b) ^ a ^ b; }

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

Result<Uuid> Uuid::Parse(std::string_view text) {
  const bool dashed = text.size() == 36;
  if (!dashed && text.size() != 32) {
    return Status::InvalidArgument("uuid: expected 36 characters (or 32 hex digits), got " +
                                   std::to_string(text.size()) + ": '" + std::string(text) + "'");
  }
  Uuid u;
  size_t out = 0;
  for (size_t i = 0; i < text.size();) {
    if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') {
        return Status::InvalidArgument("uuid: expected '-' at position " + std::to_string(i) +
                                       " in '" + std::string(text) + "'");
      }
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("uuid: not a hex digit near position " + std::to_string(i) +
                                     " in '" + std::string(text) + "'");
    }
    u.bytes[out++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

Result<Uuid> Uuid::FromBytes(std::string_view raw) {
  if (raw.size() != 16) {
    return Status::InvalidArgument("uuid: expected 16 bytes, got " + std::to_string(raw.size()));
  }
  Uuid u;
  std::memcpy(u.bytes.data(), raw.data(), 16);
  return u;
}

Uuid Uuid::Random() {
  Uuid u;
  RandomBytes(u.bytes.data(), u.bytes.size());
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

std::string Uuid::ToString() const {
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0xf]);
  }
  return s;
}

bool Uuid::IsNil() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

Result<JobId> ParseJobId(std::string_view text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    return Status::InvalidArgument("job id: expected a positive decimal number, got '" +
                                   std::string(text) + "'");
  }
  JobId id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument("job id: out of range: '" + std::string(text) + "'");
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("job id: expected a positive decimal number, got '" +
                                   std::string(text) + "'");
  }
  if (id == 0) return Status::InvalidArgument("job id: 0 is not a job");
  return id;
}

JobNonce NewJobNonce() {
  JobNonce nonce = 0;
  while (nonce == 0) RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  return nonce;
}

std::string JobNonceText(JobNonce nonce) {
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, nonce >>= 4) s[static_cast<size_t>(i)] = kHex[nonce & 0xf];
  return s;
}

Result<JobNonce> ParseJobNonce(std::string_view text) {
  if (text.empty() || text.size() > 16) {
    return Status::InvalidArgument("job nonce: expected 1 to 16 hex digits, got '" +
                                   std::string(text) + "'");
  }
  JobNonce nonce = 0;
  for (char c : text) {
    const int v = HexValue(c);
    if (v < 0) {
      return Status::InvalidArgument("job nonce: not a hex digit in '" + std::string(text) + "'");
    }
    nonce = nonce << 4 | static_cast<JobNonce>(v);
  }
  return nonce;
}

std::string TaskKey::ToString() const {
  std::string s = std::to_string(job);
  if (nonce != 0) {
    s.push_back('.');
    s += JobNonceText(nonce);
  }
  s.push_back('/');
  s += stream.ToString();
  s.push_back('/');
  s += std::to_string(start);
  return s;
}

Result<TaskKey> TaskKey::Parse(std::string_view text) {
  const size_t a = text.find('/');
  const size_t b = a == std::string_view::npos ? a : text.find('/', a + 1);
  if (b == std::string_view::npos || text.find('/', b + 1) != std::string_view::npos) {
    return Status::InvalidArgument("task key: expected 'job[.nonce]/stream-uuid/start', got '" +
                                   std::string(text) + "'");
  }
  TaskKey key;
  std::string_view job = text.substr(0, a);
  if (const size_t dot = job.find('.'); dot != std::string_view::npos) {
    BTRQ_ASSIGN_OR_RETURN(key.nonce, ParseJobNonce(job.substr(dot + 1)));
    job = job.substr(0, dot);
  }
  BTRQ_ASSIGN_OR_RETURN(key.job, ParseJobId(job));
  BTRQ_ASSIGN_OR_RETURN(key.stream, Uuid::Parse(text.substr(a + 1, b - a - 1)));
  const std::string_view start = text.substr(b + 1);
  const auto [end, ec] = std::from_chars(start.data(), start.data() + start.size(), key.start);
  if (start.empty() || ec != std::errc() || end != start.data() + start.size()) {
    return Status::InvalidArgument("task key: start is not an int64 nanosecond time: '" +
                                   std::string(text) + "'");
  }
  return key;
}

size_t UuidHash::operator()(const Uuid& u) const noexcept {
  return static_cast<size_t>(UuidWords(u));
}

size_t TaskKeyHash::operator()(const TaskKey& k) const noexcept {
  // Two independent folds, then one to mix them: three multiplies, the first two in
  // parallel, where a chain of Mix64 rounds took ten in a row. A task key is hashed
  // several times per task (the broker's lease index, the worker's active set and its
  // results awaiting ACK). Not keyed, like the Mix64 chain before it; FoldKeep at least
  // keeps a stream UUID whose half matches a constant from erasing the other half.
  uint64_t a, b;
  std::memcpy(&a, k.stream.bytes.data(), 8);
  std::memcpy(&b, k.stream.bytes.data() + 8, 8);
  const uint64_t h = FoldKeep(a ^ 0xa0761d6478bd642fULL, b ^ 0xe7037ed1a0b428dbULL) ^
                     FoldKeep((k.job ^ 0x8ebc6af09c88c6e3ULL) + k.nonce,
                              static_cast<uint64_t>(k.start) ^ 0x589965cc75374cc3ULL);
  return static_cast<size_t>(Fold(h, 0x1d8e4e27c47d124fULL));
}

std::string MakeWorkerId(std::string_view host, int pid) {
  uint8_t r[6];
  RandomBytes(r, sizeof(r));
  std::string id(host);
  id.push_back(':');
  id += std::to_string(pid);
  id.push_back(':');
  for (uint8_t b : r) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

}  // namespace btrq
