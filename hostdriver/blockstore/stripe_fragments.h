// hostdriver/blockstore/stripe_fragments.h
// The k data and m parity fragments of a sealed container, each with its identity header and
// CRC32C (protocol/fragment_header.h). Pure and synchronous; the destager runs it on the compute
// pool. Deterministic: building one fragment alone gives exactly the bytes it has when the whole
// stripe is built, which is what lets a retried fragment write rebuild only its own fragment
// after the previous attempt's bytes went with its request.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hostdriver/container/container_builder.h"
#include "hostdriver/ec/erasure_code.h"

namespace splitarray::hostdriver::blockstore {

// Every fragment of the stripe in index order (`only` unset), or fragment `only` alone. A data
// fragment is one copy of its slice of the payload; a parity fragment is the code run straight
// over the payload (it needs no data fragment). width = k + m of `erasure`.
std::vector<std::vector<uint8_t>> build_fragments(const container::SealedContainer& sealed,
                                                  size_t width, const ec::ErasureCode& erasure,
                                                  uint32_t generation, std::optional<size_t> only);

}  // namespace splitarray::hostdriver::blockstore
