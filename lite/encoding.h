#pragma once

// btrdb-lite's view of common/coding.h for log records and snapshots: the Put* functions
// come from there, plus arrays of fixed-width values and a Decoder that never reads past
// its input (every Get* returns false once the input is exhausted or malformed). All
// little-endian, whatever the host (the bytes x86 always wrote).

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace btrq::lite {

// Appends n elements of an 8-byte arithmetic type as fixed64s, or n bytes.
template <typename T>
void PutArray(std::string* out, const T* data, size_t n) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 8, "bytes or 8-byte values");
  if constexpr (sizeof(T) == 1 || std::endian::native == std::endian::little) {
    out->append(reinterpret_cast<const char*>(data), n * sizeof(T));
  } else {
    for (size_t i = 0; i < n; ++i) PutFixed64(out, std::bit_cast<uint64_t>(data[i]));
  }
}

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool GetFixed32(uint32_t* v) { return ::btrq::GetFixed32(&in_, v); }
  bool GetFixed64(uint64_t* v) { return ::btrq::GetFixed64(&in_, v); }
  bool GetInt64(int64_t* v) {
    uint64_t u;
    if (!::btrq::GetFixed64(&in_, &u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool GetDouble(double* v) { return ::btrq::GetDouble(&in_, v); }
  bool GetU8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool GetVarint(uint64_t* v) { return GetVarint64(&in_, v); }
  bool GetBytes(std::string_view* s) { return GetLengthPrefixed(&in_, s); }
  bool GetString(std::string* s) {
    std::string_view v;
    if (!GetBytes(&v)) return false;
    s->assign(v);
    return true;
  }
  // Reads n elements written by PutArray into out[0, n).
  template <typename T>
  bool GetArray(T* out, size_t n) {
    static_assert(sizeof(T) == 1 || sizeof(T) == 8, "bytes or 8-byte values");
    if (n > in_.size() / sizeof(T)) return false;
    if constexpr (sizeof(T) == 1 || std::endian::native == std::endian::little) {
      std::memcpy(out, in_.data(), n * sizeof(T));
      in_.remove_prefix(n * sizeof(T));
    } else {
      for (size_t i = 0; i < n; ++i) {
        uint64_t u;
        ::btrq::GetFixed64(&in_, &u);
        out[i] = std::bit_cast<T>(u);
      }
    }
    return true;
  }
  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

}  // namespace btrq::lite
