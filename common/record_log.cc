#include "common/record_log.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"

namespace btrq::record_log {

void AppendRecord(std::string* out, std::string_view payload) {
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  PutFixed32(out, Crc32c(payload));
  out->append(payload);
}

Reader::Reader(std::string_view data, ReaderOptions options) : data_(data), options_(options) {}

bool Reader::Next(std::string_view* payload) {
  if (offset_ == data_.size()) {
    end_ = {EndKind::kClean, offset_, offset_};
    return false;
  }
  const std::string_view rest = data_.substr(offset_);
  const auto torn = [this] {
    end_ = {EndKind::kTornTail, offset_, data_.size()};
    return false;
  };
  if (options_.zero_tail_is_torn &&
      std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) {
    return torn();
  }
  if (rest.size() < kHeaderBytes) return torn();
  const uint32_t len = DecodeFixed32(rest.data());
  const uint32_t crc = DecodeFixed32(rest.data() + 4);
  // A length past the end (or absurd) is what a header half-written by a crash looks
  // like, wherever it is: the bytes after it cannot be framed anyway.
  if (len > options_.max_record_bytes || rest.size() - kHeaderBytes < len) return torn();
  const std::string_view body = rest.substr(kHeaderBytes, len);
  const uint64_t next = offset_ + kHeaderBytes + len;
  if (Crc32c(body) != crc) {
    if (next == data_.size()) return torn();  // the last record: a write cut short
    end_ = {EndKind::kCorrupt, offset_, next};
    return false;
  }
  *payload = body;
  offset_ = next;
  return true;
}

void Reader::SkipCorrupt() {
  if (end_.kind == EndKind::kCorrupt) offset_ = end_.next;
}

}  // namespace btrq::record_log
