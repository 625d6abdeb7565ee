#pragma once

// The framing shared by the broker's journal and btrdb-lite's write-ahead log: a file is
// a sequence of records [u32 length][u32 crc32c(payload)][payload], little-endian, the
// CRC unmasked (leveldb's log format without blocks). What the payloads mean, and what to
// do with a damaged end, is the caller's business; how the end of a log is classified
// lives here only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace btrq::record_log {

inline constexpr size_t kHeaderBytes = 8;

// Appends `payload` as one record to `*out`.
void AppendRecord(std::string* out, std::string_view payload);

// How the records of a log end. A record is intact when its header fits, its length is
// within the limit and the data, and its CRC matches. A damaged record is a torn tail
// when no intact, non-empty record starts anywhere after it (a write cut short by a
// crash leaves nothing valid behind it), and corruption when one does.
enum class EndKind {
  kClean,     // the last record ends the data
  kTornTail,  // damage with nothing intact after it (or only zeros, see below)
  kCorrupt,   // damage followed by intact records
};

struct LogEnd {
  EndKind kind = EndKind::kClean;
  uint64_t offset = 0;  // where the damaged record starts (the data's size when kClean)
  uint64_t next = 0;    // kCorrupt: where the first intact record after it starts
};

struct ReaderOptions {
  // A length above this is unreadable (a damaged header, not a giant record).
  uint32_t max_record_bytes = uint32_t{1} << 30;
  // When set, a tail of zero bytes (a file extended but never written: a crash after
  // the size was updated) is a torn tail; when not, it reads as empty records, since a
  // zero header is a valid empty record. Either way, looking for intact records after a
  // damaged one skips empty ones: they cannot be told from zero fill.
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
  // After a kCorrupt end: steps over the damage, so Next continues at end().next.
  void SkipCorrupt();
  // After a kCorrupt end: how many intact records follow the damage (stepping over any
  // further damage), for the error that names it. Reads to the end.
  uint64_t CountIntactAfterCorrupt();

 private:
  // The payload of the intact record at `at`, if one starts there.
  std::optional<std::string_view> IntactAt(uint64_t at) const;
  // Where the first intact non-empty record after the damaged one at offset_ starts:
  // `hint` (the damaged record's own length, when believable) is tried first.
  std::optional<uint64_t> Resync(uint64_t hint) const;

  const std::string_view data_;
  const ReaderOptions options_;
  uint64_t offset_ = 0;
  LogEnd end_;
};

}  // namespace btrq::record_log
