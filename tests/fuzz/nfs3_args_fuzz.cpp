// tests/fuzz/nfs3_args_fuzz.cpp
// libFuzzer target for the NFS v3 XDR (hostdriver/nfs/nfs3/nfs3_xdr.h, nfs3_client_xdr.h): the
// server decodes the arguments of every call from untrusted bytes, and tools and tests decode
// replies; a decoder that crashed, over-allocated or misread a length would take the host
// driver down or corrupt a request.
//
// Input: byte 0 is a mode: bits 0..6 select the procedure (modulo 22); bit 7 selects its result
// decoder (client side) instead of its argument decoder (server side). The rest is the message.
// Oracles (__builtin_trap): whatever a decoder accepts, the other side's encoder writes (its
// ASSERTs on the wire limits hold) in as many bytes (XDR is canonical but for padding), the
// decoder reads back equal, and encoding that again gives the same bytes.
#include <cstdint>
#include <span>
#include <vector>

#include "hostdriver/nfs/nfs3/nfs3_client_xdr.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr.h"

namespace splitarray::fuzz {
namespace {

namespace nfs3 = hostdriver::nfs::nfs3;
using hostdriver::nfs::XdrEncoder;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr uint8_t kModeResults = 0x80;
constexpr uint8_t kProcMask = 0x7f;

// Server side: decode arguments, encode them as a client would, decode again.
template <class Args>
void check_args(std::span<const uint8_t> bytes) {
  Args decoded;
  if (!nfs3::decode_args(bytes, decoded)) return;
  XdrEncoder first;
  nfs3::encode_args(first, decoded);
  FUZZ_CHECK(first.size() == bytes.size());  // only padding bytes may differ
  Args again;
  FUZZ_CHECK(nfs3::decode_args(first.bytes(), again));
  FUZZ_CHECK(again == decoded);
  XdrEncoder second;
  nfs3::encode_args(second, again);
  FUZZ_CHECK(second.bytes() == first.bytes());
}

// Client side: decode a result, encode it as the server would, decode again.
template <class Res>
void check_res(std::span<const uint8_t> bytes) {
  Res decoded;
  if (!nfs3::decode_res(bytes, decoded)) return;
  XdrEncoder first;
  nfs3::encode_res(first, decoded);
  FUZZ_CHECK(first.size() == bytes.size());
  Res again;
  FUZZ_CHECK(nfs3::decode_res(first.bytes(), again));
  FUZZ_CHECK(again == decoded);
  XdrEncoder second;
  nfs3::encode_res(second, again);
  FUZZ_CHECK(second.bytes() == first.bytes());
}

void fuzz_args(nfs3::Proc proc, std::span<const uint8_t> bytes) {
  using P = nfs3::Proc;
  switch (proc) {
    case P::kNull:
      return;  // no arguments
    case P::kGetattr:
    case P::kReadlink:
    case P::kFsstat:
    case P::kFsinfo:
    case P::kPathconf:
      return check_args<nfs3::FhArgs>(bytes);
    case P::kSetattr:
      return check_args<nfs3::SetattrArgs>(bytes);
    case P::kLookup:
    case P::kRemove:
    case P::kRmdir:
      return check_args<nfs3::DirOpArgs>(bytes);
    case P::kAccess:
      return check_args<nfs3::AccessArgs>(bytes);
    case P::kRead:
      return check_args<nfs3::ReadArgs>(bytes);
    case P::kWrite:
      return check_args<nfs3::WriteArgs>(bytes);
    case P::kCreate:
      return check_args<nfs3::CreateArgs>(bytes);
    case P::kMkdir:
      return check_args<nfs3::MkdirArgs>(bytes);
    case P::kSymlink:
      return check_args<nfs3::SymlinkArgs>(bytes);
    case P::kMknod:
      return check_args<nfs3::MknodArgs>(bytes);
    case P::kRename:
      return check_args<nfs3::RenameArgs>(bytes);
    case P::kLink:
      return check_args<nfs3::LinkArgs>(bytes);
    case P::kReaddir:
      return check_args<nfs3::ReaddirArgs>(bytes);
    case P::kReaddirplus:
      return check_args<nfs3::ReaddirplusArgs>(bytes);
    case P::kCommit:
      return check_args<nfs3::CommitArgs>(bytes);
  }
}

void fuzz_res(nfs3::Proc proc, std::span<const uint8_t> bytes) {
  using P = nfs3::Proc;
  switch (proc) {
    case P::kNull:
      return;  // no results
    case P::kGetattr:
      return check_res<nfs3::GetattrRes>(bytes);
    case P::kSetattr:
    case P::kRemove:
    case P::kRmdir:
      return check_res<nfs3::WccRes>(bytes);
    case P::kLookup:
      return check_res<nfs3::LookupRes>(bytes);
    case P::kAccess:
      return check_res<nfs3::AccessRes>(bytes);
    case P::kReadlink:
      return check_res<nfs3::ReadlinkRes>(bytes);
    case P::kRead:
      return check_res<nfs3::ReadRes>(bytes);
    case P::kWrite:
      return check_res<nfs3::WriteRes>(bytes);
    case P::kCreate:
    case P::kMkdir:
    case P::kSymlink:
    case P::kMknod:
      return check_res<nfs3::CreateRes>(bytes);
    case P::kRename:
      return check_res<nfs3::RenameRes>(bytes);
    case P::kLink:
      return check_res<nfs3::LinkRes>(bytes);
    case P::kReaddir:
      return check_res<nfs3::ReaddirRes>(bytes);
    case P::kReaddirplus:
      return check_res<nfs3::ReaddirplusRes>(bytes);
    case P::kFsstat:
      return check_res<nfs3::FsstatRes>(bytes);
    case P::kFsinfo:
      return check_res<nfs3::FsinfoRes>(bytes);
    case P::kPathconf:
      return check_res<nfs3::PathconfRes>(bytes);
    case P::kCommit:
      return check_res<nfs3::CommitRes>(bytes);
  }
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray::fuzz;
  if (size < 1) return 0;
  const auto proc = static_cast<nfs3::Proc>((data[0] & kProcMask) % nfs3::kProcCount);
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  if (data[0] & kModeResults) {
    fuzz_res(proc, bytes);
  } else {
    fuzz_args(proc, bytes);
  }
  return 0;
}
