#pragma once

// CRC-32C (Castagnoli), as used by leveldb and ext4, for checksumming log records and
// snapshots. Software table-driven implementation (slicing-by-8).

#include <cstddef>
#include <cstdint>

namespace btrq::lite {

// Returns the CRC-32C of data[0, n) continuing from `crc` (0 for a fresh checksum).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace btrq::lite
