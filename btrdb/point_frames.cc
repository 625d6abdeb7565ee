#include "btrdb/point_frames.h"

#include <bit>
#include <cstring>
#include <type_traits>
#include <vector>

#include <grpcpp/support/slice.h>

namespace btrq::btrdb {
namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Protobuf's fixed-width fields are little-endian (this compiles to one load on x86).
uint64_t LoadLittle64(const uint8_t* p) {
  uint64_t v;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof(v));
  } else {
    v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  }
  return v;
}

// Groups nest; protobuf bounds recursion at 100, and so do we.
constexpr int kMaxGroupDepth = 100;

// A bounds-checked cursor over protobuf wire bytes. Every read returns false on
// truncation or an over-long varint, leaving the cursor unspecified.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // Takes the run of `values` fields ahead that are in the encoding every server
  // produces for a point with a non-zero time and value: tag 0x22, length 18, then
  // time (tag 0x09) and value (tag 0x11), 8 bytes each. The general path reads the rest.
  void TakeCanonicalRawPoints(std::vector<RawPoint>* out) {
    constexpr ptrdiff_t kSize = 20;
    while (end_ - p_ >= kSize && p_[0] == 0x22 && p_[1] == 0x12 && p_[2] == 0x09 &&
           p_[11] == 0x11) {
      out->push_back(RawPoint{static_cast<int64_t>(LoadLittle64(p_ + 3)),
                              std::bit_cast<double>(LoadLittle64(p_ + 12))});
      p_ += kSize;
    }
  }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t byte = *p_++;
      result |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;  // an 11th byte: not a varint
  }

  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    *v = LoadLittle64(p_);
    p_ += 8;
    return true;
  }

  // A length-delimited payload.
  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }

  // A tag is a varint of at most 5 bytes whose value protobuf truncates to 32 bits.
  bool Tag(uint32_t* field, uint32_t* wire_type) {
    uint32_t tag = 0;
    for (int i = 0;; ++i) {
      if (i == 5 || p_ == end_) return false;
      const uint8_t byte = *p_++;
      tag |= static_cast<uint32_t>(byte & 0x7fu) << (7 * i);
      if ((byte & 0x80) == 0) break;
    }
    *field = tag >> 3;
    *wire_type = tag & 7;
    return *field != 0;
  }

  // Skips one field's value of `wire_type` (whose tag was just read for `field`).
  bool Skip(uint32_t field, uint32_t wire_type, int depth = 0) {
    uint64_t ignored;
    std::string_view bytes;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed64(&ignored);
      case kLengthDelimited:
        return Bytes(&bytes);
      case kFixed32:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return false;
        for (;;) {
          uint32_t f, w;
          if (!Tag(&f, &w)) return false;
          if (w == kEndGroup) return f == field;
          if (!Skip(f, w, depth + 1)) return false;
        }
      }
      default:
        return false;  // a stray end-group, or wire types 6 and 7
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

double AsDouble(uint64_t bits) { return std::bit_cast<double>(bits); }

// Status{code=1 uint32, msg=2 string, mash=3}: merged into the frame's stat, as protobuf
// merges a repeated occurrence of an embedded message.
bool DecodeStat(std::string_view wire, uint32_t* code, std::string* msg) {
  WireReader r(wire);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return false;
    if (field == 1 && wire_type == kVarint) {
      uint64_t v;
      if (!r.Varint(&v)) return false;
      *code = static_cast<uint32_t>(v);  // uint32 keeps the low 32 bits
    } else if (field == 2 && wire_type == kLengthDelimited) {
      std::string_view s;
      if (!r.Bytes(&s)) return false;
      msg->assign(s);
    } else if (!r.Skip(field, wire_type)) {
      return false;
    }
  }
  return true;
}

