// Pure tests of the NFS v3 XDR (hostdriver/nfs/nfs3/nfs3_xdr.h and nfs3_client_xdr.h): every
// argument and every result round-trips between the client and server sides; truncated,
// over-long, out-of-range and trailing bytes are refused; the readdir size arithmetic equals the
// encoded sizes; and the conversions between file-system values and fattr3 / nfstime3.
#include <doctest/doctest.h>

#include "hostdriver/nfs/nfs3/nfs3_client_xdr.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

Fh fh_of(uint8_t fill, size_t bytes = kFileHandleBytes) {
  return Fh{std::vector<uint8_t>(bytes, fill)};
}

Sattr every_attr() {
  Sattr attrs;
  attrs.mode = 04755;
  attrs.uid = 1000;
  attrs.gid = 100;
  attrs.size = uint64_t{1} << 40;
  attrs.atime_how = TimeHow::kClientTime;
  attrs.atime = Time{1'700'000'000, 999'999'999};
  attrs.mtime_how = TimeHow::kServerTime;
  return attrs;
}

Fattr some_fattr(uint64_t fileid) {
  Fattr attrs;
  attrs.type = Ftype::kChr;
  attrs.mode = 0640;
  attrs.nlink = 3;
  attrs.uid = 7;
  attrs.gid = 8;
  attrs.size = 12345;
  attrs.used = 16384;
  attrs.rdev_major = 4;
  attrs.rdev_minor = 64;
  attrs.fsid = 0xfeedface;
  attrs.fileid = fileid;
  attrs.atime = Time{1, 2};
  attrs.mtime = Time{3, 4};
  attrs.ctime = Time{5, 6};
  return attrs;
}

Wcc some_wcc() {
  Wcc wcc;
  wcc.before = WccAttr{.size = 10, .mtime = Time{7, 8}, .ctime = Time{9, 10}};
  wcc.after = some_fattr(99);
  return wcc;
}

template <class Args>
std::vector<uint8_t> encoded(const Args& args) {
  XdrEncoder out;
  encode_args(out, args);
  return out.take();
}

// The server decodes exactly what the client encoded, and refuses every strict prefix and the
// same bytes followed by one more XDR unit.
template <class Args>
void check_args(const Args& args, bool check_prefixes = true) {
  const std::vector<uint8_t> bytes = encoded(args);
  Args decoded;
  REQUIRE(decode_args(bytes, decoded));
  CHECK(decoded == args);
  if (check_prefixes) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      Args partial;
      CHECK_MESSAGE(!decode_args(std::span(bytes).first(n), partial), "prefix " << n);
    }
  }
  std::vector<uint8_t> longer = bytes;
  longer.insert(longer.end(), {0, 0, 0, 0});
  Args trailing;
  CHECK_FALSE(decode_args(longer, trailing));
}

// The client decodes exactly what the server encoded, and refuses every strict prefix.
template <class Res>
void check_res(const Res& res) {
  XdrEncoder out;
  encode_res(out, res);
  const std::vector<uint8_t> bytes = out.take();
  Res decoded;
  REQUIRE(decode_res(bytes, decoded));
  CHECK(decoded == res);
  for (size_t n = 0; n < bytes.size(); n += kXdrUnit) {
    Res partial;
    CHECK_MESSAGE(!decode_res(std::span(bytes).first(n), partial), "prefix " << n);
  }
}

DirOpArgs dirop(uint8_t fill, std::string name) { return DirOpArgs{fh_of(fill), std::move(name)}; }

}  // namespace

