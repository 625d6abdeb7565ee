#pragma once

// The bounded msgpack reader under DecodeMessage (common/codec.h): a cursor over raw
// bytes, not msgpack-c, because peer frames are hostile input. Every announced length or
// count is checked against the bytes left and against CodecLimits before anything is
// allocated; nesting is walked with a fixed-size stack; nothing throws. Internal to the
// codec: other code decodes frames through common/codec.h.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "common/codec.h"

namespace btrq {

// What the next msgpack object is, from its first byte.
enum class MsgpackKind {
  kNil, kBool, kUint, kInt, kFloat, kStr, kBin, kArray, kMap, kExt, kInvalid
};

inline MsgpackKind MsgpackKindOf(uint8_t b);
// "uint", "str", ... for error messages.
std::string_view MsgpackKindName(MsgpackKind k);

// A cursor over one frame. Every Read* returns false after recording the first error;
// the recorded error (reason() and error()) is what DecodeMessage reports. Borrows the
// frame and `limits`, which must outlive it.
class MsgpackReader {
 public:
  // Deeper nesting than this is rejected whatever CodecLimits::max_depth says.
  static constexpr uint32_t kMaxDepthCap = 64;

  MsgpackReader(std::string_view data, const CodecLimits& limits)
      : p_(reinterpret_cast<const uint8_t*>(data.data())),
        end_(p_ + data.size()),
        limits_(limits),
        max_depth_(std::min(limits.max_depth, kMaxDepthCap)) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }

  // Records the error unless one is already recorded; returns false.
  bool Fail(DecodeErrorReason reason, std::string message);
  // Prefixes the recorded error with where it happened ("task 3: "); returns false.
  bool AddContext(std::string_view context);
  DecodeErrorReason reason() const { return reason_; }
  const std::string& error() const { return error_; }

  // The kind of the next object, or kInvalid (after recording "truncated") at the end.
  MsgpackKind PeekKind() {
    if (p_ == end_) {
      Fail(DecodeErrorReason::kMalformed, "truncated frame");
      return MsgpackKind::kInvalid;
    }
    return MsgpackKindOf(*p_);
  }

  // Open an array or map at nesting level `depth` (the frame array is level 1); `what`
  // names the value in error messages.
  bool ReadArrayHeader(uint32_t depth, uint32_t* n, std::string_view what);
  bool ReadMapHeader(uint32_t depth, uint32_t* n, std::string_view what);

  // The payload of a str or bin, pointing into the frame.
  bool ReadStr(std::string_view* s, std::string_view what) {
    const MsgpackKind k = PeekKind();
    if (k != MsgpackKind::kStr) return WrongKind(k, "str", what);
    return ReadPayload(s, limits_.max_str, "str");
  }
  bool ReadBin(std::string_view* b, std::string_view what) {
    const MsgpackKind k = PeekKind();
    if (k != MsgpackKind::kBin) return WrongKind(k, "bin", what);
    return ReadPayload(b, limits_.max_bin, "bin");
  }

  // Any msgpack integer; `*negative` tells whether `*value` holds a negative int64 (as
  // bits) or a non-negative uint64.
  bool ReadInteger(bool* negative, uint64_t* value, std::string_view what);
  // Integers that must fit the field: a negative or too large value is bad_field.
  bool ReadUint64(uint64_t* out, std::string_view what);
  bool ReadUint32(uint32_t* out, std::string_view what);
  bool ReadInt64(int64_t* out, std::string_view what);
  // float64, or float32 widened.
  bool ReadFloat(double* out, std::string_view what);

  // Skips one whole object whose container is at nesting level `depth` - 1, within the
  // same limits as the values it reads.
  bool Skip(uint32_t depth);

 private:
  bool WrongKind(MsgpackKind got, std::string_view expected, std::string_view what);
  bool ReadBigEndian(size_t skip, size_t width, uint64_t* out);
  bool ReadContainerCount(uint32_t* n);
  bool CheckCount(uint32_t depth, uint32_t count, uint64_t objects, uint32_t limit,
                  std::string_view what);
  bool ReadPayload(std::string_view* out, uint32_t limit, std::string_view what);
  bool SkipExt();

  const uint8_t* p_;
  const uint8_t* const end_;
  const CodecLimits& limits_;
  const uint32_t max_depth_;
  DecodeErrorReason reason_ = DecodeErrorReason::kNone;
  std::string error_;
};

