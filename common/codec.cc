#include "common/codec.h"

// The only file that includes msgpack. Encoding goes through msgpack::packer into a
// std::string; decoding is a hand-written, bounds-checked reader over the raw bytes that
// builds our structs directly (no msgpack object tree), because:
//   - every announced length or count is checked against the bytes left and against
//     CodecLimits before anything is allocated, so a 5-byte frame announcing 4G elements
//     costs nothing, and a frame's decoded size is bounded by its own length;
//   - nesting is walked with an explicit, fixed-size stack (no recursion on peer data);
//   - it allocates only the decoded strings and vectors, and no exception escapes.
//
// Frame: msgpack array [protocol_version (uint), type (uint), body (map)], exactly 3
// elements and nothing after it. Body keys are short strings. DO NOT rename keys or
// renumber MessageType: they are on the wire (docs/protocol.md is the reference).
//
//   message            key   type                    required  field
//   -----------------  ----  ----------------------  --------  -------------------------
//   HELLO (1)          w     str                     yes       worker_id
//                      h     str                     yes       host
//                      p     int (int64)             yes       pid
//                      t     uint (uint32)           yes       threads
//                      a     array of str            yes       analytics
//   CREDIT (2)         n     uint (uint32)           yes       credit
//   HEARTBEAT (3)      r     array of taskref        yes       running
//   DONE (4)           i     array of done-item      yes       items
//   BYE (5)            -     empty map
//   TASK (10)          t     array of task           yes       tasks
//   CANCEL (11)        j     uint (uint64)           yes       job
//   BROKER_HB (12)     -     empty map
//   DRAIN (13)         -     empty map
//   REJECT (14)        r     str                     yes       reason
//   RESULT (20)        r     array of result         yes       results
//   ACK (21)           k     array of taskkey        yes       keys
//
//   taskkey   {j: uint64 job, s: bin16 stream, b: int64 start}
//   taskref   taskkey keys + {n: uint32 attempt}
//   done-item taskref keys + {c: uint error class 0|1|2, m: str message (optional, ""),
//                             pr: int64 points_read (optional, 0)}
//   task      taskref keys + {e: int64 end, v: uint64 version, an: str analytic,
//                             p: fields (optional, empty), se: int64 stream_earliest,
//                             sl: int64 stream_latest}
//   result    taskref keys + {e: int64 end, v: uint64 version, w: str worker_id,
//                             f: fields, d: int64 duration_ns, pr: int64 points_read}
//   fields    map of str name -> int (int64) | float (float64; float32 accepted) | str;
//             names unique; order preserved.
//
// Rules: integers may use any msgpack int format whose value fits the field (negative
// for an unsigned field is bad_field); a key seen twice is bad_field; unknown keys are
// skipped (forward compatibility) but still count against the limits; nil, bool and ext
// are accepted only inside skipped values (ext only when CodecLimits::max_ext allows).

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <optional>

#include <msgpack.hpp>

namespace btrq {
namespace {

// ---------------------------------------------------------------------------------
// Encoding

// A msgpack::packer stream appending to a std::string.
struct StringSink {
  std::string* out;
  void write(const char* data, size_t n) { out->append(data, n); }
};

class Encoder {
 public:
  explicit Encoder(std::string* out) : sink_{out}, pk_(sink_) {}