TEST_CASE("hostdriver/nfs3/xdr: every procedure's arguments round-trip, prefixes and tails fail") {
  check_args(FhArgs{fh_of(1)});
  check_args(FhArgs{fh_of(1, 0)});            // an empty handle decodes (it is BADHANDLE later)
  check_args(FhArgs{fh_of(1, kFhBytesMax)});  // the largest
  check_args(SetattrArgs{fh_of(2), every_attr(), Time{11, 12}});
  check_args(SetattrArgs{fh_of(2), Sattr{}, std::nullopt});
  check_args(dirop(3, "name"));
  check_args(dirop(3, std::string(kNameWireBytesMax, 'n')));  // NAMETOOLONG is the program's
  check_args(AccessArgs{fh_of(4), kAccessAll});
  check_args(ReadArgs{fh_of(5), UINT64_MAX, UINT32_MAX});
  check_args(WriteArgs{fh_of(6), 4096, 5, StableHow::kDataSync, {1, 2, 3, 4, 5}});
  check_args(WriteArgs{fh_of(6), 0, 0, StableHow::kUnstable, {}});
  for (CreateHow how : {CreateHow::kUnchecked, CreateHow::kGuarded}) {
    check_args(CreateArgs{dirop(7, "f"), how, every_attr(), Verifier{}});
  }
  check_args(CreateArgs{dirop(7, "f"), CreateHow::kExclusive, Sattr{}, verifier_of(0x0102)});
  check_args(MkdirArgs{dirop(8, "d"), every_attr()});
  check_args(SymlinkArgs{dirop(9, "l"), Sattr{}, std::string(kPathWireBytesMax, 't')}, false);
  check_args(SymlinkArgs{dirop(9, "l"), every_attr(), "../target"});
  check_args(MknodArgs{dirop(10, "c"), Ftype::kChr, every_attr(), 1, 3});
  check_args(MknodArgs{dirop(10, "b"), Ftype::kBlk, Sattr{}, 8, 0});
  check_args(MknodArgs{dirop(10, "s"), Ftype::kSock, every_attr(), 0, 0});
  check_args(MknodArgs{dirop(10, "p"), Ftype::kFifo, Sattr{}, 0, 0});
  check_args(MknodArgs{dirop(10, "r"), Ftype::kReg, Sattr{}, 0, 0});  // void arm: BADTYPE later
  check_args(RenameArgs{dirop(11, "a"), dirop(12, "b")});
  check_args(LinkArgs{fh_of(13), dirop(14, "hard")});
  check_args(ReaddirArgs{fh_of(15), 77, verifier_of(5), 4096});
  check_args(ReaddirplusArgs{fh_of(16), 78, Verifier{}, 512, 65536});
  check_args(CommitArgs{fh_of(17), 0, 0});
}

TEST_CASE("hostdriver/nfs3/xdr: over-long, out-of-range and inconsistent arguments are refused") {
  FhArgs fh;
  CHECK(decode_args(encoded(FhArgs{fh_of(1, kFhBytesMax)}), fh));
  // A handle of 65 bytes: written by hand (the client encoder refuses it).
  XdrEncoder long_handle;
  long_handle.opaque(std::vector<uint8_t>(kFhBytesMax + 1, 1));
  CHECK_FALSE(decode_args(long_handle.bytes(), fh));

  XdrEncoder long_name;
  long_name.opaque(fh_of(1).bytes);
  long_name.string(std::string(kNameWireBytesMax + 1, 'x'));
  DirOpArgs dirop_args;
  CHECK_FALSE(decode_args(long_name.bytes(), dirop_args));

  // WRITE: the count must equal the data's length.
  WriteArgs mismatch{fh_of(6), 0, 4, StableHow::kFileSync, {1, 2, 3}};
  WriteArgs write_args;
  CHECK_FALSE(decode_args(encoded(mismatch), write_args));
  // Enums and bools out of range: stable_how 3, createmode 3, ftype 0 and 8, time_how 3, bool 2.
  auto patched = [](std::vector<uint8_t> bytes, size_t at, uint32_t value) {
    bytes[at] = static_cast<uint8_t>(value >> 24);
    bytes[at + 1] = static_cast<uint8_t>(value >> 16);
    bytes[at + 2] = static_cast<uint8_t>(value >> 8);
    bytes[at + 3] = static_cast<uint8_t>(value);
    return bytes;
  };
  const size_t fh_bytes = 4 + kFileHandleBytes;
  const std::vector<uint8_t> write_bytes =
      encoded(WriteArgs{fh_of(6), 0, 1, StableHow::kFileSync, {9}});
  CHECK(decode_args(patched(write_bytes, fh_bytes + 12, 2), write_args));
  CHECK_FALSE(decode_args(patched(write_bytes, fh_bytes + 12, 3), write_args));

  const size_t dirop_bytes = fh_bytes + 4 + 4;  // handle, name "f" padded
  CreateArgs create_args;
  const std::vector<uint8_t> create_bytes =
      encoded(CreateArgs{dirop(7, "f"), CreateHow::kGuarded, Sattr{}, Verifier{}});
  CHECK(decode_args(create_bytes, create_args));
  CHECK_FALSE(decode_args(patched(create_bytes, dirop_bytes, 3), create_args));
  CHECK_FALSE(decode_args(patched(create_bytes, dirop_bytes + 4, 2), create_args));   // set_mode
  CHECK_FALSE(decode_args(patched(create_bytes, dirop_bytes + 20, 3), create_args));  // atime

  MknodArgs mknod_args;
  const std::vector<uint8_t> mknod_bytes =
      encoded(MknodArgs{dirop(10, "p"), Ftype::kFifo, Sattr{}, 0, 0});
  CHECK(decode_args(mknod_bytes, mknod_args));
  CHECK_FALSE(decode_args(patched(mknod_bytes, dirop_bytes, 0), mknod_args));
  CHECK_FALSE(decode_args(patched(mknod_bytes, dirop_bytes, 8), mknod_args));

  // A padding-sized tail and garbage alone.
  const std::vector<uint8_t> garbage(7, 0xff);
  CHECK_FALSE(decode_args(garbage, dirop_args));
  CHECK_FALSE(decode_args(std::vector<uint8_t>{}, fh));
}

