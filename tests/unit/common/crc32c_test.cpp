#include <doctest/doctest.h>

#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "common/prng.h"

namespace splitarray {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_CASE("common/crc32c: standard check values") {
  CHECK(crc32c(bytes("123456789")) == 0xE3069283u);
  CHECK(crc32c(bytes("")) == 0u);
  // RFC 3720 B.4: 32 bytes of zeros and of 0xFF.
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF);
  CHECK(crc32c(zeros) == 0x8A9136AAu);
  CHECK(crc32c(ones) == 0x62A8AB43u);
}

TEST_CASE("common/crc32c: chaining equals one pass, and one flipped bit changes it") {
  Prng rng(3);
  std::vector<uint8_t> data(10000);
  rng.fill(data);
  const uint32_t whole = crc32c(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{4095}, size_t{9999}, size_t{10000}}) {
    const uint32_t first = crc32c(std::span<const uint8_t>(data).first(split));
    CHECK(crc32c(std::span<const uint8_t>(data).subspan(split), first) == whole);
  }
  data[5000] ^= 0x10;
  CHECK(crc32c(data) != whole);
}

}  // namespace
}  // namespace splitarray
