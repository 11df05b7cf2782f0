#include <doctest/doctest.h>

#include <array>

#include "common/endian.h"

namespace splitarray {
namespace {

TEST_CASE("common/endian: little-endian layout and round trip") {
  std::array<uint8_t, 16> buf{};
  put_u32(buf, 0, 0x11223344u);
  CHECK(buf[0] == 0x44);
  CHECK(buf[3] == 0x11);
  put_u64(buf, 4, 0x0102030405060708ull);
  CHECK(buf[4] == 0x08);
  CHECK(buf[11] == 0x01);
  put_u16(buf, 12, 0xBEEF);
  CHECK(get_u32(buf, 0) == 0x11223344u);
  CHECK(get_u64(buf, 4) == 0x0102030405060708ull);
  CHECK(get_u16(buf, 12) == 0xBEEF);
  put_u64(buf, 8, UINT64_MAX);
  CHECK(get_u64(buf, 8) == UINT64_MAX);
}

}  // namespace
}  // namespace splitarray