TEST_CASE("hostdriver/nfs3/xdr: every result round-trips in both union arms") {
  check_res(GetattrRes{Status::kOk, some_fattr(1)});
  check_res(GetattrRes{Status::kStale, Fattr{}});
  check_res(WccRes{Status::kOk, some_wcc()});
  check_res(WccRes{Status::kAcces, Wcc{}});
  check_res(LookupRes{Status::kOk, fh_of(3), some_fattr(3), some_fattr(1)});
  check_res(LookupRes{Status::kNoent, Fh{}, std::nullopt, some_fattr(1)});
  check_res(AccessRes{Status::kOk, some_fattr(4), kAccessRead | kAccessLookup});
  check_res(AccessRes{Status::kBadhandle, std::nullopt, 0});
  check_res(ReadlinkRes{Status::kOk, some_fattr(5), "../x"});
  check_res(ReadlinkRes{Status::kInval, some_fattr(5), ""});
  check_res(ReadRes{Status::kOk, some_fattr(6), true, {1, 2, 3}});
  check_res(ReadRes{Status::kIsdir, some_fattr(6), false, {}});
  check_res(WriteRes{Status::kOk, some_wcc(), 3, StableHow::kFileSync, verifier_of(42)});
  check_res(WriteRes{Status::kFbig, some_wcc(), 0, StableHow::kUnstable, Verifier{}});
  check_res(CreateRes{Status::kOk, fh_of(8), some_fattr(8), some_wcc()});
  check_res(CreateRes{Status::kOk, std::nullopt, std::nullopt, Wcc{}});
  check_res(CreateRes{Status::kExist, std::nullopt, std::nullopt, some_wcc()});
  check_res(RenameRes{Status::kOk, some_wcc(), Wcc{}});
  check_res(RenameRes{Status::kNotempty, Wcc{}, some_wcc()});
  check_res(LinkRes{Status::kOk, some_fattr(9), some_wcc()});
  check_res(LinkRes{Status::kMlink, std::nullopt, Wcc{}});
  ReaddirRes listing{Status::kOk, some_fattr(1), verifier_of(0), {}, true};
  listing.entries.push_back(ListEntry{2, ".", 1, std::nullopt, std::nullopt});
  listing.entries.push_back(ListEntry{9, "longer-name", 77, std::nullopt, std::nullopt});
  check_res(listing);
  check_res(ReaddirRes{Status::kToosmall, some_fattr(1), Verifier{}, {}, false});
  ReaddirplusRes plus{Status::kOk, std::nullopt, Verifier{}, {}, false};
  plus.entries.push_back(ListEntry{2, "a", 300, some_fattr(2), fh_of(2)});
  plus.entries.push_back(ListEntry{3, "gone", 301, std::nullopt, std::nullopt});
  check_res(plus);
  check_res(FsstatRes{Status::kOk, some_fattr(1), 1, 2, 3, 4, 5, 6, 7});
  check_res(FsinfoRes{Status::kOk, some_fattr(1), 1, 2, 3, 4, 5, 6, 7, 8, Time{0, 1}, 0x1b});
  check_res(PathconfRes{Status::kOk, std::nullopt, 65000, 255, true, true, false, true});
  check_res(CommitRes{Status::kOk, some_wcc(), verifier_of(7)});
  check_res(CommitRes{Status::kJukebox, Wcc{}, Verifier{}});
  // A status RFC 1813 does not define does not decode.
  XdrEncoder unknown;
  unknown.u32(12345);
  unknown.boolean(false);
  unknown.boolean(false);
  WccRes wcc_res;
  CHECK_FALSE(decode_res(unknown.bytes(), wcc_res));
}