  void ArrayHeader(size_t n) { pk_.pack_array(static_cast<uint32_t>(n)); }
  void MapHeader(size_t n) { pk_.pack_map(static_cast<uint32_t>(n)); }
  void Key(std::string_view k) { Str(k); }
  void Str(std::string_view s) {
    pk_.pack_str(static_cast<uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void Bin(std::string_view b) {
    pk_.pack_bin(static_cast<uint32_t>(b.size()));
    pk_.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
  }
  void Uint(uint64_t v) { pk_.pack_uint64(v); }
  void Int(int64_t v) { pk_.pack_int64(v); }
  // Always float64: msgpack::packer::pack_double writes integral doubles as ints, which
  // would turn a FieldValue 2.0 into 2.
  void Float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    sink_.out->append(buf, sizeof(buf));
  }

  // [protocol_version, type, ...]: the body follows.
  void FrameHeader(MessageType type) {
    ArrayHeader(3);
    Uint(kProtocolVersion);
    Uint(static_cast<uint32_t>(type));
  }

  void TaskKeyFields(const TaskKey& k) {
    Key("j"), Uint(k.job);
    Key("s"), Bin(k.stream.AsBytes());
    Key("b"), Int(k.start);
  }
  void TaskRefFields(const TaskRef& r) {
    TaskKeyFields(r.key);
    Key("n"), Uint(r.attempt);
  }
  void FieldsMap(const Fields& fields) {
    MapHeader(fields.size());
    for (const auto& [name, value] : fields) {
      Str(name);
      if (const auto* i = std::get_if<int64_t>(&value)) {
        Int(*i);
      } else if (const auto* d = std::get_if<double>(&value)) {
        Float64(*d);
      } else {
        Str(std::get<std::string>(value));
      }
    }
  }

  void Body(const HelloMsg& m) {
    MapHeader(5);
    Key("w"), Str(m.worker_id);
    Key("h"), Str(m.host);
    Key("p"), Int(m.pid);
    Key("t"), Uint(m.threads);
    Key("a"), ArrayHeader(m.analytics.size());
    for (const auto& a : m.analytics) Str(a);
  }
  void Body(const CreditMsg& m) {
    MapHeader(1);
    Key("n"), Uint(m.credit);
  }
  void Body(const HeartbeatMsg& m) {
    MapHeader(1);
    Key("r"), ArrayHeader(m.running.size());
    for (const auto& r : m.running) {
      MapHeader(4);
      TaskRefFields(r);
    }
  }
  void Body(const DoneMsg& m) {
    MapHeader(1);
    Key("i"), ArrayHeader(m.items.size());
    for (const auto& d : m.items) {
      MapHeader(5 + (d.message.empty() ? 0 : 1) + (d.points_read == 0 ? 0 : 1));
      TaskRefFields(d.task);
      Key("c"), Uint(static_cast<uint32_t>(d.error));
      if (!d.message.empty()) Key("m"), Str(d.message);
      if (d.points_read != 0) Key("pr"), Int(d.points_read);
    }
  }
  void Body(const TaskMsg& m) {
    MapHeader(1);
    Key("t"), ArrayHeader(m.tasks.size());
    for (const auto& t : m.tasks) {
      MapHeader(t.params.empty() ? 9 : 10);
      TaskKeyFields(t.key);
      Key("n"), Uint(t.attempt);
      Key("e"), Int(t.end);
      Key("v"), Uint(t.version);
      Key("an"), Str(t.analytic);
      if (!t.params.empty()) Key("p"), FieldsMap(t.params);
      Key("se"), Int(t.stream_earliest);
      Key("sl"), Int(t.stream_latest);
    }
  }
  void Body(const CancelMsg& m) {
    MapHeader(1);
    Key("j"), Uint(m.job);
  }
  void Body(const RejectMsg& m) {
    MapHeader(1);
    Key("r"), Str(m.reason);
  }
  void Body(const ResultMsg& m) {
    ResultsBody(m.results, [](const TaskResult& r) -> const TaskResult& { return r; });
  }
  // A RESULT body over any range whose elements `deref` turns into TaskResults; with
  // `worker_id`, it replaces each result's.
  template <typename Range, typename Deref>
  void ResultsBody(const Range& results, Deref deref,
                   std::optional<std::string_view> worker_id = std::nullopt) {
    MapHeader(1);
    Key("r"), ArrayHeader(results.size());
    for (const auto& element : results) {
      const TaskResult& r = deref(element);
      MapHeader(10);
      TaskRefFields(r.task);
      Key("e"), Int(r.end);
      Key("v"), Uint(r.version);
      Key("w"), Str(worker_id.value_or(r.worker_id));
      Key("f"), FieldsMap(r.fields);
      Key("d"), Int(r.duration_ns);
      Key("pr"), Int(r.points_read);
    }
  }
  void Body(const AckMsg& m) {
    MapHeader(1);
    Key("k"), ArrayHeader(m.keys.size());
    for (const auto& k : m.keys) {
      MapHeader(3);
      TaskKeyFields(k);
    }
  }
  void Body(const ByeMsg&) { MapHeader(0); }
  void Body(const BrokerHeartbeatMsg&) { MapHeader(0); }
  void Body(const DrainMsg&) { MapHeader(0); }

 private:
  StringSink sink_;
  msgpack::packer<StringSink> pk_;
};

// ---------------------------------------------------------------------------------
// Decoding

// What the next msgpack object is, from its first byte.
enum class Kind { kNil, kBool, kUint, kInt, kFloat, kStr, kBin, kArray, kMap, kExt, kInvalid };

Kind KindOf(uint8_t b) {
  if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf) return Kind::kUint;
  if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3)) return Kind::kInt;
  if (b <= 0x8f || b == 0xde || b == 0xdf) return Kind::kMap;
  if (b <= 0x9f || b == 0xdc || b == 0xdd) return Kind::kArray;
  if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb)) return Kind::kStr;
  switch (b) {
    case 0xc0: return Kind::kNil;
    case 0xc2: case 0xc3: return Kind::kBool;
    case 0xc4: case 0xc5: case 0xc6: return Kind::kBin;
    case 0xca: case 0xcb: return Kind::kFloat;
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return Kind::kExt;
    default: return Kind::kInvalid;  // 0xc1
  }
}

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kNil: return "nil";
    case Kind::kBool: return "bool";
    case Kind::kUint: return "uint";
    case Kind::kInt: return "negative int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBin: return "bin";
    case Kind::kArray: return "array";
    case Kind::kMap: return "map";
    case Kind::kExt: return "ext";
    case Kind::kInvalid: return "invalid byte";
  }
  return "?";
}

