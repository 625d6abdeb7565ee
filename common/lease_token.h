#pragma once

// Lease tokens and storage receipts (docs/design.md, Security). The broker issues with
// each TASK a token = HMAC-SHA256(secret, "lease" || task key || attempt || worker id);
// the worker returns it in RESULT and the sink stores a result only when it verifies,
// without asking the broker. The sink answers a stored result with a receipt = HMAC(
// secret, "stored" || the same bytes), which the worker forwards in DONE: the broker
// counts a DONE "ok" only with a valid receipt. The secret is shared by the broker and
// the sink (`lease_secret_file`); workers never see it. MACs are truncated to 16 bytes.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq {

inline constexpr size_t kLeaseTokenBytes = 16;
// A shorter secret is refused: 16 bytes (128 bits) is the least an HMAC key should have.
inline constexpr size_t kMinLeaseSecretBytes = 16;

// The one byte encoding of a task key inside a MAC: job (8, little-endian), stream (16),
// chunk start (8, little-endian), job nonce (8, little-endian; 0 for a legacy job), so a
// token or receipt of one incarnation of a job id never verifies for another.
std::string TaskKeyBytes(const TaskKey& key);

// Signs and verifies tokens and receipts with one secret. Immutable; thread-safe.
class LeaseSigner {
 public:
  // InvalidArgument when `secret` is shorter than kMinLeaseSecretBytes.
  static Result<LeaseSigner> Create(std::string secret);
  // The secret in `path` (trailing whitespace removed, so a base64 line works); errors
  // name `what` (e.g. "sink.lease_secret_file").
  static Result<LeaseSigner> FromFile(const std::string& path, std::string_view what);

  std::string Token(const TaskRef& ref, std::string_view worker) const;
  std::string Receipt(const TaskRef& ref, std::string_view worker) const;
  // Constant-time comparisons against the expected MAC.
  bool VerifyToken(const TaskRef& ref, std::string_view worker, std::string_view token) const;
  bool VerifyReceipt(const TaskRef& ref, std::string_view worker,
                     std::string_view receipt) const;

 private:
  explicit LeaseSigner(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(std::string_view domain, const TaskRef& ref, std::string_view worker) const;

  std::string secret_;
};

// Writes a new random secret (32 bytes from the system's CSPRNG, as 64 hex digits and a
// newline) to `path`, mode 0600. AlreadyExists when the file exists, unless `overwrite`.
Status WriteNewLeaseSecret(const std::string& path, bool overwrite);

}  // namespace btrq
