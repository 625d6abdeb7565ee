#include "common/lease_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <utility>

#include "common/coding.h"
#include "common/file_util.h"

namespace btrq {

std::string TaskKeyBytes(const TaskKey& key) {
  std::string out;
  out.reserve(40);
  PutFixed64(&out, key.job);
  out.append(key.stream.AsBytes());
  PutFixed64(&out, static_cast<uint64_t>(key.start));
  // Always present (fixed length), so the worker id that follows in a MAC can never be
  // read as part of the key.
  PutFixed64(&out, key.nonce);
  return out;
}

Result<LeaseSigner> LeaseSigner::Create(std::string secret) {
  if (secret.size() < kMinLeaseSecretBytes) {
    return Status::InvalidArgument("the lease secret has " + std::to_string(secret.size()) +
                                   " bytes; at least " + std::to_string(kMinLeaseSecretBytes) +
                                   " are needed (e.g. head -c 32 /dev/urandom | base64)");
  }
  return LeaseSigner(std::move(secret));
}

Result<LeaseSigner> LeaseSigner::FromFile(const std::string& path, std::string_view what) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status().WithContext(std::string(what) + " " + path);
  std::string secret = std::move(text).value();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                             secret.back() == ' ' || secret.back() == '\t')) {
    secret.pop_back();
  }
  Result<LeaseSigner> signer = Create(std::move(secret));
  if (!signer.ok()) return signer.status().WithContext(std::string(what) + " " + path);
  return signer;
}

std::string LeaseSigner::Mac(std::string_view domain, const TaskRef& ref,
                             std::string_view worker) const {
  // The domain (with its NUL) keeps a token from passing as a receipt; the worker id is
  // last, so its length needs no prefix.
  std::string data(domain);
  data.push_back('\0');
  data += TaskKeyBytes(ref.key);
  PutFixed32(&data, ref.attempt);
  data.append(worker);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &md_len);
  return std::string(reinterpret_cast<const char*>(md), kLeaseTokenBytes);
}

std::string LeaseSigner::Token(const TaskRef& ref, std::string_view worker) const {
  return Mac("lease", ref, worker);
}

std::string LeaseSigner::Receipt(const TaskRef& ref, std::string_view worker) const {
  return Mac("stored", ref, worker);
}

namespace {
bool SameMac(const std::string& expected, std::string_view given) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}
}  // namespace

bool LeaseSigner::VerifyToken(const TaskRef& ref, std::string_view worker,
                              std::string_view token) const {
  return SameMac(Token(ref, worker), token);
}

bool LeaseSigner::VerifyReceipt(const TaskRef& ref, std::string_view worker,
                                std::string_view receipt) const {
  return SameMac(Receipt(ref, worker), receipt);
}

Status WriteNewLeaseSecret(const std::string& path, bool overwrite) {
  struct stat st;
  if (!overwrite && ::stat(path.c_str(), &st) == 0) {
    return Status::AlreadyExists(path + " exists");
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return Status::Internal("no random bytes for a lease secret");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned char b : bytes) {
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0xf]);
  }
  text.push_back('\n');
  return WriteFileAtomically(path, text, 0600);
}

}  // namespace btrq
