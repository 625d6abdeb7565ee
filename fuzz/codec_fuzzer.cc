// libFuzzer target for the wire codec: DecodeMessage on arbitrary bytes, with the default
// limits and with tight ones. Properties checked beyond "no crash, leak or UB":
//   - a rejected frame yields InvalidMessage carrying a DecodeErrorReason;
//   - a decoded message re-encodes to a frame that decodes under the same limits (the
//     frame-size limit aside: the canonical encoding may be longer than the input), and
//     that second decode re-encodes to the same bytes (decode(encode(m)) == m, compared by
//     the encoding, which covers every field).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "common/codec.h"

namespace btrq {
namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "codec_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

CodecLimits TightLimits() {
  CodecLimits limits;
  limits.max_frame_bytes = 4096;
  limits.max_depth = 5;  // what our messages need
  limits.max_str = 64;
  limits.max_bin = 32;
  limits.max_array = 16;
  limits.max_map = 16;
  limits.max_ext = 0;
  return limits;
}

void CheckFrame(std::string_view frame, const CodecLimits& limits) {
  Result<Message> decoded = DecodeMessage(frame, limits);
  if (!decoded.ok()) {
    if (decoded.status().code() != StatusCode::kInvalidMessage ||
        DecodeReasonOf(decoded.status()) == DecodeErrorReason::kNone) {
      Fail("rejection without a reason", decoded.status().ToString());
    }
    return;
  }
  const std::string once = EncodeMessage(*decoded);
  CodecLimits relaxed = limits;
  relaxed.max_frame_bytes = std::numeric_limits<size_t>::max();
  Result<Message> again = DecodeMessage(once, relaxed);
  if (!again.ok()) Fail("re-encoded frame does not decode", again.status().ToString());
  if (TypeOf(*again) != TypeOf(*decoded)) Fail("type changed", "");
  if (EncodeMessage(*again) != once) Fail("round trip changed the message", "");
}

}  // namespace
}  // namespace btrq

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  static const btrq::CodecLimits kDefault;
  static const btrq::CodecLimits kTight = btrq::TightLimits();
  btrq::CheckFrame(frame, kDefault);
  btrq::CheckFrame(frame, kTight);
  return 0;
}
