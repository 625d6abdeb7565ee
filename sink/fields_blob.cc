#include "sink/fields_blob.h"

#include <cstdint>
#include <utility>

#include "common/coding.h"

namespace btrq::sink {
namespace {

constexpr uint8_t kFieldsFormat = 1;
// Stored on disk: do not renumber.
enum FieldTag : uint8_t { kTagInt = 0, kTagDouble = 1, kTagString = 2 };

}  // namespace

void EncodeFieldsTo(const Fields& fields, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kFieldsFormat));
  PutVarint64(out, fields.size());
  for (const auto& [name, value] : fields) {
    PutLengthPrefixed(out, name);
    if (const auto* i = std::get_if<int64_t>(&value)) {
      out->push_back(static_cast<char>(kTagInt));
      PutVarsint64(out, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      out->push_back(static_cast<char>(kTagDouble));
      PutDouble(out, *d);
    } else {
      out->push_back(static_cast<char>(kTagString));
      PutLengthPrefixed(out, std::get<std::string>(value));
    }
  }
}

std::string EncodeFields(const Fields& fields) {
  std::string out;
  EncodeFieldsTo(fields, &out);
  return out;
}

Result<Fields> DecodeFields(std::string_view in) {
  const auto corrupt = [](const char* what) {
    return Status::Internal(std::string("corrupt fields blob: ") + what);
  };
  if (in.empty() || static_cast<uint8_t>(in.front()) != kFieldsFormat) {
    return corrupt("unknown format");
  }
  in.remove_prefix(1);
  uint64_t count = 0;
  // Every field takes at least 3 bytes, which bounds the reservation.
  if (!GetVarint64(&in, &count) || count > in.size() / 3) return corrupt("bad count");
  Fields fields;
  fields.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    if (!GetLengthPrefixed(&in, &name) || in.empty()) return corrupt("truncated name");
    const auto tag = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    switch (tag) {
      case kTagInt: {
        int64_t v = 0;
        if (!GetVarsint64(&in, &v)) return corrupt("truncated int");
        fields.emplace_back(std::string(name), v);
        break;
      }
      case kTagDouble: {
        double d = 0;
        if (!GetDouble(&in, &d)) return corrupt("truncated double");
        fields.emplace_back(std::string(name), d);
        break;
      }
      case kTagString: {
        std::string_view s;
        if (!GetLengthPrefixed(&in, &s)) return corrupt("truncated string");
        fields.emplace_back(std::string(name), std::string(s));
        break;
      }
      default:
        return corrupt("unknown tag");
    }
  }
  if (!in.empty()) return corrupt("trailing bytes");
  return fields;
}

}  // namespace btrq::sink
