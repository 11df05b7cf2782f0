// common/sha256.h
// Sha256: SHA-256 through OpenSSL's EVP (SHA-NI where the CPU has it) with the algorithm fetched
// once and one digest context reused, so a digest costs the hashing and nothing else. Why not the
// one-shot SHA256() or EVP_Digest(): they fetch the algorithm (a locked provider lookup) and
// allocate a context on every call; a directory-key hash per name made that ~5% of the host
// driver's event loop under NFS REMOVE. Users: block fingerprints, file-handle MACs, directory
// keys.
// Threading: an instance is one thread's state (the context is reused); make one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

struct evp_md_st;      // OpenSSL's EVP_MD
struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace splitarray {

class Sha256 final {
 public:
  static constexpr size_t kDigestBytes = 32;
  static constexpr size_t kBlockBytes = 64;  // the compression function's input block
  using Digest = std::array<uint8_t, kDigestBytes>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) = delete;
  Sha256& operator=(Sha256&&) = delete;

  // SHA-256 of the concatenation of `parts` (a prefix and a message hash without being joined).
  Digest digest(std::initializer_list<std::span<const uint8_t>> parts);
  Digest digest(std::span<const uint8_t> bytes) { return digest({bytes}); }

 private:
  evp_md_st* md_ = nullptr;       // owned: EVP_MD_free
  evp_md_ctx_st* ctx_ = nullptr;  // owned: EVP_MD_CTX_free
};

}  // namespace splitarray