// RawPoint{time=1 sfixed64, value=2 double}.
bool DecodePoint(std::string_view wire, RawPoint* p) {
  *p = RawPoint{};
  WireReader r(wire);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return false;
    if ((field == 1 || field == 2) && wire_type == kFixed64) {
      uint64_t v;
      if (!r.Fixed64(&v)) return false;
      if (field == 1) {
        p->time = static_cast<int64_t>(v);
      } else {
        p->value = AsDouble(v);
      }
    } else if (!r.Skip(field, wire_type)) {
      return false;
    }
  }
  return true;
}

// StatPoint{time=1 sfixed64, min=2, mean=3, max=4 double, count=5 fixed64, stddev=6 double}.
bool DecodePoint(std::string_view wire, StatPoint* p) {
  *p = StatPoint{};
  WireReader r(wire);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return false;
    if (field >= 1 && field <= 6 && wire_type == kFixed64) {
      uint64_t v;
      if (!r.Fixed64(&v)) return false;
      switch (field) {
        case 1: p->time = static_cast<int64_t>(v); break;
        case 2: p->min = AsDouble(v); break;
        case 3: p->mean = AsDouble(v); break;
        case 4: p->max = AsDouble(v); break;
        case 5: p->count = v; break;
        case 6: p->stddev = AsDouble(v); break;
      }
    } else if (!r.Skip(field, wire_type)) {
      return false;
    }
  }
  return true;
}

// {stat=1 Status, versionMajor=2 uint64, versionMinor=3 uint64, values=4 repeated point}:
// the same layout for all three responses.
template <typename Point>
Status Decode(std::string_view wire, PointFrame<Point>* out) {
  out->has_stat = false;
  out->stat_code = 0;
  out->stat_msg.clear();
  out->version_major = 0;
  out->version_minor = 0;
  out->values.clear();
  out->wire_bytes = wire.size();
  const auto malformed = [] {
    return Status::InvalidMessage("malformed point response from BTrDB");
  };
  WireReader r(wire);
  while (!r.done()) {
    if constexpr (std::is_same_v<Point, RawPoint>) {
      r.TakeCanonicalRawPoints(&out->values);
      if (r.done()) break;
    }
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return malformed();
    if (field == 4 && wire_type == kLengthDelimited) {
      std::string_view point;
      if (!r.Bytes(&point) || !DecodePoint(point, &out->values.emplace_back())) {
        return malformed();
      }
    } else if ((field == 2 || field == 3) && wire_type == kVarint) {
      uint64_t v;
      if (!r.Varint(&v)) return malformed();
      (field == 2 ? out->version_major : out->version_minor) = v;
    } else if (field == 1 && wire_type == kLengthDelimited) {
      std::string_view stat;
      if (!r.Bytes(&stat) || !DecodeStat(stat, &out->stat_code, &out->stat_msg)) {
        return malformed();
      }
      out->has_stat = true;
    } else if (!r.Skip(field, wire_type)) {
      return malformed();
    }
  }
  return Status::OK();
}

}  // namespace

Status DecodeFrame(std::string_view wire, RawFrame* out) { return Decode(wire, out); }
Status DecodeFrame(std::string_view wire, StatFrame* out) { return Decode(wire, out); }

template <typename Point>
grpc::Status DecodeFrameBuffer(grpc::ByteBuffer* buffer, std::string* scratch,
                               PointFrame<Point>* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "unreadable BTrDB response buffer");
  }
  std::string_view wire;
  if (slices.size() == 1) {
    wire = std::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size());
  } else {
    scratch->clear();
    for (const grpc::Slice& s : slices) {
      scratch->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    wire = *scratch;
  }
  const Status decoded = DecodeFrame(wire, out);
  buffer->Clear();
  if (!decoded.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, decoded.message());
  return grpc::Status::OK;
}

template grpc::Status DecodeFrameBuffer(grpc::ByteBuffer*, std::string*, RawFrame*);
template grpc::Status DecodeFrameBuffer(grpc::ByteBuffer*, std::string*, StatFrame*);

}  // namespace btrq::btrdb
