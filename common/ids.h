#pragma once

// Identifiers: stream UUIDs, job ids, worker ids and task keys; value types with parse,
// format, ordering and hashing.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace btrq {

// A 16-byte UUID in network (RFC 4122) byte order, as BTrDB sends it.
struct Uuid {
  std::array<uint8_t, 16> bytes{};

  // Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (case-insensitive) or 32 hex digits.
  static Result<Uuid> Parse(std::string_view text);
  // Takes exactly 16 raw bytes.
  static Result<Uuid> FromBytes(std::string_view raw);
  // A random version-4 UUID.
  static Uuid Random();

  // Lower-case canonical text form.
  std::string ToString() const;
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  bool IsNil() const;

  auto operator<=>(const Uuid&) const = default;
};

// Jobs are numbered by the broker from 1, durably; 0 is "no job".
using JobId = uint64_t;

// Parses a job id as printed ("42"); rejects 0, signs and garbage.
Result<JobId> ParseJobId(std::string_view text);

// A job's incarnation: 64 random bits drawn when the broker accepts the job, so a job id
// handed out again after a recovery (a salvaged or lost journal) never names the same
// results. 0 is "legacy": a job journaled before nonces existed.
using JobNonce = uint64_t;

// A new nonce from the system's CSPRNG; never 0.
JobNonce NewJobNonce();
// 16 lower-case hex digits, as `btrq show` prints it; ParseJobNonce takes 1 to 16.
std::string JobNonceText(JobNonce nonce);
Result<JobNonce> ParseJobNonce(std::string_view text);

// The unit of de-duplication: (job, nonce, stream, chunk start). Stable across retries
// and broker restarts; the nonce keeps two incarnations of one job id apart.
struct TaskKey {
  JobId job = 0;
  Uuid stream;
  int64_t start = 0;
  JobNonce nonce = 0;

  // "job/stream-uuid/start", e.g. "7/0f3c...-.../1700000000000000000"; with a nonce,
  // "job.nonce/..." (nonce in hex), e.g. "7.9f3a1c2b4d5e6f70/0f3c.../1700000000000000000".
  std::string ToString() const;
  static Result<TaskKey> Parse(std::string_view text);

  auto operator<=>(const TaskKey&) const = default;
};

struct UuidHash {
  size_t operator()(const Uuid& u) const noexcept;
};
struct TaskKeyHash {
  size_t operator()(const TaskKey& k) const noexcept;
};

// A worker's id: chosen by the worker at start ("host:pid:random"), unique per process.
std::string MakeWorkerId(std::string_view host, int pid);

}  // namespace btrq

template <>
struct std::hash<btrq::Uuid> : btrq::UuidHash {};
template <>
struct std::hash<btrq::TaskKey> : btrq::TaskKeyHash {};
