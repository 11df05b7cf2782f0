#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/prng.h"
#include "common/sha256.h"

namespace splitarray {
namespace {

std::span<const uint8_t> text_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string hex(const Sha256::Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : digest) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

TEST_CASE("common/sha256: known digests (FIPS 180 and hashlib), also from one reused instance") {
  Sha256 sha;
  for (int round = 0; round < 2; ++round) {
    CHECK(hex(sha.digest(text_bytes(""))) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex(sha.digest(text_bytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex(sha.digest(text_bytes(std::string(1000, 'a')))) ==
          "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  }
}

TEST_CASE("common/sha256: parts hash as their concatenation") {
  Prng rng(11);
  std::vector<uint8_t> data(5000);
  rng.fill(data);
  Sha256 sha;
  const Sha256::Digest whole = sha.digest(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{4999}, size_t{5000}}) {
    INFO("split at " << split);
    const std::span<const uint8_t> all(data);
    CHECK(sha.digest({all.first(split), all.subspan(split)}) == whole);
  }
  CHECK(sha.digest({std::span<const uint8_t>(), std::span<const uint8_t>(data)}) == whole);
  data[2500] ^= 1;
  CHECK(sha.digest(data) != whole);
}

}  // namespace
}  // namespace splitarray
