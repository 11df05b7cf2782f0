// common/sha256.cpp
#include "common/sha256.h"

#include <openssl/evp.h>

#include "common/assert.h"

namespace splitarray {

Sha256::Sha256() {
  // An explicit fetch: EVP_sha256() would make every EVP_DigestInit_ex2 look the algorithm up.
  md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ASSERT_MSG(md_ != nullptr, "OpenSSL has no SHA-256 (check the provider configuration)");
  ASSERT(static_cast<size_t>(EVP_MD_get_size(md_)) == kDigestBytes);
  ASSERT(static_cast<size_t>(EVP_MD_get_block_size(md_)) == kBlockBytes);
  ctx_ = EVP_MD_CTX_new();
  ASSERT_MSG(ctx_ != nullptr, "EVP_MD_CTX_new failed");
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

Sha256::Digest Sha256::digest(std::initializer_list<std::span<const uint8_t>> parts) {
  // In-memory SHA-256 cannot fail short of a broken library: failures are bugs, not Results.
  const int started = EVP_DigestInit_ex2(ctx_, md_, nullptr);
  ASSERT_MSG(started == 1, "SHA-256 init failed");
  for (std::span<const uint8_t> part : parts) {
    const int updated = EVP_DigestUpdate(ctx_, part.data(), part.size());
    ASSERT_MSG(updated == 1, "SHA-256 update failed");
  }
  Digest out{};
  unsigned int length = 0;
  const int done = EVP_DigestFinal_ex(ctx_, out.data(), &length);
  ASSERT_MSG(done == 1, "SHA-256 final failed");
  ASSERT(length == kDigestBytes);
  return out;
}

}  // namespace splitarray