constexpr uint32_t kMaxDepthCap = 64;

// A cursor over the frame. Every Read* returns false after recording the first error;
// the recorded error is what DecodeMessage reports.
class Reader {
 public:
  Reader(std::string_view data, const CodecLimits& limits)
      : p_(reinterpret_cast<const uint8_t*>(data.data())),
        end_(p_ + data.size()),
        limits_(limits),
        max_depth_(std::min(limits.max_depth, kMaxDepthCap)) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }

  bool Fail(DecodeErrorReason reason, std::string message) {
    if (reason_ == DecodeErrorReason::kNone) {
      reason_ = reason;
      error_ = std::move(message);
    }
    return false;
  }
  // Prefixes the recorded error with where it happened ("task 3: ").
  bool AddContext(std::string_view context) {
    error_.insert(0, std::string(context) + ": ");
    return false;
  }
  DecodeErrorReason reason() const { return reason_; }
  const std::string& error() const { return error_; }

  // The kind of the next object, or kInvalid (after recording "truncated") at the end.
  Kind PeekKind() {
    if (p_ == end_) {
      Fail(DecodeErrorReason::kMalformed, "truncated frame");
      return Kind::kInvalid;
    }
    return KindOf(*p_);
  }

  // Opens an array or map at nesting level `depth` (the frame array is level 1).
  bool ReadArrayHeader(uint32_t depth, uint32_t* n, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kArray) return WrongKind(k, "array", what);
    uint32_t count;
    if (!ReadContainerCount(&count)) return false;
    if (!CheckCount(depth, count, count, limits_.max_array, "array")) return false;
    *n = count;
    return true;
  }
  bool ReadMapHeader(uint32_t depth, uint32_t* n, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kMap) return WrongKind(k, "map", what);
    uint32_t count;
    if (!ReadContainerCount(&count)) return false;
    if (!CheckCount(depth, count, 2 * uint64_t{count}, limits_.max_map, "map")) return false;
    *n = count;
    return true;
  }

  bool ReadStr(std::string_view* s, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kStr) return WrongKind(k, "str", what);
    return ReadPayload(s, limits_.max_str, "str");
  }
  bool ReadBin(std::string_view* b, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kBin) return WrongKind(k, "bin", what);
    return ReadPayload(b, limits_.max_bin, "bin");
  }

  // Any msgpack integer; `*negative` tells whether `*magnitude_or_value` holds a
  // negative int64 (as bits) or a non-negative uint64.
  bool ReadInteger(bool* negative, uint64_t* value, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kUint && k != Kind::kInt) return WrongKind(k, "int", what);
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

  bool ReadUint64(uint64_t* out, std::string_view what) {
    bool negative;
    if (!ReadInteger(&negative, out, what)) return false;
    if (negative) {
      return Fail(DecodeErrorReason::kBadField,
                  std::string(what) + ": negative value " +
                      std::to_string(static_cast<int64_t>(*out)) + " for an unsigned field");
    }
    return true;
  }
  bool ReadUint32(uint32_t* out, std::string_view what) {
    uint64_t v;
    if (!ReadUint64(&v, what)) return false;
    if (v > std::numeric_limits<uint32_t>::max()) {
      return Fail(DecodeErrorReason::kBadField,
                  std::string(what) + ": " + std::to_string(v) + " does not fit uint32");
    }
    *out = static_cast<uint32_t>(v);
    return true;
  }
  bool ReadInt64(int64_t* out, std::string_view what) {
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
  bool ReadFloat(double* out, std::string_view what) {
    const Kind k = PeekKind();
    if (k != Kind::kFloat) return WrongKind(k, "float", what);
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

  // Skips one whole object whose container is at nesting level `depth` - 1, walking with
  // an explicit stack of pending element counts.
  bool Skip(uint32_t depth) {
    uint64_t pending[kMaxDepthCap + 1];
    size_t top = 0;
    uint64_t todo = 1;  // objects left at the current level
    for (;;) {
      while (todo == 0) {
        if (top == 0) return true;
        todo = pending[--top];
      }
      --todo;
      const Kind k = PeekKind();
      const uint32_t level = depth + static_cast<uint32_t>(top);
      switch (k) {
        case Kind::kInvalid:
          if (reason_ == DecodeErrorReason::kNone) {
            return Fail(DecodeErrorReason::kMalformed, "invalid msgpack byte 0xc1");
          }
          return false;
        case Kind::kNil:
        case Kind::kBool:
          ++p_;
          break;
        case Kind::kUint:
        case Kind::kInt: {
          bool negative;
          uint64_t v;
          if (!ReadInteger(&negative, &v, "skipped value")) return false;
          break;
        }
        case Kind::kFloat: {
          double d;
          if (!ReadFloat(&d, "skipped value")) return false;
          break;
        }
        case Kind::kStr: {
          std::string_view s;
          if (!ReadPayload(&s, limits_.max_str, "str")) return false;
          break;
        }
        case Kind::kBin: {
          std::string_view s;
          if (!ReadPayload(&s, limits_.max_bin, "bin")) return false;
          break;
        }
        case Kind::kExt:
          if (!SkipExt()) return false;
          break;
        case Kind::kArray:
        case Kind::kMap: {
          uint32_t n;
          const bool ok = k == Kind::kArray ? ReadArrayHeader(level, &n, "skipped value")
                                            : ReadMapHeader(level, &n, "skipped value");
          if (!ok) return false;
          pending[top++] = todo;  // level <= max_depth_ <= kMaxDepthCap, so top stays in range
          todo = k == Kind::kArray ? n : 2 * uint64_t{n};
          break;
        }
      }
    }
  }

 private:
  bool WrongKind(Kind got, std::string_view expected, std::string_view what) {
    if (got == Kind::kInvalid) {
      if (reason_ != DecodeErrorReason::kNone) return false;  // truncated, already recorded
      return Fail(DecodeErrorReason::kMalformed,
                  std::string(what) + ": invalid msgpack byte 0xc1");
    }
    return Fail(DecodeErrorReason::kBadField, std::string(what) + ": expected " +
                                                  std::string(expected) + ", got " +
                                                  std::string(KindName(got)));
  }

  // Reads `width` big-endian bytes after `skip` header bytes.
  bool ReadBigEndian(size_t skip, size_t width, uint64_t* out) {
    if (remaining() < skip + width) return Fail(DecodeErrorReason::kMalformed, "truncated frame");
    p_ += skip;
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v = v << 8 | p_[i];
    p_ += width;
    *out = v;
    return true;
  }

  // Array or map header -> element (pair) count. REQUIRES: the next object is one.
  bool ReadContainerCount(uint32_t* n) {
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

  bool CheckCount(uint32_t depth, uint32_t count, uint64_t objects, uint32_t limit,
                  std::string_view what) {
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
  bool ReadPayload(std::string_view* out, uint32_t limit, std::string_view what) {
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

  bool SkipExt() {
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

  const uint8_t* p_;
  const uint8_t* const end_;
  const CodecLimits& limits_;
  const uint32_t max_depth_;
  DecodeErrorReason reason_ = DecodeErrorReason::kNone;
  std::string error_;
};

// The body keys of one map-shaped struct, in a fixed order; index = bit in `seen`.
struct KeySpec {
  std::string_view key;
  bool required;
};

// Keys are one or two characters: compared inline, not through memcmp.
inline bool SameKey(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Reads a map at `depth` whose keys are `keys`; `read(index)` reads the value of
// keys[index]. Unknown keys are skipped; duplicates and missing required keys fail.
// Keys may come in any order; the encoder writes them in `keys`' order, so the key after
// the last one matched is tried first.
template <size_t N, typename ReadField>
bool DecodeMap(Reader& r, uint32_t depth, const KeySpec (&keys)[N], std::string_view what,
               ReadField&& read) {
  static_assert(N <= 32);
  uint32_t n;
  if (!r.ReadMapHeader(depth, &n, what)) return false;
  uint32_t seen = 0;
  size_t expected = 0;
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!r.ReadStr(&key, "map key")) return r.AddContext(what);
    size_t index = N;
    if (expected < N && SameKey(keys[expected].key, key)) {
      index = expected;
    } else {
      for (size_t k = 0; k < N; ++k) {
        if (SameKey(keys[k].key, key)) {
          index = k;
          break;
        }
      }
    }
    if (index == N) {
      if (!r.Skip(depth + 1)) return false;
      continue;
    }
    if (seen & (1u << index)) {
      return r.Fail(DecodeErrorReason::kBadField,
                    std::string(what) + ": duplicate key '" + std::string(key) + "'");
    }
    seen |= 1u << index;
    expected = index + 1;
    if (!read(index)) return r.AddContext(what);
  }
  for (size_t k = 0; k < N; ++k) {
    if (keys[k].required && !(seen & (1u << k))) {
      return r.Fail(DecodeErrorReason::kBadField, std::string(what) + ": missing key '" +
                                                      std::string(keys[k].key) + "'");
    }
  }
  return true;
}

// Reads an array at `depth` of items read by `read_item(i)`; adds "what[i]" context.
template <typename ReadItem>
bool DecodeArray(Reader& r, uint32_t depth, std::string_view what, uint32_t* count,
                 ReadItem&& read_item) {
  if (!r.ReadArrayHeader(depth, count, what)) return false;
  for (uint32_t i = 0; i < *count; ++i) {
    if (!read_item(i)) {
      return r.AddContext(std::string(what) + "[" + std::to_string(i) + "]");
    }
  }
  return true;
}

// Vectors grow with the items actually decoded; the up-front reservation is capped so
// that a large announced count of tiny, invalid items allocates little.
constexpr uint32_t kMaxReserve = 256;

bool ReadStream(Reader& r, Uuid* out) {
  std::string_view b;
  if (!r.ReadBin(&b, "key 's'")) return false;
  if (b.size() != 16) {
    return r.Fail(DecodeErrorReason::kBadField,
                  "key 's': stream uuid must be 16 bytes, got " + std::to_string(b.size()));
  }
  std::memcpy(out->bytes.data(), b.data(), 16);
  return true;
}

bool ReadString(Reader& r, std::string* out, std::string_view what) {
  std::string_view s;
  if (!r.ReadStr(&s, what)) return false;
  out->assign(s.data(), s.size());
  return true;
}

// Shared by every struct that starts with a task key (indices 0..2) and attempt (3).
enum TaskRefIndex : size_t { kJob = 0, kStream = 1, kStart = 2, kAttempt = 3 };

bool ReadTaskKeyField(Reader& r, size_t index, TaskKey* key) {
  switch (index) {
    case kJob: return r.ReadUint64(&key->job, "key 'j'");
    case kStream: return ReadStream(r, &key->stream);
    default: return r.ReadInt64(&key->start, "key 'b'");
  }
}

bool ReadFields(Reader& r, uint32_t depth, Fields* out, std::string_view what) {
  uint32_t n;
  if (!r.ReadMapHeader(depth, &n, what)) return false;
  out->clear();
  out->reserve(std::min(n, kMaxReserve));
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!r.ReadStr(&name, "name")) return r.AddContext(what);
    FieldValue value;
    bool ok;
    switch (r.PeekKind()) {
      case Kind::kUint:
      case Kind::kInt: {
        int64_t v = 0;
        ok = r.ReadInt64(&v, "value");
        value = v;
        break;
      }
      case Kind::kFloat: {
        double d = 0;
        ok = r.ReadFloat(&d, "value");
        value = d;
        break;
      }
      default: {
        std::string_view s;
        ok = r.ReadStr(&s, "value (int, float or str)");
        if (ok) value = std::string(s);
        break;
      }
    }
    if (!ok) return r.AddContext(std::string(what) + " '" + std::string(name) + "'");
    out->emplace_back(std::string(name), std::move(value));
  }
  // Names are unique: pairwise for small maps, sorted otherwise.
  if (out->size() <= 16) {
    for (size_t i = 0; i < out->size(); ++i) {
      for (size_t j = i + 1; j < out->size(); ++j) {
        if ((*out)[i].first == (*out)[j].first) {
          return r.Fail(DecodeErrorReason::kBadField, std::string(what) + ": duplicate name '" +
                                                          (*out)[i].first + "'");
        }
      }
    }
  } else {
    std::vector<std::string_view> names;
    names.reserve(out->size());
    for (const auto& f : *out) names.push_back(f.first);
    std::sort(names.begin(), names.end());
    const auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) {
      return r.Fail(DecodeErrorReason::kBadField,
                    std::string(what) + ": duplicate name '" + std::string(*dup) + "'");
    }
  }
  return true;
}

// Body decoders: the body map is at depth 2, list items at 4, fields maps at 5.

bool DecodeBody(Reader& r, HelloMsg* m) {
  static constexpr KeySpec kKeys[] = {
      {"w", true}, {"h", true}, {"p", true}, {"t", true}, {"a", true}};
  return DecodeMap(r, 2, kKeys, "HELLO", [&](size_t i) {
    switch (i) {
      case 0: return ReadString(r, &m->worker_id, "key 'w'");
      case 1: return ReadString(r, &m->host, "key 'h'");
      case 2: return r.ReadInt64(&m->pid, "key 'p'");
      case 3: return r.ReadUint32(&m->threads, "key 't'");
      default: {
        uint32_t n;
        return DecodeArray(r, 3, "analytics", &n, [&](uint32_t) {
          return ReadString(r, &m->analytics.emplace_back(), "analytic");
        });
      }
    }
  });
}

bool DecodeBody(Reader& r, CreditMsg* m) {
  static constexpr KeySpec kKeys[] = {{"n", true}};
  return DecodeMap(r, 2, kKeys, "CREDIT",
                   [&](size_t) { return r.ReadUint32(&m->credit, "key 'n'"); });
}

bool DecodeTaskRef(Reader& r, TaskRef* t) {
  static constexpr KeySpec kKeys[] = {{"j", true}, {"s", true}, {"b", true}, {"n", true}};
  return DecodeMap(r, 4, kKeys, "taskref", [&](size_t i) {
    if (i == kAttempt) return r.ReadUint32(&t->attempt, "key 'n'");
    return ReadTaskKeyField(r, i, &t->key);
  });
}

bool DecodeBody(Reader& r, HeartbeatMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}};
  return DecodeMap(r, 2, kKeys, "HEARTBEAT", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "running", &n, [&](uint32_t i) {
      if (i == 0) m->running.reserve(std::min(n, kMaxReserve));
      return DecodeTaskRef(r, &m->running.emplace_back());
    });
  });
}

