// hostdriver/nfs/nfs3/nfs3_xdr.h
// The server side of NFSv3's XDR: a decoder for the arguments of every procedure and an encoder
// for every result (RFC 1813 §3.3). The opposite directions, for clients and tests, are in
// nfs3_client_xdr.h.
//
// decode_args() takes the untrusted argument bytes of one call and is true only when they are
// exactly one well-formed argument: every length within its named wire limit (handles
// kFhBytesMax, names kNameWireBytesMax, symlink targets kPathWireBytesMax, write data
// kWriteWireBytesMax and equal to the count), every enum and bool in range, no bytes left over.
// False is RPC GARBAGE_ARGS. Semantic limits (a name over kNameBytesMax, an offset beyond
// INT64_MAX, nseconds over a second) are the program's: they have their own nfsstat3.
//
// The readdir size helpers give the exact encoded size of what READDIR(PLUS) will reply, so the
// program can fill the client's byte budget (count, maxcount, dircount) without going over.
#pragma once

#include <span>

#include "hostdriver/nfs/nfs3/nfs3_types.h"
#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs::nfs3 {

bool decode_args(std::span<const uint8_t> bytes, FhArgs& out);  // GETATTR READLINK FS* PATHCONF
bool decode_args(std::span<const uint8_t> bytes, SetattrArgs& out);
bool decode_args(std::span<const uint8_t> bytes, DirOpArgs& out);  // LOOKUP REMOVE RMDIR
bool decode_args(std::span<const uint8_t> bytes, AccessArgs& out);
bool decode_args(std::span<const uint8_t> bytes, ReadArgs& out);
bool decode_args(std::span<const uint8_t> bytes, WriteArgs& out);
bool decode_args(std::span<const uint8_t> bytes, CreateArgs& out);
bool decode_args(std::span<const uint8_t> bytes, MkdirArgs& out);
bool decode_args(std::span<const uint8_t> bytes, SymlinkArgs& out);
bool decode_args(std::span<const uint8_t> bytes, MknodArgs& out);
bool decode_args(std::span<const uint8_t> bytes, RenameArgs& out);
bool decode_args(std::span<const uint8_t> bytes, LinkArgs& out);
bool decode_args(std::span<const uint8_t> bytes, ReaddirArgs& out);
bool decode_args(std::span<const uint8_t> bytes, ReaddirplusArgs& out);
bool decode_args(std::span<const uint8_t> bytes, CommitArgs& out);

void encode_res(XdrEncoder& out, const GetattrRes& res);
void encode_res(XdrEncoder& out, const WccRes& res);  // SETATTR REMOVE RMDIR
void encode_res(XdrEncoder& out, const LookupRes& res);
void encode_res(XdrEncoder& out, const AccessRes& res);
void encode_res(XdrEncoder& out, const ReadlinkRes& res);
void encode_res(XdrEncoder& out, const ReadRes& res);
void encode_res(XdrEncoder& out, const WriteRes& res);
void encode_res(XdrEncoder& out, const CreateRes& res);  // CREATE MKDIR SYMLINK MKNOD
void encode_res(XdrEncoder& out, const RenameRes& res);
void encode_res(XdrEncoder& out, const LinkRes& res);
void encode_res(XdrEncoder& out, const ReaddirRes& res);
void encode_res(XdrEncoder& out, const ReaddirplusRes& res);
void encode_res(XdrEncoder& out, const FsstatRes& res);
void encode_res(XdrEncoder& out, const FsinfoRes& res);
void encode_res(XdrEncoder& out, const PathconfRes& res);
void encode_res(XdrEncoder& out, const CommitRes& res);

// Exact encoded sizes for READDIR(PLUS) budgets.
inline constexpr size_t post_op_attr_bytes(bool present) { return 4 + (present ? kFattrBytes : 0); }
// status, dir attributes, cookie verifier, the list's end marker, eof.
inline constexpr size_t readdir_fixed_bytes(bool dir_attrs) {
  return 4 + post_op_attr_bytes(dir_attrs) + kVerifierBytes + 4 + 4;
}
// One entry in the list (with its "value follows" marker).
size_t readdir_entry_bytes(const ListEntry& entry, bool plus);
// What RFC 1813 counts against READDIRPLUS dircount: fileid, name and cookie.
size_t readdir_entry_dir_bytes(const ListEntry& entry);

}  // namespace splitarray::hostdriver::nfs::nfs3