TEST_CASE("hostdriver/nfs3/xdr: readdir sizes are the encoded sizes") {
  for (bool plus : {false, true}) {
    for (size_t name_bytes : {1, 2, 3, 4, 5, 255}) {
      ListEntry entry{5, std::string(name_bytes, 'n'), 1000, std::nullopt, std::nullopt};
      if (plus) {
        entry.attrs = some_fattr(5);
        entry.handle = fh_of(5);
      }
      XdrEncoder out;
      if (plus) {
        ReaddirplusRes res{Status::kOk, some_fattr(1), Verifier{}, {entry, entry}, true};
        encode_res(out, res);
      } else {
        ReaddirRes res{Status::kOk, some_fattr(1), Verifier{}, {entry, entry}, true};
        encode_res(out, res);
      }
      CHECK(out.size() == readdir_fixed_bytes(true) + 2 * readdir_entry_bytes(entry, plus));
      CHECK(readdir_entry_dir_bytes(entry) == 8 + 4 + xdr_padded(name_bytes) + 8);
    }
  }
}

TEST_CASE("hostdriver/nfs3/types: fattr3, nfstime3 and verifiers from file-system values") {
  fs::Attributes attrs;
  attrs.inode = 42;
  attrs.type = fs::FileType::kRegular;
  attrs.mode = 0100644 & 07777;
  attrs.size = 4097;
  attrs.nlink = 1;
  attrs.mtime = WallTime{1'700'000'000'123'456'789};
  attrs.ctime = WallTime{-5};  // before 1970: reads as 0
  const Fattr out = fattr_of(attrs, 0xabc);
  CHECK(out.type == Ftype::kReg);
  CHECK(out.fileid == 42);
  CHECK(out.fsid == 0xabc);
  CHECK(out.used == 8192);  // rounded up to 4 KiB
  CHECK(out.mtime == Time{1'700'000'000, 123'456'789});
  CHECK(out.ctime == Time{0, 0});
  CHECK(wall_time_of(out.mtime) == attrs.mtime);  // exact: the SETATTR guard relies on it
  CHECK(time_of(WallTime{int64_t{UINT32_MAX} * kNanosPerSecond * 2}).seconds == UINT32_MAX);
  attrs.size = 0;
  CHECK(fattr_of(attrs, 1).used == 0);
  attrs.size = fs::kFileBytesMax;
  CHECK(fattr_of(attrs, 1).used >= fs::kFileBytesMax);

  const Verifier verifier = verifier_of(0x0102030405060708);
  CHECK(verifier == Verifier{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(value_of(verifier) == 0x0102030405060708);
  CHECK(ftype_of(fs::FileType::kSymlink) == Ftype::kLnk);
  CHECK(ftype_of(fs::FileType::kBlockDevice) == Ftype::kBlk);
  CHECK(std::string(status_name(Status::kJukebox)) == "NFS3ERR_JUKEBOX");
  CHECK(is_status(10008));
  CHECK_FALSE(is_status(3));
}

}  // namespace splitarray::hostdriver::nfs::nfs3