bool DecodeBody(Reader& r, DoneMsg* m) {
  static constexpr KeySpec kKeys[] = {{"i", true}};
  static constexpr KeySpec kItemKeys[] = {{"j", true}, {"s", true}, {"b", true},
                                          {"n", true}, {"c", true}, {"m", false},
                                          {"pr", false}};
  return DecodeMap(r, 2, kKeys, "DONE", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "items", &n, [&](uint32_t i) {
      if (i == 0) m->items.reserve(std::min(n, kMaxReserve));
      DoneItem& d = m->items.emplace_back();
      return DecodeMap(r, 4, kItemKeys, "done item", [&](size_t k) {
        switch (k) {
          case kAttempt: return r.ReadUint32(&d.task.attempt, "key 'n'");
          case 4: {
            uint32_t c;
            if (!r.ReadUint32(&c, "key 'c'")) return false;
            if (c > static_cast<uint32_t>(ErrorClass::kPermanent)) {
              return r.Fail(DecodeErrorReason::kBadField,
                            "key 'c': unknown error class " + std::to_string(c));
            }
            d.error = static_cast<ErrorClass>(c);
            return true;
          }
          case 5: return ReadString(r, &d.message, "key 'm'");
          case 6: return r.ReadInt64(&d.points_read, "key 'pr'");
          default: return ReadTaskKeyField(r, k, &d.task.key);
        }
      });
    });
  });
}

