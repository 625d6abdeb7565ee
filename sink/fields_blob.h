#pragma once

// The compact binary form of a result's Fields, as the result store keeps them in its
// `fields` column. Stored on disk: do not change without a new format byte.
//
// A format byte (1), a varint count, then per field a varint-length name, a tag byte
// (0 int64 zigzag varint, 1 double as 8 bytes little-endian, 2 varint-length string).

#include <string>
#include <string_view>

#include "common/messages.h"
#include "common/status.h"

namespace btrq::sink {

std::string EncodeFields(const Fields& fields);
// EncodeFields into `*out`, replacing its content (lets a caller reuse one buffer).
void EncodeFieldsTo(const Fields& fields, std::string* out);
// kInternal ("corrupt fields blob: ...") for anything EncodeFields cannot have written.
Result<Fields> DecodeFields(std::string_view blob);

}  // namespace btrq::sink
