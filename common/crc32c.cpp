#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <limits>

#include "common/assert.h"

namespace splitarray {

uint32_t crc32c(std::span<const uint8_t> data, uint32_t previous) {
  ASSERT(data.size() <= std::numeric_limits<int>::max());
  // ISA-L's crc32_iscsi neither pre- nor post-inverts; do both here so the result is the
  // standard CRC32C and chaining works by passing the previous result back in.
  const uint32_t raw = crc32_iscsi(const_cast<unsigned char*>(data.data()),
                                   static_cast<int>(data.size()), ~previous);
  return ~raw;
}

}  // namespace splitarray
