// common/crc32c.h
// CRC32C (Castagnoli, iSCSI polynomial) via ISA-L's crc32_iscsi, with the standard conventions:
// crc32c("123456789") == 0xE3069283. Extend incrementally: crc32c(b, crc32c(a)) == crc32c(a + b).
#pragma once

#include <cstdint>
#include <span>

namespace splitarray {

uint32_t crc32c(std::span<const uint8_t> data, uint32_t previous = 0);

}  // namespace splitarray