bool DecodeBody(Reader& r, TaskMsg* m) {
  static constexpr KeySpec kKeys[] = {{"t", true}};
  static constexpr KeySpec kTaskKeys[] = {{"j", true},  {"s", true},  {"b", true}, {"n", true},
                                          {"e", true},  {"v", true},  {"an", true},
                                          {"p", false}, {"se", true}, {"sl", true}};
  return DecodeMap(r, 2, kKeys, "TASK", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "tasks", &n, [&](uint32_t i) {
      if (i == 0) m->tasks.reserve(std::min(n, kMaxReserve));
      TaskSpec& t = m->tasks.emplace_back();
      return DecodeMap(r, 4, kTaskKeys, "task", [&](size_t k) {
        switch (k) {
          case kAttempt: return r.ReadUint32(&t.attempt, "key 'n'");
          case 4: return r.ReadInt64(&t.end, "key 'e'");
          case 5: return r.ReadUint64(&t.version, "key 'v'");
          case 6: return ReadString(r, &t.analytic, "key 'an'");
          case 7: return ReadFields(r, 5, &t.params, "params");
          case 8: return r.ReadInt64(&t.stream_earliest, "key 'se'");
          case 9: return r.ReadInt64(&t.stream_latest, "key 'sl'");
          default: return ReadTaskKeyField(r, k, &t.key);
        }
      });
    });
  });
}

