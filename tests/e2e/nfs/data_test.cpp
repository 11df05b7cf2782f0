// NFS v3 conformance through libnfs, part 4: READ, WRITE, COMMIT (RFC 1813 §3.3.6, 3.3.7,
// 3.3.21): ranges and EOF, exact WCC, stable_how and the write verifier, large and sparse files,
// and transfers larger than FSINFO's rtmax / wtmax.
#include <thread>

#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kTiB = uint64_t{1} << 40;

TEST_CASE("e2e/nfs: READ ranges and EOF, ISDIR, INVAL for a symlink, STALE, BADHANDLE") {
  Session s("read");
  const std::vector<uint8_t> data = pattern(10, 0, 10000);
  const Fh file = make_file(*s.nfs, s.root, "f", data);

  ReadRes res = s.nfs->read(file, 0, 10000);
  REQUIRE_OK(res);
  CHECK(res.count == 10000);
  CHECK(res.data == data);
  CHECK(res.eof);  // the read reached the end of the file
  REQUIRE(res.attrs.has_value());
  CHECK(same_attrs(*res.attrs, attrs_of(*s.nfs, file)));

  res = s.nfs->read(file, 0, 4000);
  REQUIRE_OK(res);
  CHECK(res.count == 4000);
  CHECK(!res.eof);
  CHECK(res.data == pattern(10, 0, 4000));

  res = s.nfs->read(file, 9000, 4000);  // straddles EOF: short read, eof
  REQUIRE_OK(res);
  CHECK(res.count == 1000);
  CHECK(res.data == pattern(10, 9000, 1000));
  CHECK(res.eof);

  for (uint64_t offset : {uint64_t{10000}, uint64_t{10001}, kTiB, uint64_t{INT64_MAX}}) {
    res = s.nfs->read(file, offset, 100);  // at or past EOF: 0 bytes, eof
    REQUIRE_OK(res);
    CHECK_MESSAGE(res.count == 0, "offset " << offset);
    CHECK(res.data.empty());
    CHECK_MESSAGE(res.eof, "offset " << offset);
  }
  res = s.nfs->read(file, 0, 0);
  REQUIRE_OK(res);
  CHECK(res.count == 0);

  const ReadRes of_dir = s.nfs->read(s.root, 0, 10);
  // RFC 1813 lists INVAL for READ; knfsd answers ISDIR. Either is a refusal.
  CHECK_MESSAGE((of_dir.status == NFS3ERR_ISDIR || of_dir.status == NFS3ERR_INVAL),
                "READ of a directory: " << describe(of_dir));
  const CreateRes link = s.nfs->symlink(s.root, "l", "f");
  REQUIRE_OK(link);
  CHECK_STATUS(s.nfs->read(*link.fh, 0, 10), NFS3ERR_INVAL);
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->read(stale, 0, 10), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->read(bit_flipped(file), 0, 10), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: WRITE with exact WCC, holes read as zeros, ISDIR, INVAL, ACCES, FBIG, STALE") {
  Session s("write");
  const Fh file = make_file(*s.nfs, s.root, "f");

  fattr3 before = attrs_of(*s.nfs, file);
  const std::vector<uint8_t> first = pattern(11, 0, 4096);
  WriteRes res = s.nfs->write(file, 0, first, FILE_SYNC);
  REQUIRE_OK(res);
  CHECK(res.count == 4096);
  fattr3 after = attrs_of(*s.nfs, file);
  check_wcc(res.wcc, before, after, "WRITE extending");
  CHECK(after.size == 4096);
  CHECK(time_before(before.mtime, after.mtime));

  // Overwrite inside the file: size stays, mtime moves.
  before = after;
  res = s.nfs->write(file, 100, pattern(12, 0, 50), FILE_SYNC);
  REQUIRE_OK(res);
  after = attrs_of(*s.nfs, file);
  check_wcc(res.wcc, before, after, "WRITE overwrite");
  CHECK(after.size == 4096);
  CHECK(time_before(before.mtime, after.mtime));

  // A write past EOF leaves a hole of zeros.
  before = after;
  res = s.nfs->write(file, kMiB, pattern(13, 0, 10), FILE_SYNC);
  REQUIRE_OK(res);
  after = attrs_of(*s.nfs, file);
  check_wcc(res.wcc, before, after, "WRITE past EOF");
  CHECK(after.size == kMiB + 10);
  ReadRes read = s.nfs->read(file, 0, 8192);
  REQUIRE_OK(read);
  std::vector<uint8_t> expected = first;
  const std::vector<uint8_t> middle = pattern(12, 0, 50);
  std::copy(middle.begin(), middle.end(), expected.begin() + 100);
  expected.resize(8192, 0);
  CHECK(read.data == expected);
  read = s.nfs->read(file, kMiB - 5, 100);
  REQUIRE_OK(read);
  std::vector<uint8_t> tail(5, 0);
  const std::vector<uint8_t> last = pattern(13, 0, 10);
  tail.insert(tail.end(), last.begin(), last.end());
  CHECK(read.data == tail);
  CHECK(read.eof);

  const WriteRes of_dir = s.nfs->write(s.root, 0, first, FILE_SYNC);
  CHECK_MESSAGE((of_dir.status == NFS3ERR_ISDIR || of_dir.status == NFS3ERR_INVAL),
                "WRITE to a directory: " << describe(of_dir));
  const CreateRes link = s.nfs->symlink(s.root, "l", "f");
  REQUIRE_OK(link);
  CHECK_STATUS(s.nfs->write(*link.fh, 0, first, FILE_SYNC), NFS3ERR_INVAL);
  // Beyond the largest file offset (INT64_MAX): FBIG; nothing changes.
  const fattr3 now = attrs_of(*s.nfs, file);
  const WriteRes huge = s.nfs->write(file, uint64_t{1} << 63, first, FILE_SYNC);
  CHECK_STATUS(huge, NFS3ERR_FBIG);
  check_unchanged_wcc(huge.wcc, now, "WRITE FBIG");
  // Another user on a root-owned 0644 file: ACCES, nothing written.
  s.nfs->rpc().set_credentials(1000, 1000);
  const WriteRes denied = s.nfs->write(file, 0, pattern(14, 0, 10), FILE_SYNC);
  CHECK_STATUS(denied, NFS3ERR_ACCES);
  s.nfs->rpc().set_credentials(0, 0);
  CHECK(same_attrs(attrs_of(*s.nfs, file), now));
  // A count that disagrees with the data sent is a malformed call (GARBAGE_ARGS, like knfsd);
  // the connection and the file are unharmed.
  auto sloppy = s.cluster.client();
  const WriteRes mismatched = sloppy->write(file, 0, pattern(15, 0, 100), FILE_SYNC, 200);
  CHECK_MESSAGE(mismatched.rpc == RpcOutcome::kFailed,
                "count 200 with 100 bytes: " << describe(mismatched));
  CHECK(same_attrs(attrs_of(*s.nfs, file), now));
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->write(stale, 0, first, FILE_SYNC), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->write(bit_flipped(file), 0, first, FILE_SYNC), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: WRITE stable_how and COMMIT share one verifier, COMMIT errors") {
  Session s("commit");
  const Fh file = make_file(*s.nfs, s.root, "f");
  std::optional<Verf> verf;
  for (uint64_t i = 0; i < 8; ++i) {
    const WriteRes res = s.nfs->write(file, i * 65536, pattern(20, i * 65536, 65536), UNSTABLE);
    REQUIRE_OK(res);
    CHECK(res.count == 65536);
    CHECK(res.committed >= UNSTABLE);
    if (!verf) verf = res.verf;
    CHECK_MESSAGE(res.verf == *verf, "UNSTABLE write " << i << " changed the verifier");
  }
  {
    // An UNSTABLE write's WCC is as exact as a stable one's.
    const fattr3 before = attrs_of(*s.nfs, file);
    const WriteRes res =
        s.nfs->write(file, 8 * 65536 - 100, pattern(20, 8 * 65536 - 100, 100), UNSTABLE);
    REQUIRE_OK(res);
    check_wcc(res.wcc, before, attrs_of(*s.nfs, file), "UNSTABLE WRITE");
    CHECK(res.verf == *verf);
  }
  const fattr3 before = attrs_of(*s.nfs, file);
  const CommitRes committed = s.nfs->commit(file, 0, 0);
  REQUIRE_OK(committed);
  CHECK(committed.verf == *verf);
  const fattr3 after = attrs_of(*s.nfs, file);
  check_wcc(committed.wcc, before, after, "COMMIT");
  CHECK(same_attrs(before, after));  // COMMIT changes no attributes

  // DATA_SYNC and FILE_SYNC: at least as stable as asked, same verifier.
  WriteRes res = s.nfs->write(file, 8 * 65536, pattern(20, 8 * 65536, 4096), DATA_SYNC);
  REQUIRE_OK(res);
  CHECK((res.committed == DATA_SYNC || res.committed == FILE_SYNC));
  CHECK(res.verf == *verf);
  res = s.nfs->write(file, 8 * 65536 + 4096, pattern(20, 8 * 65536 + 4096, 4096), FILE_SYNC);
  REQUIRE_OK(res);
  CHECK(res.committed == FILE_SYNC);
  CHECK(res.verf == *verf);
  // A ranged COMMIT, and another on a fresh connection: same verifier within one server run.
  CHECK(s.nfs->commit(file, 4096, 8192).verf == *verf);
  auto other = s.cluster.client();
  const CommitRes again = other->commit(file, 0, 0);
  REQUIRE_OK(again);
  CHECK(again.verf == *verf);

  const uint64_t size = 8 * 65536 + 8192;
  for (uint64_t offset = 0; offset < size; offset += 65536) {
    const ReadRes read = s.nfs->read(file, offset, 65536);
    REQUIRE_OK(read);
    CHECK_MESSAGE(read.data == pattern(20, offset, std::min<uint64_t>(65536, size - offset)),
                  "offset " << offset);
  }

  const CommitRes of_dir = s.nfs->commit(s.root, 0, 0);
  CHECK_MESSAGE((of_dir.status == NFS3ERR_ISDIR || of_dir.status == NFS3ERR_INVAL),
                "COMMIT of a directory: " << describe(of_dir));
  const Fh stale = removed_file_handle(*s.nfs, s.root, "gone");
  CHECK_STATUS(s.nfs->commit(stale, 0, 0), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->commit(bit_flipped(file), 0, 0), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: a 64 MiB file in 1 MiB WRITEs (UNSTABLE + COMMIT and FILE_SYNC) reads back") {
  Session s("large");
  const Fh file = make_file(*s.nfs, s.root, "big");
  constexpr uint64_t kChunks = 64;
  std::optional<Verf> verf;
  for (uint64_t i = 0; i < kChunks; ++i) {
    const stable_how how = i % 4 == 3 ? FILE_SYNC : UNSTABLE;
    const std::vector<uint8_t> chunk = pattern(30, i * kMiB, kMiB);
    const WriteRes res = s.nfs->write(file, i * kMiB, chunk, how);
    REQUIRE_MESSAGE(res.ok(), "chunk " << i << ": " << describe(res));
    REQUIRE_MESSAGE(res.count == kMiB, "chunk " << i << ": short write of " << res.count);
    if (!verf) verf = res.verf;
    CHECK(res.verf == *verf);
    if (i % 16 == 15) {
      const CommitRes committed = s.nfs->commit(file, 0, 0);
      REQUIRE_OK(committed);
      CHECK(committed.verf == *verf);
    }
  }
  CHECK(attrs_of(*s.nfs, file).size == kChunks * kMiB);
  // Read it back on another connection, in 1 MiB READs, and compare every byte.
  auto reader = s.cluster.client();
  uint64_t mismatched_chunks = 0;
  for (uint64_t i = 0; i < kChunks; ++i) {
    const ReadRes res = reader->read(file, i * kMiB, kMiB);
    REQUIRE_MESSAGE(res.ok(), "chunk " << i << ": " << describe(res));
    REQUIRE(res.count == kMiB);
    CHECK(res.eof == (i == kChunks - 1));
    mismatched_chunks += res.data == pattern(30, i * kMiB, kMiB) ? 0 : 1;
  }
  CHECK(mismatched_chunks == 0);
}

TEST_CASE("e2e/nfs: a sparse write at 1 TiB, READ in the hole and past EOF") {
  Session s("sparse");
  const Fh file = make_file(*s.nfs, s.root, "sparse");
  const std::vector<uint8_t> data = pattern(40, kTiB, 4096);
  const fattr3 before = attrs_of(*s.nfs, file);
  const WriteRes res = s.nfs->write(file, kTiB, data, FILE_SYNC);
  REQUIRE_OK(res);
  const fattr3 after = attrs_of(*s.nfs, file);
  check_wcc(res.wcc, before, after, "WRITE at 1 TiB");
  CHECK(after.size == kTiB + 4096);

  ReadRes read = s.nfs->read(file, kTiB, 4096);
  REQUIRE_OK(read);
  CHECK(read.data == data);
  CHECK(read.eof);
  read = s.nfs->read(file, kTiB / 2, 65536);  // in the hole
  REQUIRE_OK(read);
  CHECK(read.count == 65536);
  CHECK(read.data == std::vector<uint8_t>(65536, 0));
  CHECK(!read.eof);
  read = s.nfs->read(file, kTiB - 100, 200);  // the hole's end and the data's start
  REQUIRE_OK(read);
  REQUIRE(read.data.size() == 200);
  CHECK(std::vector<uint8_t>(read.data.begin(), read.data.begin() + 100) ==
        std::vector<uint8_t>(100, 0));
  CHECK(std::vector<uint8_t>(read.data.begin() + 100, read.data.end()) ==
        std::vector<uint8_t>(data.begin(), data.begin() + 100));
  read = s.nfs->read(file, kTiB + 4096, 4096);  // exactly at EOF
  REQUIRE_OK(read);
  CHECK(read.count == 0);
  CHECK(read.eof);
  read = s.nfs->read(file, 2 * kTiB, 4096);  // far past EOF
  REQUIRE_OK(read);
  CHECK(read.count == 0);
  CHECK(read.eof);
  // The last bytes a file can hold: a write ending exactly at INT64_MAX works, one byte more is
  // FBIG.
  constexpr uint64_t kLast = uint64_t{INT64_MAX};
  const std::vector<uint8_t> edge = pattern(42, kLast - 10, 10);
  const WriteRes at_end = s.nfs->write(file, kLast - 10, edge, FILE_SYNC);
  REQUIRE_OK(at_end);
  CHECK(attrs_of(*s.nfs, file).size == kLast);
  read = s.nfs->read(file, kLast - 10, 100);
  REQUIRE_OK(read);
  CHECK(read.data == edge);
  CHECK(read.eof);
  CHECK_STATUS(s.nfs->write(file, kLast - 10, pattern(43, 0, 11), FILE_SYNC), NFS3ERR_FBIG);
  read = s.nfs->read(file, kTiB, 4096);  // the data in the middle is still there
  REQUIRE_OK(read);
  CHECK(read.data == data);
  // Truncating back releases the far block: reading there is past EOF again.
  REQUIRE_OK(s.nfs->setattr(file, Sattr{.size = 0}));
  read = s.nfs->read(file, kTiB, 4096);
  REQUIRE_OK(read);
  CHECK(read.count == 0);
  CHECK(read.eof);
}

// Known gap (issue 7 note, README "NFS"): the file system does not yet count a file's allocated
// blocks, so `used` is the size rounded up to 4 KiB. The test keeps running and reporting; it is
// marked may_fail until the block count exists, so CI stays green without hiding the gap.
TEST_CASE("e2e/nfs: fattr3.used of a sparse file counts the bytes it holds, not its size" *
          doctest::may_fail()) {
  // RFC 1813 §2.5 fattr3: "used: the number of bytes of disk space that the file actually uses
  // (which can be smaller than the size because the file may have holes ...)". Thin VMDKs are
  // sparse; a client's space accounting (du, a datastore browser) reads `used`.
  Session s("used");
  const Fh file = make_file(*s.nfs, s.root, "sparse");
  REQUIRE_OK(s.nfs->write(file, kTiB, pattern(41, kTiB, 4096), FILE_SYNC));
  const fattr3 attrs = attrs_of(*s.nfs, file);
  CHECK(attrs.size == kTiB + 4096);
  CHECK_MESSAGE(attrs.used < 64 * kMiB,
                "a file holding 4 KiB at offset 1 TiB reports used = " << attrs.used);
}

TEST_CASE("e2e/nfs: READ and WRITE larger than rtmax / wtmax are capped (or refused)") {
  Session s("tmax");
  const FsinfoRes info = s.nfs->fsinfo(s.root);
  REQUIRE_OK(info);
  const uint32_t rtmax = info.res.rtmax;
  const uint32_t wtmax = info.res.wtmax;
  const Fh file = make_file(*s.nfs, s.root, "f");
  const uint64_t size = 3 * kMiB;
  for (uint64_t offset = 0; offset < size;) {
    const uint64_t want = std::min<uint64_t>(wtmax, size - offset);
    const WriteRes res = s.nfs->write(file, offset, pattern(50, offset, want), FILE_SYNC);
    REQUIRE_OK(res);
    REQUIRE(res.count > 0);
    offset += res.count;
  }

  // RFC 1813 §3.3.19: a READ over rtmax is a short read of rtmax bytes or less.
  const ReadRes read = s.nfs->read(file, 0, 2 * kMiB);
  REQUIRE_OK(read);
  MESSAGE("READ of 2 MiB with rtmax " << rtmax << " returned " << read.count << " bytes");
  CHECK(read.count <= rtmax);
  CHECK(read.count > 0);
  CHECK(read.data == pattern(50, 0, read.count));
  CHECK(!read.eof);

  // WRITEs over wtmax: RFC 1813 promises nothing for them (the client is limited by wtmax). A
  // server may write at most wtmax bytes (a short write: count says how many) or refuse the
  // call; either way exactly what it acknowledged lands and it keeps serving.
  std::vector<uint8_t> expected = pattern(50, 0, size);
  for (const uint64_t length : {uint64_t{wtmax} + 4096, 2 * kMiB}) {
    INFO("WRITE of " << length << " bytes, wtmax " << wtmax);
    const std::vector<uint8_t> over = pattern(51 + length, 0, length);
    auto writer = s.cluster.client();
    const WriteRes res = writer->write(file, 0, over, FILE_SYNC);
    MESSAGE("WRITE of " << length << " bytes (wtmax " << wtmax << "): " << describe(res)
                        << (res.ok() ? ", count " + std::to_string(res.count) : std::string()));
    if (res.ok()) {
      CHECK(res.count <= wtmax);
      CHECK(res.count > 0);
      std::copy(over.begin(), over.begin() + std::min<uint64_t>(res.count, length),
                expected.begin());
    }
    auto checker = s.cluster.client();
    CHECK(attrs_of(*checker, file).size == size);
    for (uint64_t offset = 0; offset < 2 * kMiB; offset += rtmax) {
      const ReadRes back = checker->read(file, offset, rtmax);
      REQUIRE_OK(back);
      CHECK_MESSAGE(back.data == std::vector<uint8_t>(expected.begin() + offset,
                                                      expected.begin() + offset + back.count),
                    "bytes at " << offset << " are not what was acknowledged");
    }
  }
}

TEST_CASE("e2e/nfs: 8 connections write one file and create files concurrently (nConnect)") {
  // ESXi spreads one datastore over up to 8 TCP connections (nConnect).
  Session s("nconnect");
  const Fh file = make_file(*s.nfs, s.root, "shared");
  const Fh dir = make_dir(*s.nfs, s.root, "files");
  constexpr int kConnections = 8;
  constexpr uint64_t kRegionBytes = 2 * kMiB;
  constexpr uint64_t kWriteBytes = 64 * 1024;
  constexpr int kCreates = 10;
  struct Outcome {
    std::vector<std::string> errors;
    std::vector<Verf> verfs;
  };
  std::vector<std::unique_ptr<NfsClient>> clients;
  for (int c = 0; c < kConnections; ++c) clients.push_back(s.cluster.client());
  std::vector<Outcome> outcomes(kConnections);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      NfsClient& nfs = *clients[c];
      Outcome& out = outcomes[c];
      for (uint64_t at = 0; at < kRegionBytes; at += kWriteBytes) {
        const uint64_t offset = c * kRegionBytes + at;
        const WriteRes res = nfs.write(file, offset, pattern(80, offset, kWriteBytes),
                                       at % (4 * kWriteBytes) == 0 ? FILE_SYNC : UNSTABLE);
        if (!res.ok() || res.count != kWriteBytes) {
          out.errors.push_back("WRITE at " + std::to_string(offset) + ": " + describe(res));
          return;
        }
        out.verfs.push_back(res.verf);
      }
      for (int i = 0; i < kCreates; ++i) {
        const std::string file_name = "c" + std::to_string(c) + "-" + std::to_string(i);
        const CreateRes res = nfs.create(dir, file_name, GUARDED);
        if (!res.ok()) out.errors.push_back("CREATE " + file_name + ": " + describe(res));
      }
      const CommitRes committed = nfs.commit(file, 0, 0);
      if (!committed.ok()) out.errors.push_back("COMMIT: " + describe(committed));
      out.verfs.push_back(committed.verf);
    });
  }
  for (std::thread& t : threads) t.join();
  std::optional<Verf> verf;
  for (const Outcome& out : outcomes) {
    for (const std::string& error : out.errors) FAIL_CHECK(error);
    for (const Verf& v : out.verfs) {
      if (!verf) verf = v;
      CHECK(v == *verf);  // one server run, one verifier, on every connection
    }
  }
  CHECK(attrs_of(*s.nfs, file).size == kConnections * kRegionBytes);
  int wrong = 0;
  for (uint64_t offset = 0; offset < kConnections * kRegionBytes; offset += kMiB) {
    const ReadRes read = s.nfs->read(file, offset, kMiB);
    REQUIRE_OK(read);
    wrong += read.data == pattern(80, offset, kMiB) ? 0 : 1;
  }
  CHECK_MESSAGE(wrong == 0, wrong << " MiB read back wrong");
  const ReaddirRes listing = s.nfs->readdir(dir, 0, Verf{}, 65536);
  REQUIRE_OK(listing);
  CHECK(listing.eof);
  CHECK(listing.entries.size() == kConnections * kCreates + 2);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
