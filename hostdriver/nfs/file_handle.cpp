// hostdriver/nfs/file_handle.cpp
#include "hostdriver/nfs/file_handle.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

constexpr size_t kSealedBytes = 28;  // version .. generation: what the MAC covers
constexpr size_t kMacBytes = kFileHandleBytes - kSealedBytes;
static_assert(kMacBytes == 16);

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

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

}  // namespace

HandleCodec::HandleCodec(const HandleKey& key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  ASSERT_MSG(mac != nullptr, "OpenSSL has no HMAC");
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);  // the context keeps its own reference
  ASSERT(ctx != nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  const int keyed = EVP_MAC_init(ctx.get(), key.data(), key.size(), params);
  ASSERT_MSG(keyed == 1, "HMAC-SHA256 init failed");
  keyed_ = std::shared_ptr<const EVP_MAC_CTX>(ctx.release(), MacCtxFree{});
}

void HandleCodec::mac_of(const uint8_t* sealed, uint8_t* out) const {
  ASSERT(keyed_ != nullptr);  // not a moved-from codec
  const MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed_.get()));
  ASSERT_MSG(ctx != nullptr, "HMAC context copy failed");
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_bytes = 0;
  const int updated = EVP_MAC_update(ctx.get(), sealed, kSealedBytes);
  ASSERT_MSG(updated == 1, "HMAC-SHA256 update failed");
  const int done = EVP_MAC_final(ctx.get(), digest, &digest_bytes, sizeof digest);
  ASSERT_MSG(done == 1, "HMAC-SHA256 failed");
  ASSERT(digest_bytes >= kMacBytes);
  std::copy(digest, digest + kMacBytes, out);
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
