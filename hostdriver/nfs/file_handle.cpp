// hostdriver/nfs/file_handle.cpp
#include "hostdriver/nfs/file_handle.h"

#include <algorithm>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

constexpr size_t kSealedBytes = 28;  // version .. generation: what the MAC covers
constexpr size_t kMacBytes = kFileHandleBytes - kSealedBytes;
static_assert(kMacBytes == 16);
constexpr size_t kSha256Bytes = 32;
static_assert(kMacBytes <= kSha256Bytes);

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

EVP_MD* fetch_sha256() {
  // An explicit fetch: EVP_sha256() would make every EVP_DigestInit_ex2 look the algorithm up.
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ASSERT_MSG(md != nullptr, "OpenSSL has no SHA-256 (check the provider configuration)");
  return md;
}

EVP_MD_CTX* new_digest_context() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_MSG(ctx != nullptr, "EVP_MD_CTX_new failed");
  return ctx;
}

}  // namespace

HandleCodec::HandleCodec(const HandleKey& key) : md_(fetch_sha256()), ctx_(new_digest_context()) {
  static_assert(kHandleKeyBytes <= kShaBlockBytes, "a longer key would be hashed first");
  for (size_t i = 0; i < kShaBlockBytes; ++i) {
    const uint8_t byte = i < key.size() ? key[i] : uint8_t{0};
    inner_pad_[i] = byte ^ uint8_t { 0x36 };
    outer_pad_[i] = byte ^ uint8_t { 0x5c };
  }
}

HandleCodec::HandleCodec(const HandleCodec& other)
    : inner_pad_(other.inner_pad_), outer_pad_(other.outer_pad_) {
  ASSERT(other.md_ != nullptr);  // not a moved-from codec
  const int referenced = EVP_MD_up_ref(other.md_);
  ASSERT(referenced == 1);
  md_ = other.md_;
  ctx_ = new_digest_context();
}

HandleCodec::HandleCodec(HandleCodec&& other) noexcept
    : inner_pad_(other.inner_pad_),
      outer_pad_(other.outer_pad_),
      md_(std::exchange(other.md_, nullptr)),
      ctx_(std::exchange(other.ctx_, nullptr)) {}

HandleCodec::~HandleCodec() {
  EVP_MD_CTX_free(ctx_);  // both accept null
  EVP_MD_free(md_);
}

void HandleCodec::sha256_of(const PadBlock& pad, std::span<const uint8_t> message,
                            uint8_t* out) const {
  // In-memory SHA-256 cannot fail short of a broken library: failures are bugs, not Results.
  const int started = EVP_DigestInit_ex2(ctx_, md_, nullptr);
  ASSERT_MSG(started == 1, "SHA-256 init failed");
  const int padded = EVP_DigestUpdate(ctx_, pad.data(), pad.size());
  ASSERT_MSG(padded == 1, "SHA-256 update failed");
  const int updated = EVP_DigestUpdate(ctx_, message.data(), message.size());
  ASSERT_MSG(updated == 1, "SHA-256 update failed");
  unsigned int length = 0;
  const int done = EVP_DigestFinal_ex(ctx_, out, &length);
  ASSERT_MSG(done == 1, "SHA-256 failed");
  ASSERT(length == kSha256Bytes);
}

void HandleCodec::mac_of(const uint8_t* sealed, uint8_t* out) const {
  ASSERT(ctx_ != nullptr);  // not a moved-from codec
  uint8_t inner[kSha256Bytes];
  sha256_of(inner_pad_, std::span(sealed, kSealedBytes), inner);
  uint8_t mac[kSha256Bytes];
  sha256_of(outer_pad_, std::span<const uint8_t>(inner), mac);
  std::copy(mac, mac + kMacBytes, out);
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
