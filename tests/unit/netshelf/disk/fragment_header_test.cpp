// protocol/fragment_header tests. They live with the disk tests because the disk component
// introduced the header; they exercise only protocol/ code.
#include <doctest/doctest.h>

#include <vector>

#include "common/endian.h"
#include "common/prng.h"
#include "protocol/fragment_header.h"

namespace splitarray::protocol {
namespace {

std::vector<uint8_t> random_payload(size_t size, uint64_t seed) {
  Prng prng(seed);
  std::vector<uint8_t> out(size);
  prng.fill(out);
  return out;
}

const FragmentId kId{.container = ContainerId(0x1122334455667788), .index = 9, .generation = 4};

TEST_CASE("protocol/fragment_header: build, verify and decode round trip") {
  for (const size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{70000}}) {
    const auto payload = random_payload(size, size + 1);
    const auto fragment = build_fragment(kId, payload);
    REQUIRE(fragment.size() == kFragmentHeaderSize + size);
    auto verified = verify_fragment(fragment);
    REQUIRE(verified.ok());
    CHECK(verified->id == kId);
    CHECK(verified->payload_length == size);
    CHECK(std::vector<uint8_t>(fragment.begin() + kFragmentHeaderSize, fragment.end()) == payload);
    auto decoded = decode_fragment_header(std::span<const uint8_t>(fragment).first(64));
    REQUIRE(decoded.ok());
    CHECK(decoded->crc32c == verified->crc32c);
    CHECK(compute_fragment_crc(std::span<const uint8_t>(fragment).first(64),
                               std::span<const uint8_t>(fragment).subspan(64)) == verified->crc32c);
  }
  // Fixed layout: magic and fields at their documented offsets, little-endian.
  const auto fragment = build_fragment(kId, random_payload(10, 1));
  const auto b = std::span<const uint8_t>(fragment);
  CHECK(get_u32(b, 0) == kFragmentMagic);
  CHECK(get_u16(b, 4) == kFragmentFormatVersion);
  CHECK(b[6] == 9);
  CHECK(get_u64(b, 8) == 0x1122334455667788);
  CHECK(get_u32(b, 16) == 4);
  CHECK(get_u32(b, 20) == 10);
}

TEST_CASE("protocol/fragment_header: every single bit flip in header or payload is kCorruption") {
  const auto good = build_fragment(kId, random_payload(300, 2));
  for (size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[byte] = static_cast<uint8_t>(bad[byte] ^ (1 << bit));
      auto verified = verify_fragment(bad);
      REQUIRE_FALSE(verified.ok());
      CHECK(verified.code() == Code::kCorruption);
    }
  }
}

TEST_CASE("protocol/fragment_header: truncated, extended and hostile headers are kCorruption") {
  const auto good = build_fragment(kId, random_payload(100, 3));
  CHECK(verify_fragment(std::span<const uint8_t>(good).first(10)).code() == Code::kCorruption);
  CHECK(verify_fragment(std::span<const uint8_t>(good).first(good.size() - 1)).code() ==
        Code::kCorruption);
  auto longer = good;
  longer.push_back(0);
  CHECK(verify_fragment(longer).code() == Code::kCorruption);
  CHECK(decode_fragment_header(std::span<const uint8_t>(good).first(63)).code() ==
        Code::kCorruption);
  // A header claiming a huge payload is rejected before anything trusts the length.
  auto huge = good;
  put_u32(huge, 20, 0xFFFFFFFF);
  CHECK(decode_fragment_header(std::span<const uint8_t>(huge).first(64)).code() ==
        Code::kCorruption);
  // Nonzero reserved bytes with a recomputed CRC are still rejected (version 1 is strict).
  auto reserved = good;
  reserved[40] = 1;
  put_u32(reserved, 24,
          compute_fragment_crc(std::span<const uint8_t>(reserved).first(64),
                               std::span<const uint8_t>(reserved).subspan(64)));
  CHECK(verify_fragment(reserved).code() == Code::kCorruption);
}

}  // namespace
}  // namespace splitarray::protocol
