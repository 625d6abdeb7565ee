#include "common/number_format.h"

#include <charconv>

namespace btrq {

void AppendDouble(std::string* out, double v) {
  // 32 bytes hold any double's shortest form (at most 24 characters), so to_chars
  // cannot fail here.
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

std::string FormatDouble(double v) {
  std::string out;
  AppendDouble(&out, v);
  return out;
}

}  // namespace btrq
