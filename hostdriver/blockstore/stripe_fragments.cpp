// hostdriver/blockstore/stripe_fragments.cpp
#include "hostdriver/blockstore/stripe_fragments.h"

#include <span>
#include <utility>

#include "common/assert.h"
#include "protocol/fragment_header.h"

namespace splitarray::hostdriver::blockstore {
namespace {

size_t fragment_bytes_of(const container::SealedContainer& sealed) {
  return protocol::kFragmentHeaderSize + size_t{sealed.geometry.fragment_payload_bytes};
}

// Data fragment `index`: the identity header, then that slice of the sealed payload.
std::vector<uint8_t> data_fragment(const container::SealedContainer& sealed, uint32_t index,
                                   uint32_t generation) {
  ASSERT(index < sealed.geometry.data_fragments);
  const std::span<const uint8_t> piece = sealed.fragment(index);
  std::vector<uint8_t> fragment;
  // Room for the header, then the payload copied once: sizing the vector first would zero the
  // megabyte the copy then overwrites.
  fragment.reserve(fragment_bytes_of(sealed));
  fragment.resize(protocol::kFragmentHeaderSize);
  fragment.insert(fragment.end(), piece.begin(), piece.end());
  ASSERT(fragment.size() == fragment_bytes_of(sealed));
  protocol::seal_fragment(
      protocol::FragmentId{sealed.container, static_cast<uint8_t>(index), generation}, fragment);
  return fragment;
}

// The m parity fragments, coded straight from the sealed payload (no data fragment needed).
std::vector<std::vector<uint8_t>> parity_fragments(const container::SealedContainer& sealed,
                                                   size_t width, const ec::ErasureCode& erasure,
                                                   uint32_t generation) {
  const uint32_t k = sealed.geometry.data_fragments;
  ASSERT(k < width);
  std::vector<std::span<const uint8_t>> data;
  for (uint32_t i = 0; i < k; ++i) data.push_back(sealed.fragment(i));
  std::vector<std::vector<uint8_t>> parity(width - k);
  std::vector<std::span<uint8_t>> outputs;
  for (std::vector<uint8_t>& fragment : parity) {
    fragment.resize(fragment_bytes_of(sealed));
    outputs.push_back(std::span<uint8_t>(fragment).subspan(protocol::kFragmentHeaderSize));
  }
  erasure.encode(data, outputs);
  for (size_t j = 0; j < parity.size(); ++j) {
    protocol::seal_fragment(
        protocol::FragmentId{sealed.container, static_cast<uint8_t>(k + j), generation}, parity[j]);
  }
  return parity;
}

}  // namespace

std::vector<std::vector<uint8_t>> build_fragments(const container::SealedContainer& sealed,
                                                  size_t width, const ec::ErasureCode& erasure,
                                                  uint32_t generation, std::optional<size_t> only) {
  ASSERT(width == static_cast<size_t>(erasure.width()));
  const uint32_t k = sealed.geometry.data_fragments;
  std::vector<std::vector<uint8_t>> out;
  if (only) {
    ASSERT(*only < width);
    if (*only < k) {
      out.push_back(data_fragment(sealed, static_cast<uint32_t>(*only), generation));
    } else {
      out.push_back(std::move(parity_fragments(sealed, width, erasure, generation)[*only - k]));
    }
    return out;
  }
  for (uint32_t i = 0; i < k; ++i) out.push_back(data_fragment(sealed, i, generation));
  for (std::vector<uint8_t>& parity : parity_fragments(sealed, width, erasure, generation)) {
    out.push_back(std::move(parity));
  }
  ASSERT(out.size() == width);
  return out;
}

}  // namespace splitarray::hostdriver::blockstore