bool DecodeBody(Reader& r, CancelMsg* m) {
  static constexpr KeySpec kKeys[] = {{"j", true}};
  return DecodeMap(r, 2, kKeys, "CANCEL",
                   [&](size_t) { return r.ReadUint64(&m->job, "key 'j'"); });
}

bool DecodeBody(Reader& r, RejectMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}};
  return DecodeMap(r, 2, kKeys, "REJECT",
                   [&](size_t) { return ReadString(r, &m->reason, "key 'r'"); });
}

bool DecodeBody(Reader& r, ResultMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}};
  static constexpr KeySpec kResultKeys[] = {{"j", true}, {"s", true}, {"b", true}, {"n", true},
                                            {"e", true}, {"v", true}, {"w", true}, {"f", true},
                                            {"d", true}, {"pr", true}};
  return DecodeMap(r, 2, kKeys, "RESULT", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "results", &n, [&](uint32_t i) {
      if (i == 0) m->results.reserve(std::min(n, kMaxReserve));
      TaskResult& t = m->results.emplace_back();
      return DecodeMap(r, 4, kResultKeys, "result", [&](size_t k) {
        switch (k) {
          case kAttempt: return r.ReadUint32(&t.task.attempt, "key 'n'");
          case 4: return r.ReadInt64(&t.end, "key 'e'");
          case 5: return r.ReadUint64(&t.version, "key 'v'");
          case 6: return ReadString(r, &t.worker_id, "key 'w'");
          case 7: return ReadFields(r, 5, &t.fields, "fields");
          case 8: return r.ReadInt64(&t.duration_ns, "key 'd'");
          case 9: return r.ReadInt64(&t.points_read, "key 'pr'");
          default: return ReadTaskKeyField(r, k, &t.task.key);
        }
      });
    });
  });
}