// The hot paths, inline: DecodeMessage calls them for every value of a frame. Fail and
// WrongKind are inline too, so that the compiler sees every failure path return false.

inline bool MsgpackReader::Fail(DecodeErrorReason reason, std::string message) {
  if (reason_ == DecodeErrorReason::kNone) {
    reason_ = reason;
    error_ = std::move(message);
  }
  return false;
}

inline bool MsgpackReader::WrongKind(MsgpackKind got, std::string_view expected,
                              std::string_view what) {
  if (got == MsgpackKind::kInvalid) {
    if (reason_ != DecodeErrorReason::kNone) return false;  // truncated, already recorded
    return Fail(DecodeErrorReason::kMalformed,
                std::string(what) + ": invalid msgpack byte 0xc1");
  }
  return Fail(DecodeErrorReason::kBadField, std::string(what) + ": expected " +
                                                std::string(expected) + ", got " +
                                                std::string(MsgpackKindName(got)));
}

inline MsgpackKind MsgpackKindOf(uint8_t b) {
  using K = MsgpackKind;
  if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf) return K::kUint;
  if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3)) return K::kInt;
  if (b <= 0x8f || b == 0xde || b == 0xdf) return K::kMap;
  if (b <= 0x9f || b == 0xdc || b == 0xdd) return K::kArray;
  if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb)) return K::kStr;
  switch (b) {
    case 0xc0: return K::kNil;
    case 0xc2: case 0xc3: return K::kBool;
    case 0xc4: case 0xc5: case 0xc6: return K::kBin;
    case 0xca: case 0xcb: return K::kFloat;
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return K::kExt;
    default: return K::kInvalid;  // 0xc1
  }
}

inline bool MsgpackReader::ReadArrayHeader(uint32_t depth, uint32_t* n, std::string_view what) {
  const MsgpackKind k = PeekKind();
  if (k != MsgpackKind::kArray) return WrongKind(k, "array", what);
  uint32_t count;
  if (!ReadContainerCount(&count)) return false;
  if (!CheckCount(depth, count, count, limits_.max_array, "array")) return false;
  *n = count;
  return true;
}

inline bool MsgpackReader::ReadMapHeader(uint32_t depth, uint32_t* n, std::string_view what) {
  const MsgpackKind k = PeekKind();
  if (k != MsgpackKind::kMap) return WrongKind(k, "map", what);
  uint32_t count;
  if (!ReadContainerCount(&count)) return false;
  if (!CheckCount(depth, count, 2 * uint64_t{count}, limits_.max_map, "map")) return false;
  *n = count;
  return true;
}

inline bool MsgpackReader::ReadInteger(bool* negative, uint64_t* value, std::string_view what) {
  const MsgpackKind k = PeekKind();
  if (k != MsgpackKind::kUint && k != MsgpackKind::kInt) return WrongKind(k, "int", what);
  const uint8_t b = *p_;
  if (b <= 0x7f) {
    ++p_;
    *negative = false;
    *value = b;
    return true;
  }
  if (b >= 0xe0) {
    ++p_;
    *negative = true;
    *value = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b)));
    return true;
  }
  static constexpr uint8_t kWidth[] = {1, 2, 4, 8};
  const bool is_signed = b >= 0xd0;
  const size_t width = kWidth[b & 0x3];
  uint64_t raw;
  if (!ReadBigEndian(1, width, &raw)) return false;
  if (!is_signed) {
    *negative = false;
    *value = raw;
    return true;
  }
  int64_t v;
  switch (width) {
    case 1: v = static_cast<int8_t>(raw); break;
    case 2: v = static_cast<int16_t>(raw); break;
    case 4: v = static_cast<int32_t>(raw); break;
    default: v = static_cast<int64_t>(raw); break;
  }
  *negative = v < 0;
  *value = static_cast<uint64_t>(v);
  return true;
}

inline bool MsgpackReader::ReadUint64(uint64_t* out, std::string_view what) {
  bool negative;
  if (!ReadInteger(&negative, out, what)) return false;
  if (negative) {
    return Fail(DecodeErrorReason::kBadField,
                std::string(what) + ": negative value " +
                    std::to_string(static_cast<int64_t>(*out)) + " for an unsigned field");
  }
  return true;
}

