#pragma once

// The framing shared by the broker's journal and btrdb-lite's write-ahead log: a file is
// a sequence of records [u32 length][u32 crc32c(payload)][payload], little-endian, the
// CRC unmasked (leveldb's log format without blocks). What the payloads mean, and what to
// do with a damaged end, is the caller's business; how the end of a log is classified
// lives here only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace btrq::record_log {

inline constexpr size_t kHeaderBytes = 8;

// Appends `payload` as one record to `*out`.
void AppendRecord(std::string* out, std::string_view payload);

// How the records of a log end.
enum class EndKind {
  kClean,     // the last record ends the data
  kTornTail,  // an incomplete or unreadable last record: a write cut short by a crash
  kCorrupt,   // a record failing its checksum, followed by more data
};

struct LogEnd {
  EndKind kind = EndKind::kClean;
  uint64_t offset = 0;  // where the bad record starts (the data's size when kClean)
  uint64_t next = 0;    // kCorrupt: where the record after it starts
};

struct ReaderOptions {
  // A length above this is unreadable (a torn header, not a giant record).
  uint32_t max_record_bytes = uint32_t{1} << 30;
  // When set, a tail of zero bytes (a file extended but never written: a crash after
  // the size was updated) is a torn tail; when not, it reads as empty records, since a
  // zero header is a valid empty record.
  bool zero_tail_is_torn = false;
};

// Reads the records of a log held in memory, in order. Not thread-safe.
class Reader {
 public:
  // `data` must outlive the reader.
  explicit Reader(std::string_view data, ReaderOptions options = {});

  // The next intact record; false once there is none, when end() says why.
  bool Next(std::string_view* payload);
  // Where the next record starts (after the last one Next returned or skipped).
  uint64_t offset() const { return offset_; }
  // Valid once Next returned false.
  const LogEnd& end() const { return end_; }
  // After a kCorrupt end: steps over the bad record, so Next continues after it.
  void SkipCorrupt();

 private:
  const std::string_view data_;
  const ReaderOptions options_;
  uint64_t offset_ = 0;
  LogEnd end_;
};

}  // namespace btrq::record_log
