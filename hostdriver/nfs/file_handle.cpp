// hostdriver/nfs/file_handle.cpp
#include "hostdriver/nfs/file_handle.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

constexpr size_t kSealedBytes = 28;  // version .. generation: what the MAC covers
constexpr size_t kMacBytes = kFileHandleBytes - kSealedBytes;
static_assert(kMacBytes == 16);
static_assert(kMacBytes <= Sha256::kDigestBytes);

void put_u64(uint8_t* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

uint64_t get_u64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

}  // namespace

HandleCodec::HandleCodec(const HandleKey& key) : sha_(std::make_unique<Sha256>()) {
  static_assert(kHandleKeyBytes <= Sha256::kBlockBytes, "a longer key would be hashed first");
  for (size_t i = 0; i < Sha256::kBlockBytes; ++i) {
    const uint8_t byte = i < key.size() ? key[i] : uint8_t{0};
    inner_pad_[i] = byte ^ uint8_t { 0x36 };
    outer_pad_[i] = byte ^ uint8_t { 0x5c };
  }
}

HandleCodec::HandleCodec(const HandleCodec& other)
    : inner_pad_(other.inner_pad_), outer_pad_(other.outer_pad_), sha_(std::make_unique<Sha256>()) {
  ASSERT(other.sha_ != nullptr);  // not a moved-from codec
}

void HandleCodec::mac_of(const uint8_t* sealed, uint8_t* out) const {
  ASSERT(sha_ != nullptr);  // not a moved-from codec
  const Sha256::Digest inner = sha_->digest({inner_pad_, std::span(sealed, kSealedBytes)});
  const Sha256::Digest mac = sha_->digest({outer_pad_, inner});
  std::copy(mac.begin(), mac.begin() + kMacBytes, out);
}

std::vector<uint8_t> HandleCodec::encode(const FileHandle& handle) const {
  std::vector<uint8_t> bytes(kFileHandleBytes, 0);
  bytes[0] = kFileHandleVersion;
  put_u64(&bytes[4], handle.fs_id);
  put_u64(&bytes[12], handle.inode);
  put_u64(&bytes[20], handle.generation);
  mac_of(bytes.data(), &bytes[kSealedBytes]);
  ASSERT(bytes.size() == kFileHandleBytes);
  return bytes;
}

Result<FileHandle> HandleCodec::decode(std::span<const uint8_t> bytes) const {
  if (bytes.size() != kFileHandleBytes) {
    return make_error(Code::kInvalidArgument, "file handle of the wrong size");
  }
  if (bytes[0] != kFileHandleVersion || bytes[1] != 0 || bytes[2] != 0 || bytes[3] != 0) {
    return make_error(Code::kInvalidArgument, "file handle of an unknown version");
  }
  uint8_t expected[kMacBytes];
  mac_of(bytes.data(), expected);
  if (CRYPTO_memcmp(expected, bytes.data() + kSealedBytes, kMacBytes) != 0) {
    return make_error(Code::kInvalidArgument, "file handle with a bad MAC");
  }
  return FileHandle{
      .fs_id = get_u64(&bytes[4]), .inode = get_u64(&bytes[12]), .generation = get_u64(&bytes[20])};
}

}  // namespace splitarray::hostdriver::nfs