inline bool MsgpackReader::ReadUint32(uint32_t* out, std::string_view what) {
  uint64_t v;
  if (!ReadUint64(&v, what)) return false;
  if (v > std::numeric_limits<uint32_t>::max()) {
    return Fail(DecodeErrorReason::kBadField,
                std::string(what) + ": " + std::to_string(v) + " does not fit uint32");
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

inline bool MsgpackReader::ReadInt64(int64_t* out, std::string_view what) {
  bool negative;
  uint64_t v;
  if (!ReadInteger(&negative, &v, what)) return false;
  if (!negative && v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Fail(DecodeErrorReason::kBadField,
                std::string(what) + ": " + std::to_string(v) + " does not fit int64");
  }
  *out = static_cast<int64_t>(v);
  return true;
}

inline bool MsgpackReader::ReadFloat(double* out, std::string_view what) {
  const MsgpackKind k = PeekKind();
  if (k != MsgpackKind::kFloat) return WrongKind(k, "float", what);
  const bool is64 = *p_ == 0xcb;
  uint64_t raw;
  if (!ReadBigEndian(1, is64 ? 8 : 4, &raw)) return false;
  if (is64) {
    std::memcpy(out, &raw, sizeof(*out));
  } else {
    const uint32_t bits32 = static_cast<uint32_t>(raw);
    float f;
    std::memcpy(&f, &bits32, sizeof(f));
    *out = f;
  }
  return true;
}

// Reads `width` big-endian bytes after `skip` header bytes.
inline bool MsgpackReader::ReadBigEndian(size_t skip, size_t width, uint64_t* out) {
  if (remaining() < skip + width) return Fail(DecodeErrorReason::kMalformed, "truncated frame");
  p_ += skip;
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = v << 8 | p_[i];
  p_ += width;
  *out = v;
  return true;
}

// Array or map header -> element (pair) count. REQUIRES: the next object is one.
inline bool MsgpackReader::ReadContainerCount(uint32_t* n) {
  const uint8_t b = *p_;
  if (b <= 0x9f) {  // fixmap 0x80-0x8f, fixarray 0x90-0x9f
    ++p_;
    *n = b & 0x0f;
    return true;
  }
  const size_t width = (b == 0xdc || b == 0xde) ? 2 : 4;
  uint64_t v;
  if (!ReadBigEndian(1, width, &v)) return false;
  *n = static_cast<uint32_t>(v);
  return true;
}

inline bool MsgpackReader::CheckCount(uint32_t depth, uint32_t count, uint64_t objects,
                               uint32_t limit, std::string_view what) {
  if (depth > max_depth_) {
    return Fail(DecodeErrorReason::kLimits,
                "nesting deeper than max_depth " + std::to_string(max_depth_));
  }
  if (count > limit) {
    return Fail(DecodeErrorReason::kLimits, std::string(what) + " of " + std::to_string(count) +
                                                " entries exceeds the limit of " +
                                                std::to_string(limit));
  }
  // Each element takes at least one byte.
  if (objects > remaining()) {
    return Fail(DecodeErrorReason::kMalformed,
                std::string(what) + " announces " + std::to_string(count) +
                    " entries but only " + std::to_string(remaining()) + " bytes remain");
  }
  return true;
}

// str or bin header + payload. REQUIRES: the next object is a str or bin.
inline bool MsgpackReader::ReadPayload(std::string_view* out, uint32_t limit,
                                       std::string_view what) {
  const uint8_t b = *p_;
  uint64_t len;
  if (b >= 0xa0 && b <= 0xbf) {
    ++p_;
    len = b & 0x1f;
  } else {
    const size_t width = (b == 0xd9 || b == 0xc4) ? 1 : (b == 0xda || b == 0xc5) ? 2 : 4;
    if (!ReadBigEndian(1, width, &len)) return false;
  }
  if (len > limit) {
    return Fail(DecodeErrorReason::kLimits, std::string(what) + " of " + std::to_string(len) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(limit));
  }
  if (len > remaining()) {
    return Fail(DecodeErrorReason::kMalformed, std::string(what) + " of " +
                                                   std::to_string(len) + " bytes but only " +
                                                   std::to_string(remaining()) + " remain");
  }
  *out = std::string_view(reinterpret_cast<const char*>(p_), len);
  p_ += len;
  return true;
}

}  // namespace btrq