bool DecodeBody(Reader& r, AckMsg* m) {
  static constexpr KeySpec kKeys[] = {{"k", true}};
  static constexpr KeySpec kKeyKeys[] = {{"j", true}, {"s", true}, {"b", true}};
  return DecodeMap(r, 2, kKeys, "ACK", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "keys", &n, [&](uint32_t i) {
      if (i == 0) m->keys.reserve(std::min(n, kMaxReserve));
      TaskKey& key = m->keys.emplace_back();
      return DecodeMap(r, 4, kKeyKeys, "taskkey",
                       [&](size_t k) { return ReadTaskKeyField(r, k, &key); });
    });
  });
}

// Bodies without fields: a map whose (unknown) keys are skipped.
bool DecodeEmptyBody(Reader& r, std::string_view what) {
  static constexpr KeySpec kNone[] = {{"", false}};
  return DecodeMap(r, 2, kNone, what, [&r](size_t) { return r.Skip(3); });
}

template <typename T>
bool DecodeInto(Reader& r, Message* out) {
  T& m = out->emplace<T>();
  return DecodeBody(r, &m);
}

bool DecodeTyped(Reader& r, MessageType type, Message* out) {
  switch (type) {
    case MessageType::kHello: return DecodeInto<HelloMsg>(r, out);
    case MessageType::kCredit: return DecodeInto<CreditMsg>(r, out);
    case MessageType::kHeartbeat: return DecodeInto<HeartbeatMsg>(r, out);
    case MessageType::kDone: return DecodeInto<DoneMsg>(r, out);
    case MessageType::kBye: out->emplace<ByeMsg>(); return DecodeEmptyBody(r, "BYE");
    case MessageType::kTask: return DecodeInto<TaskMsg>(r, out);
    case MessageType::kCancel: return DecodeInto<CancelMsg>(r, out);
    case MessageType::kBrokerHeartbeat:
      out->emplace<BrokerHeartbeatMsg>();
      return DecodeEmptyBody(r, "BROKER_HEARTBEAT");
    case MessageType::kDrain: out->emplace<DrainMsg>(); return DecodeEmptyBody(r, "DRAIN");
    case MessageType::kReject: return DecodeInto<RejectMsg>(r, out);
    case MessageType::kResult: return DecodeInto<ResultMsg>(r, out);
    case MessageType::kAck: return DecodeInto<AckMsg>(r, out);
  }
  return r.Fail(DecodeErrorReason::kUnknownType,
                "unknown message type " + std::to_string(static_cast<uint32_t>(type)));
}

bool IsKnownType(uint64_t t) {
  switch (static_cast<MessageType>(t)) {
    case MessageType::kHello: case MessageType::kCredit: case MessageType::kHeartbeat:
    case MessageType::kDone: case MessageType::kBye: case MessageType::kTask:
    case MessageType::kCancel: case MessageType::kBrokerHeartbeat: case MessageType::kDrain:
    case MessageType::kReject: case MessageType::kResult: case MessageType::kAck:
      return t <= std::numeric_limits<uint32_t>::max();
  }
  return false;
}

