// build_fragments (stripe_fragments.h): a fragment built alone, as a retried fragment write
// builds it, is byte-identical to the same fragment built with its stripe, and every fragment
// carries the identity the shelf checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "common/prng.h"
#include "hostdriver/blockstore/stripe_fragments.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::blockstore {
namespace {

constexpr uint32_t kGeneration = 3;
constexpr size_t kChunks = 700;  // ~2.7 MiB of 4 KiB chunks: the last fragments hold padding

container::SealedContainer sealed_container(const container::ContainerGeometry& geometry,
                                            Prng& rng) {
  container::ContainerBuilder builder(geometry, ContainerId(0x1234));
  for (size_t i = 0; i < kChunks; ++i) {
    std::vector<uint8_t> stored(4096);
    rng.fill(stored);
    container::Fingerprint fp{};
    rng.fill(fp);
    REQUIRE(builder.add(fp, container::ChunkEncoding::kRaw, stored, 4096).ok());
  }
  return builder.seal();
}

TEST_CASE("hostdriver/blockstore: a fragment built alone equals the one built with its stripe") {
  Prng rng(20261123);
  const container::ContainerGeometry geometry{};  // 8 x 1 MiB
  const container::SealedContainer sealed = sealed_container(geometry, rng);
  auto code = ec::ErasureCode::create(8, 2);
  REQUIRE(code.ok());
  const size_t width = 10;

  const std::vector<std::vector<uint8_t>> all =
      build_fragments(sealed, width, *code, kGeneration, std::nullopt);
  REQUIRE(all.size() == width);
  for (size_t i = 0; i < width; ++i) {
    auto header = protocol::verify_fragment(all[i]);
    REQUIRE_MESSAGE(header.ok(), "fragment " << i << ": " << header.error().to_string());
    CHECK(header->id ==
          protocol::FragmentId{sealed.container, static_cast<uint8_t>(i), kGeneration});
    const std::span<const uint8_t> payload =
        std::span<const uint8_t>(all[i]).subspan(protocol::kFragmentHeaderSize);
    if (i < geometry.data_fragments) {
      const std::span<const uint8_t> slice = sealed.fragment(static_cast<uint32_t>(i));
      CHECK(std::equal(payload.begin(), payload.end(), slice.begin(), slice.end()));
    } else {
      // Parity of random chunks is not all zeros (a parity buffer left unwritten would be).
      CHECK(std::any_of(payload.begin(), payload.end(), [](uint8_t b) { return b != 0; }));
    }
  }

  for (size_t i = 0; i < width; ++i) {
    const std::vector<std::vector<uint8_t>> one =
        build_fragments(sealed, width, *code, kGeneration, i);
    REQUIRE(one.size() == 1);
    CHECK_MESSAGE(one[0] == all[i], "fragment " << i << " built alone differs");
  }

  // The parity really codes the data: two data fragments rebuilt from the rest match.
  std::vector<ec::PresentFragment> present;
  for (size_t i = 2; i < width; ++i) {
    present.push_back(ec::PresentFragment{
        static_cast<int>(i),
        std::span<const uint8_t>(all[i]).subspan(protocol::kFragmentHeaderSize)});
  }
  std::vector<std::vector<uint8_t>> rebuilt(2,
                                            std::vector<uint8_t>(geometry.fragment_payload_bytes));
  std::vector<ec::WantedFragment> wanted{ec::WantedFragment{0, rebuilt[0]},
                                         ec::WantedFragment{1, rebuilt[1]}};
  REQUIRE(code->reconstruct(present, wanted).ok());
  for (uint32_t i = 0; i < 2; ++i) {
    const std::span<const uint8_t> slice = sealed.fragment(i);
    CHECK(std::equal(rebuilt[i].begin(), rebuilt[i].end(), slice.begin(), slice.end()));
  }
}

}  // namespace
}  // namespace splitarray::hostdriver::blockstore
