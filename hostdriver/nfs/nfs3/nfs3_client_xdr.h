// hostdriver/nfs/nfs3/nfs3_client_xdr.h
// The client side of NFSv3's XDR: encoders for the arguments of every procedure and decoders for
// every result. The server does not use these; tests, the fuzz target and its seed generator
// (tests/fuzz/nfs3_args_fuzz.cpp), and tools that talk NFSv3 to a server do.
//
// encode_args() ASSERTs the wire limits the server's decoders enforce (nfs3_xdr.h), except
// WriteArgs::count, which is written as given so tests can send a count that disagrees with the
// data. decode_res() is true only when the bytes are exactly one well-formed result.
#pragma once

#include <span>

#include "hostdriver/nfs/nfs3/nfs3_types.h"
#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs::nfs3 {

void encode_args(XdrEncoder& out, const FhArgs& args);
void encode_args(XdrEncoder& out, const SetattrArgs& args);
void encode_args(XdrEncoder& out, const DirOpArgs& args);
void encode_args(XdrEncoder& out, const AccessArgs& args);
void encode_args(XdrEncoder& out, const ReadArgs& args);
void encode_args(XdrEncoder& out, const WriteArgs& args);
void encode_args(XdrEncoder& out, const CreateArgs& args);
void encode_args(XdrEncoder& out, const MkdirArgs& args);
void encode_args(XdrEncoder& out, const SymlinkArgs& args);
void encode_args(XdrEncoder& out, const MknodArgs& args);
void encode_args(XdrEncoder& out, const RenameArgs& args);
void encode_args(XdrEncoder& out, const LinkArgs& args);
void encode_args(XdrEncoder& out, const ReaddirArgs& args);
void encode_args(XdrEncoder& out, const ReaddirplusArgs& args);
void encode_args(XdrEncoder& out, const CommitArgs& args);

bool decode_res(std::span<const uint8_t> bytes, GetattrRes& out);
bool decode_res(std::span<const uint8_t> bytes, WccRes& out);
bool decode_res(std::span<const uint8_t> bytes, LookupRes& out);
bool decode_res(std::span<const uint8_t> bytes, AccessRes& out);
bool decode_res(std::span<const uint8_t> bytes, ReadlinkRes& out);
bool decode_res(std::span<const uint8_t> bytes, ReadRes& out);
bool decode_res(std::span<const uint8_t> bytes, WriteRes& out);
bool decode_res(std::span<const uint8_t> bytes, CreateRes& out);
bool decode_res(std::span<const uint8_t> bytes, RenameRes& out);
bool decode_res(std::span<const uint8_t> bytes, LinkRes& out);
bool decode_res(std::span<const uint8_t> bytes, ReaddirRes& out);
bool decode_res(std::span<const uint8_t> bytes, ReaddirplusRes& out);
bool decode_res(std::span<const uint8_t> bytes, FsstatRes& out);
bool decode_res(std::span<const uint8_t> bytes, FsinfoRes& out);
bool decode_res(std::span<const uint8_t> bytes, PathconfRes& out);
bool decode_res(std::span<const uint8_t> bytes, CommitRes& out);

}  // namespace splitarray::hostdriver::nfs::nfs3
