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
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/sha256.h"

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

// Threading: encode() and decode() reuse one digest context, so a codec serves one thread at a
// time (the event loop); a copy has its own context.
class HandleCodec final {
 public:
  explicit HandleCodec(const HandleKey& key);
  HandleCodec(const HandleCodec& other);
  HandleCodec& operator=(const HandleCodec&) = delete;
  HandleCodec(HandleCodec&&) noexcept = default;
  HandleCodec& operator=(HandleCodec&&) = delete;

  std::vector<uint8_t> encode(const FileHandle& handle) const;
  // kInvalidArgument for a handle of the wrong size or version or with a bad MAC
  // (NFS3ERR_BADHANDLE).
  Result<FileHandle> decode(std::span<const uint8_t> bytes) const;

 private:
  using PadBlock = std::array<uint8_t, Sha256::kBlockBytes>;

  // HMAC-SHA256 (RFC 2104) of the handle's sealed bytes, first kMacBytes into `out`.
  void mac_of(const uint8_t* sealed, uint8_t* out) const;

  // HMAC computed from SHA-256 directly: the key's pad blocks are prepared once and one reused
  // digest context serves every MAC, so a MAC allocates nothing. Why not EVP_MAC: duplicating a
  // keyed EVP_MAC context per MAC cost several allocations and frees, ~20% of the event loop
  // during READDIRPLUS (a handle per entry); and every NFS call decodes at least one handle.
  PadBlock inner_pad_{};         // key ^ 0x36...
  PadBlock outer_pad_{};         // key ^ 0x5c...
  std::unique_ptr<Sha256> sha_;  // null only in a moved-from codec; used by const calls
};

}  // namespace splitarray::hostdriver::nfs
