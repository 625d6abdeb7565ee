#include "common/msgpack_reader.h"

namespace btrq {

std::string_view MsgpackKindName(MsgpackKind k) {
  switch (k) {
    case MsgpackKind::kNil: return "nil";
    case MsgpackKind::kBool: return "bool";
    case MsgpackKind::kUint: return "uint";
    case MsgpackKind::kInt: return "negative int";
    case MsgpackKind::kFloat: return "float";
    case MsgpackKind::kStr: return "str";
    case MsgpackKind::kBin: return "bin";
    case MsgpackKind::kArray: return "array";
    case MsgpackKind::kMap: return "map";
    case MsgpackKind::kExt: return "ext";
    case MsgpackKind::kInvalid: return "invalid byte";
  }
  return "?";
}

bool MsgpackReader::AddContext(std::string_view context) {
  error_.insert(0, std::string(context) + ": ");
  return false;
}

// Walks with an explicit stack of pending element counts, so peer data never drives
// recursion.
bool MsgpackReader::Skip(uint32_t depth) {
  uint64_t pending[kMaxDepthCap + 1];
  size_t top = 0;
  uint64_t todo = 1;  // objects left at the current level
  for (;;) {
    while (todo == 0) {
      if (top == 0) return true;
      todo = pending[--top];
    }
    --todo;
    const MsgpackKind k = PeekKind();
    const uint32_t level = depth + static_cast<uint32_t>(top);
    switch (k) {
      case MsgpackKind::kInvalid:
        if (reason_ == DecodeErrorReason::kNone) {
          return Fail(DecodeErrorReason::kMalformed, "invalid msgpack byte 0xc1");
        }
        return false;
      case MsgpackKind::kNil:
      case MsgpackKind::kBool:
        ++p_;
        break;
      case MsgpackKind::kUint:
      case MsgpackKind::kInt: {
        bool negative;
        uint64_t v;
        if (!ReadInteger(&negative, &v, "skipped value")) return false;
        break;
      }
      case MsgpackKind::kFloat: {
        double d;
        if (!ReadFloat(&d, "skipped value")) return false;
        break;
      }
      case MsgpackKind::kStr: {
        std::string_view s;
        if (!ReadPayload(&s, limits_.max_str, "str")) return false;
        break;
      }
      case MsgpackKind::kBin: {
        std::string_view s;
        if (!ReadPayload(&s, limits_.max_bin, "bin")) return false;
        break;
      }
      case MsgpackKind::kExt:
        if (!SkipExt()) return false;
        break;
      case MsgpackKind::kArray:
      case MsgpackKind::kMap: {
        uint32_t n = 0;  // GCC 12 cannot see that the header reads set it on success
        const bool ok = k == MsgpackKind::kArray ? ReadArrayHeader(level, &n, "skipped value")
                                                 : ReadMapHeader(level, &n, "skipped value");
        if (!ok) return false;
        pending[top++] = todo;  // level <= max_depth_ <= kMaxDepthCap, so top stays in range
        todo = k == MsgpackKind::kArray ? n : 2 * uint64_t{n};
        break;
      }
    }
  }
}

bool MsgpackReader::SkipExt() {
  const uint8_t b = *p_;
  uint64_t len;
  if (b >= 0xd4 && b <= 0xd8) {  // fixext 1, 2, 4, 8, 16
    len = uint64_t{1} << (b - 0xd4);
    ++p_;
  } else {
    const size_t width = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
    if (!ReadBigEndian(1, width, &len)) return false;
  }
  if (len > limits_.max_ext) {
    return Fail(DecodeErrorReason::kLimits, "ext value of " + std::to_string(len) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(limits_.max_ext));
  }
  if (len + 1 > remaining()) return Fail(DecodeErrorReason::kMalformed, "truncated frame");
  p_ += len + 1;  // type byte + payload
  return true;
}

}  // namespace btrq
