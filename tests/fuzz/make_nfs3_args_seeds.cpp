// tests/fuzz/make_nfs3_args_seeds.cpp
// Writes the seed corpus of nfs3_args_fuzz (corpus/nfs3_args/): well-formed arguments of every
// NFS v3 procedure (every union arm: sattr3 fields set and not, each createmode, each ftype of
// MKNOD, guard or none; the longest name, handle and symlink target) and results of every
// procedure in both arms (resok with attributes, resfail), each with its mode byte.
// usage: make_nfs3_args_seeds DIR
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hostdriver/nfs/nfs3/nfs3_client_xdr.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr.h"

namespace nfs3 = splitarray::hostdriver::nfs::nfs3;
using splitarray::hostdriver::nfs::XdrEncoder;

namespace {

constexpr uint8_t kModeResults = 0x80;

struct Seed {
  uint8_t mode;
  std::vector<uint8_t> bytes;
};

nfs3::Fh fh(uint8_t fill, size_t bytes = 44) { return nfs3::Fh{std::vector<uint8_t>(bytes, fill)}; }

nfs3::DirOpArgs dirop(uint8_t fill, std::string name) {
  return nfs3::DirOpArgs{fh(fill), std::move(name)};
}

nfs3::Sattr full_sattr() {
  nfs3::Sattr attrs;
  attrs.mode = 0644;
  attrs.uid = 1000;
  attrs.gid = 100;
  attrs.size = 4096;
  attrs.atime_how = nfs3::TimeHow::kServerTime;
  attrs.mtime_how = nfs3::TimeHow::kClientTime;
  attrs.mtime = nfs3::Time{1'700'000'000, 5};
  return attrs;
}

nfs3::Fattr fattr(uint64_t fileid) {
  nfs3::Fattr attrs;
  attrs.type = nfs3::Ftype::kDir;
  attrs.mode = 0755;
  attrs.nlink = 2;
  attrs.size = 96;
  attrs.used = 4096;
  attrs.fsid = 77;
  attrs.fileid = fileid;
  attrs.mtime = nfs3::Time{1'700'000'000, 1};
  return attrs;
}

nfs3::Wcc wcc() {
  nfs3::Wcc out;
  out.before = nfs3::WccAttr{.size = 1, .mtime = nfs3::Time{2, 3}, .ctime = nfs3::Time{4, 5}};
  out.after = fattr(9);
  return out;
}

template <class Args>
void add_args(std::vector<Seed>& seeds, nfs3::Proc proc, const Args& args) {
  XdrEncoder out;
  nfs3::encode_args(out, args);
  seeds.push_back({static_cast<uint8_t>(proc), out.take()});
}

template <class Res>
void add_res(std::vector<Seed>& seeds, nfs3::Proc proc, const Res& res) {
  XdrEncoder out;
  nfs3::encode_res(out, res);
  seeds.push_back({static_cast<uint8_t>(static_cast<uint8_t>(proc) | kModeResults), out.take()});
}

void add_all_args(std::vector<Seed>& seeds) {
  using P = nfs3::Proc;
  for (P proc : {P::kGetattr, P::kReadlink, P::kFsstat, P::kFsinfo, P::kPathconf}) {
    add_args(seeds, proc, nfs3::FhArgs{fh(1)});
  }
  add_args(seeds, P::kGetattr, nfs3::FhArgs{fh(1, nfs3::kFhBytesMax)});
  add_args(seeds, P::kSetattr, nfs3::SetattrArgs{fh(2), full_sattr(), nfs3::Time{6, 7}});
  add_args(seeds, P::kSetattr, nfs3::SetattrArgs{fh(2), nfs3::Sattr{}, std::nullopt});
  for (P proc : {P::kLookup, P::kRemove, P::kRmdir}) add_args(seeds, proc, dirop(3, "name"));
  add_args(seeds, P::kLookup, dirop(3, std::string(nfs3::kNameWireBytesMax, 'n')));
  add_args(seeds, P::kAccess, nfs3::AccessArgs{fh(4), nfs3::kAccessAll});
  add_args(seeds, P::kRead, nfs3::ReadArgs{fh(5), 8192, 65536});
  add_args(
      seeds, P::kWrite,
      nfs3::WriteArgs{fh(6), 4096, 11, nfs3::StableHow::kUnstable, std::vector<uint8_t>(11, 'w')});
  add_args(seeds, P::kWrite,
           nfs3::WriteArgs{fh(6), 0, 0, nfs3::StableHow::kFileSync, std::vector<uint8_t>()});
  for (nfs3::CreateHow how : {nfs3::CreateHow::kUnchecked, nfs3::CreateHow::kGuarded}) {
    add_args(seeds, P::kCreate, nfs3::CreateArgs{dirop(7, "f"), how, full_sattr(), {}});
  }
  add_args(seeds, P::kCreate,
           nfs3::CreateArgs{dirop(7, "x"), nfs3::CreateHow::kExclusive, nfs3::Sattr{},
                            nfs3::verifier_of(42)});
  add_args(seeds, P::kMkdir, nfs3::MkdirArgs{dirop(8, "d"), full_sattr()});
  add_args(seeds, P::kSymlink, nfs3::SymlinkArgs{dirop(9, "l"), nfs3::Sattr{}, "../target"});
  add_args(
      seeds, P::kSymlink,
      nfs3::SymlinkArgs{dirop(9, "l"), nfs3::Sattr{}, std::string(nfs3::kPathWireBytesMax, 't')});
  for (uint32_t type = 1; type <= nfs3::kFtypeMax; ++type) {
    add_args(
        seeds, P::kMknod,
        nfs3::MknodArgs{dirop(10, "node"), static_cast<nfs3::Ftype>(type), full_sattr(), 1, 3});
  }
  add_args(seeds, P::kRename, nfs3::RenameArgs{dirop(11, "a"), dirop(12, "b")});
  add_args(seeds, P::kLink, nfs3::LinkArgs{fh(13), dirop(14, "hard")});
  add_args(seeds, P::kReaddir, nfs3::ReaddirArgs{fh(15), 0, {}, 4096});
  add_args(seeds, P::kReaddirplus, nfs3::ReaddirplusArgs{fh(16), 77, {}, 512, 4096});
  add_args(seeds, P::kCommit, nfs3::CommitArgs{fh(17), 0, 0});
}

void add_all_results(std::vector<Seed>& seeds) {
  using P = nfs3::Proc;
  using S = nfs3::Status;
  add_res(seeds, P::kGetattr, nfs3::GetattrRes{S::kOk, fattr(1)});
  add_res(seeds, P::kGetattr, nfs3::GetattrRes{S::kStale, {}});
  for (P proc : {P::kSetattr, P::kRemove, P::kRmdir}) {
    add_res(seeds, proc, nfs3::WccRes{S::kOk, wcc()});
    add_res(seeds, proc, nfs3::WccRes{S::kAcces, {}});
  }
  add_res(seeds, P::kLookup, nfs3::LookupRes{S::kOk, fh(3), fattr(3), fattr(1)});
  add_res(seeds, P::kLookup, nfs3::LookupRes{S::kNoent, {}, std::nullopt, fattr(1)});
  add_res(seeds, P::kAccess, nfs3::AccessRes{S::kOk, fattr(4), 3});
  add_res(seeds, P::kReadlink, nfs3::ReadlinkRes{S::kOk, fattr(5), "target"});
  add_res(seeds, P::kRead, nfs3::ReadRes{S::kOk, fattr(6), true, std::vector<uint8_t>(9, 'r')});
  add_res(seeds, P::kRead, nfs3::ReadRes{S::kIsdir, std::nullopt, false, {}});
  add_res(seeds, P::kWrite,
          nfs3::WriteRes{S::kOk, wcc(), 9, nfs3::StableHow::kFileSync, nfs3::verifier_of(1)});
  for (P proc : {P::kCreate, P::kMkdir, P::kSymlink, P::kMknod}) {
    add_res(seeds, proc, nfs3::CreateRes{S::kOk, fh(8), fattr(8), wcc()});
    add_res(seeds, proc, nfs3::CreateRes{S::kExist, std::nullopt, std::nullopt, wcc()});
  }
  add_res(seeds, P::kRename, nfs3::RenameRes{S::kOk, wcc(), wcc()});
  add_res(seeds, P::kLink, nfs3::LinkRes{S::kOk, fattr(9), wcc()});
  nfs3::ReaddirRes listing{S::kOk, fattr(1), {}, {}, true};
  listing.entries.push_back(nfs3::ListEntry{1, ".", 1, std::nullopt, std::nullopt});
  listing.entries.push_back(nfs3::ListEntry{9, "file", 4242, std::nullopt, std::nullopt});
  add_res(seeds, P::kReaddir, listing);
  nfs3::ReaddirplusRes plus{S::kOk, fattr(1), {}, {}, false};
  plus.entries.push_back(nfs3::ListEntry{9, "file", 4242, fattr(9), fh(9)});
  plus.entries.push_back(nfs3::ListEntry{10, "gone", 4243, std::nullopt, std::nullopt});
  add_res(seeds, P::kReaddirplus, plus);
  add_res(seeds, P::kFsstat, nfs3::FsstatRes{S::kOk, fattr(1), 1, 2, 3, 4, 5, 6, 0});
  add_res(seeds, P::kFsinfo,
          nfs3::FsinfoRes{S::kOk, fattr(1), 1, 2, 3, 4, 5, 6, 7, 8, nfs3::Time{0, 1}, 0x1b});
  add_res(seeds, P::kPathconf, nfs3::PathconfRes{S::kOk, fattr(1), 1, 2, true, true, false, true});
  add_res(seeds, P::kCommit, nfs3::CommitRes{S::kOk, wcc(), nfs3::verifier_of(1)});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::vector<Seed> seeds;
  add_all_args(seeds);
  add_all_results(seeds);
  int n = 0;
  for (const Seed& seed : seeds) {
    std::vector<uint8_t> bytes = seed.bytes;
    bytes.insert(bytes.begin(), seed.mode);
    std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) return 1;
  }
  std::printf("wrote %d seeds\n", n);
  return 0;
}
