#pragma once

// CRC-32C (Castagnoli), as used by iSCSI, ext4 and leveldb; checksums the records of the
// broker's journal and btrdb-lite's log and snapshots. Unmasked: stored as computed.

#include <cstdint>
#include <string_view>

namespace btrq {

// Extends `crc` (the CRC of earlier bytes, 0 for none) over `data`.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

}  // namespace btrq
