#pragma once

// Little-endian binary encoding for log records and snapshots. Decoder never reads past
// its input: every Get* returns false once the input is exhausted or malformed.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace btrq::lite {

inline void PutFixed32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
inline void PutFixed64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
inline void PutDouble(std::string* out, double v) { out->append(reinterpret_cast<const char*>(&v), 8); }
inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
// Appends n raw elements of a trivially copyable type.
template <typename T>
void PutArray(std::string* out, const T* data, size_t n) {
  out->append(reinterpret_cast<const char*>(data), n * sizeof(T));
}

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool GetFixed32(uint32_t* v) { return GetRaw(v, 4); }
  bool GetFixed64(uint64_t* v) { return GetRaw(v, 8); }
  bool GetInt64(int64_t* v) { return GetRaw(v, 8); }
  bool GetDouble(double* v) { return GetRaw(v, 8); }
  bool GetU8(uint8_t* v) { return GetRaw(v, 1); }
  bool GetVarint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool GetBytes(std::string_view* s) {
    uint64_t n;
    if (!GetVarint(&n) || n > in_.size()) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool GetString(std::string* s) {
    std::string_view v;
    if (!GetBytes(&v)) return false;
    s->assign(v);
    return true;
  }
  // Reads n elements of T into out[0, n).
  template <typename T>
  bool GetArray(T* out, size_t n) {
    if (n > in_.size() / sizeof(T)) return false;
    std::memcpy(out, in_.data(), n * sizeof(T));
    in_.remove_prefix(n * sizeof(T));
    return true;
  }
  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  bool GetRaw(void* v, size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(v, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace btrq::lite
