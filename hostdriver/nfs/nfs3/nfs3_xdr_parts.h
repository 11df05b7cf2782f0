// hostdriver/nfs/nfs3/nfs3_xdr_parts.h
// XDR of the values NFSv3 arguments and results share (handles, names, times, fattr3, wcc_data,
// sattr3), in both directions. The server (nfs3_xdr.h) and the client side (nfs3_client_xdr.h)
// build their messages from these.
//
// Getters read untrusted bytes through a sticky-failing XdrDecoder: every length is checked
// against a named wire limit, every enum against its range; on failure they return defaults and
// leave the decoder failed. Putters ASSERT the limits the getters enforce, so anything we encode
// decodes.
#pragma once

#include <string>

#include "hostdriver/nfs/nfs3/nfs3_types.h"
#include "hostdriver/nfs/xdr.h"

namespace splitarray::hostdriver::nfs::nfs3 {

Fh get_fh(XdrDecoder& in);  // <= kFhBytesMax
void put_fh(XdrEncoder& out, const Fh& fh);
std::string get_name(XdrDecoder& in);  // <= kNameWireBytesMax (the program checks the rest)
void put_name(XdrEncoder& out, const std::string& name);
Verifier get_verifier(XdrDecoder& in);
void put_verifier(XdrEncoder& out, const Verifier& verifier);
Time get_time(XdrDecoder& in);
void put_time(XdrEncoder& out, const Time& time);
Ftype get_ftype(XdrDecoder& in);
DirOpArgs get_dirop(XdrDecoder& in);
void put_dirop(XdrEncoder& out, const DirOpArgs& dirop);

Fattr get_fattr(XdrDecoder& in);
void put_fattr(XdrEncoder& out, const Fattr& attrs);
PostOpAttr get_post_op_attr(XdrDecoder& in);
void put_post_op_attr(XdrEncoder& out, const PostOpAttr& attrs);
std::optional<Fh> get_post_op_fh(XdrDecoder& in);
void put_post_op_fh(XdrEncoder& out, const std::optional<Fh>& fh);
Wcc get_wcc(XdrDecoder& in);
void put_wcc(XdrEncoder& out, const Wcc& wcc);

Sattr get_sattr(XdrDecoder& in);
void put_sattr(XdrEncoder& out, const Sattr& attrs);

// nfsstat3: only the values RFC 1813 defines decode.
Status get_status(XdrDecoder& in);
void put_status(XdrEncoder& out, Status status);

}  // namespace splitarray::hostdriver::nfs::nfs3