Status DecodeFailure(DecodeErrorReason reason, const std::string& message) {
  std::string text(DecodeErrorReasonName(reason));
  text += ": ";
  text += message;
  return Status(StatusCode::kInvalidMessage, std::move(text), static_cast<int32_t>(reason));
}

Result<Message> DecodeFrame(std::string_view frame, const CodecLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return DecodeFailure(DecodeErrorReason::kTooLarge,
                         "frame of " + std::to_string(frame.size()) +
                             " bytes exceeds max_frame_bytes " +
                             std::to_string(limits.max_frame_bytes));
  }
  Reader r(frame, limits);
  Message message;
  const auto fail = [&r]() { return DecodeFailure(r.reason(), r.error()); };

  const Kind first = r.PeekKind();  // records "truncated" for an empty frame
  if (r.reason() == DecodeErrorReason::kNone && first != Kind::kArray) {
    r.Fail(DecodeErrorReason::kMalformed,
           "frame is not a msgpack array (starts with " + std::string(KindName(first)) + ")");
  }
  uint32_t n;
  if (r.reason() != DecodeErrorReason::kNone || !r.ReadArrayHeader(1, &n, "frame")) {
    return fail();
  }
  if (n != 3) {
    r.Fail(DecodeErrorReason::kMalformed,
           "frame must be [version, type, body], got an array of " + std::to_string(n));
    return fail();
  }
  uint64_t version, type;
  if (!r.ReadUint64(&version, "protocol version")) return fail();
  if (version != kProtocolVersion) {
    r.Fail(DecodeErrorReason::kBadVersion, "protocol version: expected " +
                                               std::to_string(kProtocolVersion) + ", got " +
                                               std::to_string(version));
    return fail();
  }
  if (!r.ReadUint64(&type, "message type")) return fail();
  if (!IsKnownType(type)) {
    r.Fail(DecodeErrorReason::kUnknownType, "unknown message type " + std::to_string(type));
    return fail();
  }
  if (!DecodeTyped(r, static_cast<MessageType>(type), &message)) return fail();
  if (!r.at_end()) {
    r.Fail(DecodeErrorReason::kMalformed,
           std::to_string(r.remaining()) + " trailing bytes after the frame");
    return fail();
  }
  return message;
}

}  // namespace

std::string_view DecodeErrorReasonName(DecodeErrorReason reason) {
  switch (reason) {
    case DecodeErrorReason::kNone: return "none";
    case DecodeErrorReason::kTooLarge: return "too_large";
    case DecodeErrorReason::kBadVersion: return "bad_version";
    case DecodeErrorReason::kUnknownType: return "unknown_type";
    case DecodeErrorReason::kMalformed: return "malformed";
    case DecodeErrorReason::kLimits: return "limits";
    case DecodeErrorReason::kBadField: return "bad_field";
  }
  return "unknown";
}

DecodeErrorReason DecodeReasonOf(const Status& status) {
  if (status.code() != StatusCode::kInvalidMessage) return DecodeErrorReason::kNone;
  const int32_t sub = status.subcode();
  if (sub < static_cast<int32_t>(DecodeErrorReason::kTooLarge) ||
      sub > static_cast<int32_t>(DecodeErrorReason::kBadField)) {
    return DecodeErrorReason::kNone;
  }
  return static_cast<DecodeErrorReason>(sub);
}

void EncodeMessage(const Message& message, std::string* out) {
  out->clear();
  Encoder enc(out);
  enc.FrameHeader(TypeOf(message));
  std::visit([&enc](const auto& m) { enc.Body(m); }, message);
}

std::string EncodeMessage(const Message& message) {
  std::string out;
  EncodeMessage(message, &out);
  return out;
}

void EncodeResults(std::span<const TaskResult* const> results, std::string_view worker_id,
                   std::string* out) {
  out->clear();
  Encoder enc(out);
  enc.FrameHeader(MessageType::kResult);
  enc.ResultsBody(results, [](const TaskResult* r) -> const TaskResult& { return *r; },
                  worker_id);
}

Result<Message> DecodeMessage(std::string_view frame, const CodecLimits& limits) {
  try {
    return DecodeFrame(frame, limits);
  } catch (const std::bad_alloc&) {
    // Only the decoded message's own strings and vectors are allocated, each bounded by
    // the frame; this is reached only when the process is already out of memory.
    return DecodeFailure(DecodeErrorReason::kLimits,
                         "out of memory decoding a frame of " + std::to_string(frame.size()) +
                             " bytes");
  }
}

}  // namespace btrq
