// tests/e2e/nfs/conformance_support.cpp
#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {

fattr3 attrs_of(NfsClient& nfs, const Fh& fh) {
  const GetattrRes res = nfs.getattr(fh);
  REQUIRE_OK(res);
  return res.attrs;
}

Fh make_file(NfsClient& nfs, const Fh& dir, const std::string& name,
             const std::vector<uint8_t>& data) {
  const CreateRes made = nfs.create(dir, name, GUARDED, Sattr{.mode = 0644});
  REQUIRE_OK(made);
  REQUIRE(made.fh.has_value());
  if (!data.empty()) {
    const WriteRes written = nfs.write(*made.fh, 0, data, FILE_SYNC);
    REQUIRE_OK(written);
    REQUIRE(written.count == data.size());
  }
  return *made.fh;
}

Fh make_dir(NfsClient& nfs, const Fh& dir, const std::string& name) {
  const CreateRes made = nfs.mkdir(dir, name, Sattr{.mode = 0755});
  REQUIRE_OK(made);
  REQUIRE(made.fh.has_value());
  return *made.fh;
}

Fh removed_file_handle(NfsClient& nfs, const Fh& dir, const std::string& name) {
  const Fh fh = make_file(nfs, dir, name);
  const WccRes removed = nfs.remove(dir, name);
  REQUIRE_OK(removed);
  return fh;
}

Fh bit_flipped(const Fh& fh) {
  REQUIRE(!fh.empty());
  Fh forged = fh;
  forged[forged.size() / 2] ^= 0x10;
  return forged;
}

void check_wcc(const Wcc& wcc, const fattr3& before, const fattr3& after, const char* what) {
  INFO(what);
  REQUIRE_MESSAGE(wcc.before.has_value(), "no pre-op attributes");
  CHECK(wcc.before->size == before.size);
  CHECK_MESSAGE(same_time(wcc.before->mtime, before.mtime),
                "pre-op mtime " << wcc.before->mtime.seconds << "." << wcc.before->mtime.nseconds
                                << " vs GETATTR before " << before.mtime.seconds << "."
                                << before.mtime.nseconds);
  CHECK_MESSAGE(same_time(wcc.before->ctime, before.ctime),
                "pre-op ctime " << wcc.before->ctime.seconds << "." << wcc.before->ctime.nseconds
                                << " vs GETATTR before " << before.ctime.seconds << "."
                                << before.ctime.nseconds);
  REQUIRE_MESSAGE(wcc.after.has_value(), "no post-op attributes");
  CHECK_MESSAGE(same_attrs(*wcc.after, after),
                "post-op " << describe(*wcc.after) << "\n vs GETATTR after " << describe(after));
}

void check_unchanged_wcc(const Wcc& wcc, const fattr3& now, const char* what) {
  INFO(what);
  if (wcc.before) {
    CHECK(wcc.before->size == now.size);
    CHECK(same_time(wcc.before->mtime, now.mtime));
    CHECK(same_time(wcc.before->ctime, now.ctime));
  }
  if (wcc.after) {
    CHECK_MESSAGE(same_attrs(*wcc.after, now),
                  "post-op " << describe(*wcc.after) << "\n vs GETATTR " << describe(now));
  }
}

void check_dir_changed(const fattr3& before, const fattr3& after, const char* what) {
  INFO(what);
  CHECK_MESSAGE(time_before(before.mtime, after.mtime),
                "directory mtime did not move: " << describe(before) << " -> " << describe(after));
  CHECK_MESSAGE(time_before(before.ctime, after.ctime),
                "directory ctime did not move: " << describe(before) << " -> " << describe(after));
}

}  // namespace splitarray::e2e::nfs
