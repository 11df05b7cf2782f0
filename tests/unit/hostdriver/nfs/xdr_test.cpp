// tests/unit/hostdriver/nfs/xdr_test.cpp
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs {

TEST_CASE("hostdriver/nfs/xdr: every item round-trips with 4-byte alignment") {
  XdrEncoder out;
  out.u32(0xDEADBEEF);
  out.u64(0x0123456789ABCDEFull);
  out.boolean(true);
  out.string("abcde");  // 4 + 5 + 3 padding
  const std::vector<uint8_t> blob = {1, 2, 3};
  out.opaque(blob);
  const uint8_t fixed[6] = {9, 8, 7, 6, 5, 4};
  out.fixed(fixed);
  out.i32(-7);
  CHECK(out.size() == 4 + 8 + 4 + 12 + 8 + 8 + 4);

  const std::vector<uint8_t> bytes = out.take();
  XdrDecoder in(bytes);
  CHECK(in.u32() == 0xDEADBEEF);
  CHECK(in.u64() == 0x0123456789ABCDEFull);
  CHECK(in.boolean());
  CHECK(in.string(16) == "abcde");
  CHECK(in.opaque(3) == blob);
  uint8_t back[6] = {};
  in.fixed(back);
  CHECK(std::vector<uint8_t>(back, back + 6) == std::vector<uint8_t>(fixed, fixed + 6));
  CHECK(in.i32() == -7);
  CHECK(in.ok());
  CHECK(in.at_end());
}

TEST_CASE("hostdriver/nfs/xdr: lengths beyond the limit or the input fail for good") {
  XdrEncoder out;
  out.string("toolong");
  out.u32(5);
  const std::vector<uint8_t> bytes = out.take();

  XdrDecoder limited(bytes);
  CHECK(limited.string(6).empty());
  CHECK_FALSE(limited.ok());
  CHECK(limited.u32() == 0);  // sticky: later reads give zero values
  CHECK_FALSE(limited.ok());

  // A declared length larger than what arrived, including one that overflows when padded.
  for (uint32_t declared : {100u, 0xFFFFFFFFu, 0xFFFFFFFDu}) {
    XdrEncoder forged;
    forged.u32(declared);
    forged.u32(0);
    const std::vector<uint8_t> forged_bytes = forged.take();
    XdrDecoder in(forged_bytes);
    CHECK(in.opaque_view(SIZE_MAX).empty());
    CHECK_FALSE(in.ok());
  }

  // A truncated u64, a bool of 2, an enum beyond its maximum.
  const std::vector<uint8_t> four = {0, 0, 0, 2};
  XdrDecoder short_u64(four);
  (void)short_u64.u64();
  CHECK_FALSE(short_u64.ok());
  XdrDecoder bad_bool(four);
  (void)bad_bool.boolean();
  CHECK_FALSE(bad_bool.ok());
  XdrDecoder bad_enum(four);
  CHECK(bad_enum.enumeration(1) == 0);
  CHECK_FALSE(bad_enum.ok());
  XdrDecoder good_enum(four);
  CHECK(good_enum.enumeration(2) == 2);
  CHECK(good_enum.ok());
}

TEST_CASE("hostdriver/nfs/xdr: u64 to signed conversion is checked") {
  CHECK(fits_int64(0));
  CHECK(fits_int64(uint64_t{INT64_MAX}));
  CHECK_FALSE(fits_int64(uint64_t{INT64_MAX} + 1));
  CHECK_FALSE(fits_int64(UINT64_MAX));
}

}  // namespace splitarray::hostdriver::nfs
