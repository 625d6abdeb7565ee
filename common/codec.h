#pragma once

// The wire codec: Message <-> one msgpack frame [protocol_version, type, body_map].
// Keys, types and rules are in docs/protocol.md and the table atop codec.cc. This header
// exposes no msgpack types; codec.cc is the only file that includes msgpack.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/limits.h"
#include "common/messages.h"
#include "common/status.h"

namespace btrq {

// Bounds applied while decoding a peer's frame. Every announced length or count is also
// checked against the bytes left in the frame before anything is allocated, so a frame
// of N bytes never costs more than the decoded message itself (itself bounded by N).
struct CodecLimits {
  // A longer frame is rejected before any parsing ("too_large").
  size_t max_frame_bytes = limits::kMaxFrameBytes;  // 16 MiB
  // Nesting of arrays and maps, the frame array counting as 1. Our messages need 5;
  // values deeper than this (in unknown keys too) are rejected. Clamped to 64.
  uint32_t max_depth = 8;
  // Longest str and bin payloads.
  uint32_t max_str = limits::kMaxStrBytes;  // 1 MiB
  uint32_t max_bin = limits::kMaxBinBytes;  // 1 MiB
  // Most elements in one array, and most key/value pairs in one map.
  uint32_t max_array = limits::kMaxArrayElements;
  uint32_t max_map = limits::kMaxMapPairs;
  // Largest ext payload; 0 rejects every ext value (we define none).
  uint32_t max_ext = 0;
};

// Why a frame was rejected: a short, stable label for metrics
// (btrq_bad_messages_total{reason}).
enum class DecodeErrorReason : int32_t {
  kNone = 0,
  kTooLarge = 1,     // "too_large": over max_frame_bytes
  kBadVersion = 2,   // "bad_version": protocol_version is not kProtocolVersion
  kUnknownType = 3,  // "unknown_type": no such MessageType
  kMalformed = 4,    // "malformed": not msgpack, truncated, trailing bytes, wrong shape
  kLimits = 5,       // "limits": a CodecLimits bound (depth, str, bin, array, map, ext)
  kBadField = 6,     // "bad_field": a missing, duplicate or wrongly typed body key
};

std::string_view DecodeErrorReasonName(DecodeErrorReason reason);

// The reason carried by a Status that DecodeMessage returned (its subcode); kNone for OK
// and for statuses from elsewhere.
DecodeErrorReason DecodeReasonOf(const Status& status);

// Encodes `message` into `*out`, replacing its contents (its capacity is reused, so a
// long-lived buffer makes encoding allocation-free in the steady state). Never fails.
void EncodeMessage(const Message& message, std::string* out);
std::string EncodeMessage(const Message& message);
// The bytes of EncodeMessage(ResultMsg{copies of *results...}) with every result's
// worker_id replaced by `worker_id`, without the copies.
void EncodeResults(std::span<const TaskResult* const> results, std::string_view worker_id,
                   std::string* out);

// Decodes one frame. Anything malformed or over `limits` yields Status::InvalidMessage
// whose message starts with the reason's name and whose subcode is the DecodeErrorReason;
// never throws, whatever the peer sent. Unknown body keys are skipped (within limits).
Result<Message> DecodeMessage(std::string_view frame, const CodecLimits& limits = CodecLimits());

// An upper bound on the bytes one task adds to a TASK frame, and the frame's own bytes
// besides its tasks, so a sender can keep its frames under a peer's max_frame_bytes.
size_t TaskEncodedBytesBound(const TaskSpec& task);
inline constexpr size_t kTaskFrameOverheadBytes = 32;

// A TASK frame that DecodeMessage refused, split into the tasks that do decode within
// `limits` (all but max_frame_bytes) and, for each that does not, its key and attempt
// (read with every size limit raised to the frame's length) and why. `lost` counts tasks
// whose key could not be read either. InvalidMessage when the frame is not a TASK frame
// or its task list cannot be walked; never throws.
struct SalvagedTasks {
  TaskMsg tasks;
  std::vector<RefuseItem> refused;
  size_t lost = 0;
};
Result<SalvagedTasks> SalvageTaskFrame(std::string_view frame,
                                       const CodecLimits& limits = CodecLimits());

}  // namespace btrq
