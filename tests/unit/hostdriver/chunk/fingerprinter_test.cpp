// tests/unit/hostdriver/chunk/fingerprinter_test.cpp
// Fingerprinter against SHA-256 vectors (FIPS 180-2 and `openssl dgst -sha256` of known blocks),
// the test-only truncation that forces collisions, and zero-block detection.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string_view>

#include "hostdriver/chunk/fingerprinter.h"
#include "tests/unit/hostdriver/chunk/chunk_test_util.h"

namespace splitarray::hostdriver::chunk::test {
namespace {

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// 4 KiB of bytes i % 251 (a period that does not divide the block).
std::vector<uint8_t> mod251_block() {
  std::vector<uint8_t> block(4096);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i % 251);
  return block;
}

TEST_CASE("hostdriver/chunk: fingerprint matches SHA-256 test vectors") {
  Fingerprinter fingerprinter;
  CHECK(to_hex(fingerprinter.fingerprint({})) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(fingerprinter.fingerprint(as_bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(fingerprinter.fingerprint(
            as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Computed with `head -c N /dev/zero | openssl dgst -sha256` when this test was written.
  CHECK(to_hex(fingerprinter.fingerprint(std::vector<uint8_t>(4096, 0))) ==
        "ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7");
  CHECK(to_hex(fingerprinter.fingerprint(std::vector<uint8_t>(8192, 0))) ==
        "9f1dcbc35c350d6027f98be0f5c8b43b42ca52b7604459c0c42be3aa88913d47");
  CHECK(to_hex(fingerprinter.fingerprint(std::vector<uint8_t>(65536, 0))) ==
        "de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31");
  CHECK(to_hex(fingerprinter.fingerprint(mod251_block())) ==
        "d67c656e01756650d77717b0839985a056ec28ffe174601d690fc407a2ceffca");
}

TEST_CASE("hostdriver/chunk: one fingerprinter gives the same answers over many blocks") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Fingerprinter reused;
  std::set<Fingerprint> seen;
  for (int i = 0; i < 200; ++i) {
    const auto block = random_bytes(rng, 4096);
    const Fingerprint fp = reused.fingerprint(block);
    Fingerprinter fresh;
    CHECK(fresh.fingerprint(block) == fp);
    CHECK(reused.fingerprint(block) == fp);
    seen.insert(fp);
  }
  CHECK(seen.size() == 200);
  // Context reuse survives an interleaved vector.
  CHECK(to_hex(reused.fingerprint(mod251_block())) ==
        "d67c656e01756650d77717b0839985a056ec28ffe174601d690fc407a2ceffca");
}

TEST_CASE("hostdriver/chunk: truncated fingerprints keep a prefix and collide") {
  const uint64_t seed = seed_from_env();
  MESSAGE("SPLITARRAY_SEED=" << seed);
  Prng rng(seed);
  Fingerprinter full;
  for (uint32_t bits : {1u, 8u, 12u, 63u, 128u, 255u, 256u}) {
    CAPTURE(bits);
    Fingerprinter truncated(FingerprinterOptions{.truncate_to_bits = bits});
    const auto block = random_bytes(rng, 4096);
    const Fingerprint whole = full.fingerprint(block);
    const Fingerprint cut = truncated.fingerprint(block);
    for (uint32_t bit = 0; bit < kFingerprintBits; ++bit) {
      const bool whole_bit = (whole[bit / 8] >> (7 - bit % 8)) & 1;
      const bool cut_bit = (cut[bit / 8] >> (7 - bit % 8)) & 1;
      CHECK(cut_bit == (bit < bits ? whole_bit : false));
    }
  }
  // 8 bits leave 256 values: 600 different blocks must share fingerprints (pigeonhole).
  Fingerprinter tiny(FingerprinterOptions{.truncate_to_bits = 8});
  std::map<Fingerprint, std::vector<uint8_t>> first_block;
  int collisions = 0;
  for (int i = 0; i < 600; ++i) {
    auto block = random_bytes(rng, 4096);
    const auto [it, inserted] = first_block.emplace(tiny.fingerprint(block), block);
    if (!inserted) {
      CHECK(it->second != block);
      CHECK(full.fingerprint(it->second) != full.fingerprint(block));
      ++collisions;
    }
  }
  CHECK(first_block.size() <= 256);
  CHECK(collisions >= 600 - 256);
}

TEST_CASE("hostdriver/chunk: zero blocks are detected and any set bit is not zero") {
  for (size_t size : {size_t{4096}, size_t{8192}, size_t{65536}, size_t{100}, size_t{0}}) {
    CAPTURE(size);
    std::vector<uint8_t> block(size, 0);
    CHECK(is_zero_block(block));
    // Every position (every byte of 4 KiB, a stride elsewhere) and every bit of a byte.
    const size_t stride = size <= 4096 ? 1 : 61;
    for (size_t i = 0; i < size; i += stride) {
      block[i] = static_cast<uint8_t>(1u << (i % 8));
      CHECK_FALSE(is_zero_block(block));
      block[i] = 0;
    }
    if (size > 0) {
      block[size - 1] = 0x80;
      CHECK_FALSE(is_zero_block(block));
    }
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::chunk::test
