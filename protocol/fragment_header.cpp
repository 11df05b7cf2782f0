#include "protocol/fragment_header.h"

#include <algorithm>
#include <array>

#include "common/crc32c.h"
#include "common/endian.h"
#include "protocol/frame.h"

namespace splitarray::protocol {
namespace {

constexpr size_t kCrcOffset = 24;
constexpr size_t kReservedOffset = 28;
static_assert(kReservedOffset + 36 == kFragmentHeaderSize);
static_assert(kFragmentHeaderSize + kFragmentPayloadMaxBytes <= kPayloadMaxBytes,
              "a whole fragment must fit one frame payload");

Error corruption(std::string message) { return make_error(Code::kCorruption, std::move(message)); }

}  // namespace

std::string FragmentId::to_string() const {
  return "container=" + std::to_string(container.value()) + " index=" + std::to_string(index) +
         " generation=" + std::to_string(generation);
}

void encode_fragment_header(const FragmentHeader& header, std::span<uint8_t> out) {
  ASSERT(out.size() == kFragmentHeaderSize);
  ASSERT(header.payload_length <= kFragmentPayloadMaxBytes);
  std::fill(out.begin(), out.end(), uint8_t{0});
  put_u32(out, 0, kFragmentMagic);
  put_u16(out, 4, kFragmentFormatVersion);
  out[6] = header.id.index;
  put_u64(out, 8, header.id.container.value());
  put_u32(out, 16, header.id.generation);
  put_u32(out, 20, header.payload_length);
  put_u32(out, kCrcOffset, header.crc32c);
}

Result<FragmentHeader> decode_fragment_header(std::span<const uint8_t> bytes) {
  if (bytes.size() != kFragmentHeaderSize) return corruption("fragment header has the wrong size");
  if (get_u32(bytes, 0) != kFragmentMagic) return corruption("bad fragment magic");
  if (get_u16(bytes, 4) != kFragmentFormatVersion) return corruption("unknown fragment version");
  if (bytes[7] != 0) return corruption("fragment header reserved byte is not zero");
  const auto reserved = bytes.subspan(kReservedOffset);
  if (std::any_of(reserved.begin(), reserved.end(), [](uint8_t b) { return b != 0; })) {
    return corruption("fragment header reserved bytes are not zero");
  }
  FragmentHeader header;
  header.id.index = bytes[6];
  header.id.container = ContainerId(get_u64(bytes, 8));
  header.id.generation = get_u32(bytes, 16);
  header.payload_length = get_u32(bytes, 20);
  header.crc32c = get_u32(bytes, kCrcOffset);
  if (header.payload_length > kFragmentPayloadMaxBytes) {
    return corruption("fragment payload length over the maximum");
  }
  return header;
}

uint32_t compute_fragment_crc(std::span<const uint8_t> header_bytes,
                              std::span<const uint8_t> payload) {
  ASSERT(header_bytes.size() == kFragmentHeaderSize);
  std::array<uint8_t, kFragmentHeaderSize> copy;
  std::copy(header_bytes.begin(), header_bytes.end(), copy.begin());
  put_u32(copy, kCrcOffset, 0);
  return crc32c(payload, crc32c(copy));
}

Result<FragmentHeader> verify_fragment(std::span<const uint8_t> fragment) {
  if (fragment.size() < kFragmentHeaderSize) return corruption("fragment shorter than its header");
  const auto header_bytes = fragment.first(kFragmentHeaderSize);
  const auto payload = fragment.subspan(kFragmentHeaderSize);
  auto header = decode_fragment_header(header_bytes);
  if (!header.ok()) return header;
  if (header->payload_length != payload.size()) {
    return corruption("fragment payload length does not match its header");
  }
  if (compute_fragment_crc(header_bytes, payload) != header->crc32c) {
    return corruption("fragment CRC32C mismatch");
  }
  return header;
}

void seal_fragment(const FragmentId& id, std::span<uint8_t> fragment) {
  ASSERT(fragment.size() >= kFragmentHeaderSize);
  ASSERT(fragment.size() - kFragmentHeaderSize <= kFragmentPayloadMaxBytes);
  FragmentHeader header{
      .id = id,
      .payload_length = static_cast<uint32_t>(fragment.size() - kFragmentHeaderSize),
      .crc32c = 0};
  const auto header_bytes = fragment.first(kFragmentHeaderSize);
  encode_fragment_header(header, header_bytes);
  header.crc32c = compute_fragment_crc(header_bytes, fragment.subspan(kFragmentHeaderSize));
  put_u32(header_bytes, kCrcOffset, header.crc32c);
  // Pair the assertion with the shelf's check: a fragment we just sealed must verify.
  ASSERT(verify_fragment(fragment).ok());
}

std::vector<uint8_t> build_fragment(const FragmentId& id, std::span<const uint8_t> payload) {
  ASSERT(payload.size() <= kFragmentPayloadMaxBytes);
  std::vector<uint8_t> fragment(kFragmentHeaderSize + payload.size());
  std::copy(payload.begin(), payload.end(), fragment.begin() + kFragmentHeaderSize);
  seal_fragment(id, fragment);
  return fragment;
}

}  // namespace splitarray::protocol
