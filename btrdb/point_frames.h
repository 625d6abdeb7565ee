#pragma once

// The three point-streaming responses (RawValuesResponse, AlignedWindowsResponse,
// WindowsResponse) decoded straight from their wire bytes into btrq's point structs.
//
// Why: a RawValues call moves ~20 bytes per point; parsing them into generated protobuf
// objects (one RawPoint message per point) and copying those into RawPoints cost a worker
// about a third of its CPU in a scan. These frames are filled in one pass with no
// allocation once their vectors have grown, and they know their exact wire size (the
// btrq_btrdb_received_bytes_total metric) without re-encoding anything.
//
// The decoder follows proto3's parsing rules, so any conforming server works: fields in
// any order, absent fields are zero (proto3 omits zeros), a repeated scalar field keeps
// its last value, embedded `stat` messages merge, unknown fields of every wire type are
// skipped, and a known field with an unexpected wire type is skipped as unknown. Bytes
// that are not a valid protobuf encoding are an error (INTERNAL, as gRPC reports a
// protobuf parse failure).
//
// Internal to btrdb/: client.cc reads with it; tests pin it against the generated parser.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/status.h>

#include "btrdb/client.h"
#include "common/status.h"

namespace btrq::btrdb {

// Everything of one response message that btrq uses. Decoding replaces all of it.
template <typename Point>
struct PointFrame {
  bool has_stat = false;
  uint32_t stat_code = 0;
  std::string stat_msg;
  uint64_t version_major = 0;
  uint64_t version_minor = 0;
  std::vector<Point> values;  // keeps its capacity across messages
  size_t wire_bytes = 0;      // the encoded message's size
};

using RawFrame = PointFrame<RawPoint>;
using StatFrame = PointFrame<StatPoint>;

// Decodes one encoded response into `out`. InvalidMessage when `wire` is not a valid
// protobuf encoding of the message.
Status DecodeFrame(std::string_view wire, RawFrame* out);
Status DecodeFrame(std::string_view wire, StatFrame* out);

// Decodes a gRPC ByteBuffer (copying it only when it spans several slices; `scratch`
// holds that copy and is reused) and releases the buffer.
template <typename Point>
grpc::Status DecodeFrameBuffer(grpc::ByteBuffer* buffer, std::string* scratch,
                               PointFrame<Point>* out);

}  // namespace btrq::btrdb

namespace grpc {

// Lets grpc::ClientReader<PointFrame<P>> receive frames (the client only receives them).
template <typename Point>
class SerializationTraits<btrq::btrdb::PointFrame<Point>, void> {
 public:
  static grpc::Status Deserialize(ByteBuffer* buffer, btrq::btrdb::PointFrame<Point>* frame) {
    thread_local std::string scratch;
    return btrq::btrdb::DecodeFrameBuffer(buffer, &scratch, frame);
  }
};

}  // namespace grpc
