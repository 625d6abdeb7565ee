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

std::optional<std::string_view> Reader::IntactAt(uint64_t at) const {
  if (at > data_.size() || data_.size() - at < kHeaderBytes) return std::nullopt;
  const uint32_t len = DecodeFixed32(data_.data() + at);
  if (len > options_.max_record_bytes || data_.size() - at - kHeaderBytes < len) {
    return std::nullopt;
  }
  const std::string_view body = data_.substr(at + kHeaderBytes, len);
  if (Crc32c(body) != DecodeFixed32(data_.data() + at + 4)) return std::nullopt;
  return body;
}

std::optional<uint64_t> Reader::Resync(uint64_t hint) const {
  const auto starts_record = [this](uint64_t at) {
    const std::optional<std::string_view> body = IntactAt(at);
    return body.has_value() && !body->empty();
  };
  if (starts_record(hint)) return hint;
  // A damaged length says nothing about where the next record is: try every byte. Each
  // try costs a CRC only when the length read there fits, so zeros and garbage are cheap.
  for (uint64_t at = offset_ + 1; at + kHeaderBytes <= data_.size(); ++at) {
    if (starts_record(at)) return at;
  }
  return std::nullopt;
}

bool Reader::Next(std::string_view* payload) {
  if (offset_ == data_.size()) {
    end_ = {EndKind::kClean, offset_, offset_};
    return false;
  }
  const std::string_view rest = data_.substr(offset_);
  if (options_.zero_tail_is_torn &&
      std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) {
    end_ = {EndKind::kTornTail, offset_, data_.size()};
    return false;
  }
  if (const std::optional<std::string_view> body = IntactAt(offset_)) {
    *payload = *body;
    offset_ += kHeaderBytes + body->size();
    return true;
  }
  // Damaged. Only what follows tells a crash's torn tail from corruption in the middle,
  // whatever part of the record (length, CRC, payload) is wrong.
  uint64_t hint = data_.size();
  if (rest.size() >= kHeaderBytes) {
    const uint32_t len = DecodeFixed32(rest.data());
    if (len <= options_.max_record_bytes && rest.size() - kHeaderBytes >= len) {
      hint = offset_ + kHeaderBytes + len;
    }
  }
  if (const std::optional<uint64_t> next = Resync(hint)) {
    end_ = {EndKind::kCorrupt, offset_, *next};
  } else {
    end_ = {EndKind::kTornTail, offset_, data_.size()};
  }
  return false;
}

void Reader::SkipCorrupt() {
  if (end_.kind == EndKind::kCorrupt) offset_ = end_.next;
}

uint64_t Reader::CountIntactAfterCorrupt() {
  uint64_t n = 0;
  std::string_view payload;
  while (end_.kind == EndKind::kCorrupt) {
    SkipCorrupt();
    while (Next(&payload)) ++n;
  }
  return n;
}

}  // namespace btrq::record_log
