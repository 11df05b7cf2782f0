// hostdriver/nfs/file_handle.h
// NFS file handles: (datastore id, inode, generation) sealed with a MAC, so a client cannot forge
// a handle to a file it was never given, and a handle stays valid across host driver restarts
// (the key lives in a shelf register, handle_key.h) and host changes.
//
// Layout (kFileHandleBytes = 44, within NFSv3's 64 and ESXi's 56):
//   [0]     version (kFileHandleVersion)
//   [1..3]  zero
//   [4..11]  datastore id (FileSystem::fs_id), big-endian
//   [12..19] inode, big-endian
//   [20..27] generation, big-endian
//   [28..43] HMAC-SHA256(key, bytes 0..27), first 16 bytes
// Invariants:
//   (1) decode() accepts exactly the handles encode() produced with the same key.
//   (2) Comparing MACs takes time independent of where they differ.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <openssl/types.h>

#include "common/result.h"

namespace splitarray::hostdriver::nfs {

inline constexpr size_t kFileHandleBytes = 44;
inline constexpr size_t kFileHandleBytesMax = 64;  // NFS3_FHSIZE
inline constexpr uint8_t kFileHandleVersion = 1;
inline constexpr size_t kHandleKeyBytes = 32;
static_assert(kFileHandleBytes <= 56, "ESXi accepts file handles of at most 56 bytes");

using HandleKey = std::array<uint8_t, kHandleKeyBytes>;

struct FileHandle {
  uint64_t fs_id = 0;
  uint64_t inode = 0;
  uint64_t generation = 0;
  friend bool operator==(const FileHandle&, const FileHandle&) = default;
};

// Copies share one keyed MAC state, which is never modified after construction (each MAC works
// on a duplicate of it), so a copy is cheap and codecs may be used from any thread.
// Threading: encode() and decode() reuse one digest context, so a codec serves one thread at a
// time (the event loop); a copy has its own context.
class HandleCodec final {
 public:
  explicit HandleCodec(const HandleKey& key);
  ~HandleCodec();
  HandleCodec(const HandleCodec& other);
  HandleCodec& operator=(const HandleCodec&) = delete;
  HandleCodec(HandleCodec&&) noexcept;
  HandleCodec& operator=(HandleCodec&&) = delete;

  std::vector<uint8_t> encode(const FileHandle& handle) const;
  // kInvalidArgument for a handle of the wrong size or version or with a bad MAC
  // (NFS3ERR_BADHANDLE).
  Result<FileHandle> decode(std::span<const uint8_t> bytes) const;

 private:
  static constexpr size_t kShaBlockBytes = 64;  // SHA-256's input block: HMAC's pad length
  using PadBlock = std::array<uint8_t, kShaBlockBytes>;

  // HMAC-SHA256 (RFC 2104) of the handle's sealed bytes, first kMacBytes into `out`.
  void mac_of(const uint8_t* sealed, uint8_t* out) const;
  // SHA-256 of pad || message, through digest_.
  void sha256_of(const PadBlock& pad, std::span<const uint8_t> message, uint8_t* out) const;

  // HMAC computed from SHA-256 directly: the key's pad blocks are prepared once, and one fetched
  // algorithm and one reused digest context serve every MAC, so a MAC allocates nothing. Why not
  // EVP_MAC: duplicating a keyed EVP_MAC context per MAC cost several allocations and frees, ~20%
  // of the event loop during READDIRPLUS (a handle per entry); every NFS call decodes a handle.
  PadBlock inner_pad_{};       // key ^ 0x36...
  PadBlock outer_pad_{};       // key ^ 0x5c...
  EVP_MD* md_ = nullptr;       // owned: EVP_MD_free; null only in a moved-from codec
  EVP_MD_CTX* ctx_ = nullptr;  // owned: EVP_MD_CTX_free; mutated by const calls (see Threading)
};

}  // namespace splitarray::hostdriver::nfs
