// Pure tests of the NFS v3 program's permission checks (hostdriver/nfs/nfs3/permissions.h):
// owner / group / other classes, root, the owner override of READ and WRITE, ACCESS3 bits,
// sticky directories and who may change which attributes.
#include <doctest/doctest.h>

#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

Credentials caller(uint32_t uid, uint32_t gid, std::vector<uint32_t> gids = {}) {
  Credentials who;
  who.flavor = kAuthSys;
  who.uid = uid;
  who.gid = gid;
  who.gids = std::move(gids);
  return who;
}

fs::Attributes file(uint32_t mode, uint32_t uid = 100, uint32_t gid = 200,
                    fs::FileType type = fs::FileType::kRegular) {
  fs::Attributes attrs;
  attrs.inode = 7;
  attrs.type = type;
  attrs.mode = mode;
  attrs.uid = uid;
  attrs.gid = gid;
  attrs.nlink = 1;
  return attrs;
}

fs::Attributes dir(uint32_t mode, uint32_t uid = 100, uint32_t gid = 200) {
  return file(mode, uid, gid, fs::FileType::kDirectory);
}

AttrChange chmod() {
  AttrChange change;
  change.mode = true;
  return change;
}
AttrChange chown(uint32_t uid) {
  AttrChange change;
  change.uid = uid;
  return change;
}
AttrChange chgrp(uint32_t gid) {
  AttrChange change;
  change.gid = gid;
  return change;
}
AttrChange truncate() {
  AttrChange change;
  change.size = true;
  return change;
}
AttrChange touch_now() {
  AttrChange change;
  change.times_now = true;
  return change;
}
AttrChange touch_explicit() {
  AttrChange change;
  change.times_explicit = true;
  return change;
}

const Credentials kOwner = caller(100, 1);
const Credentials kGroupMember = caller(101, 5, {200});
const Credentials kOther = caller(102, 6);
const Credentials kRoot = caller(0, 0);

}  // namespace

TEST_CASE("hostdriver/nfs3/permissions: every mode bit against owner, group and other") {
  // Exhaustive over the 9 permission bits and the three wanted kinds.
  for (uint32_t mode = 0; mode < 01000; ++mode) {
    const fs::Attributes f = file(mode);
    for (uint32_t want : {kModeRead, kModeWrite, kModeExec}) {
      CHECK(may(kOwner, f, want) == (((mode >> 6) & want) != 0));
      CHECK(may(kGroupMember, f, want) == (((mode >> 3) & want) != 0));
      CHECK(may(kOther, f, want) == ((mode & want) != 0));
    }
  }
  // The owner class decides for the owner even when group or other would allow more.
  CHECK_FALSE(may(kOwner, file(0077), kModeRead));
  // The primary group counts as much as a supplementary one.
  CHECK(may(caller(103, 200), file(0040), kModeRead));
}

TEST_CASE("hostdriver/nfs3/permissions: root passes everything but exec of a file without x") {
  CHECK(may(kRoot, file(0000), kModeRead | kModeWrite));
  CHECK_FALSE(may(kRoot, file(0644), kModeExec));
  CHECK(may(kRoot, file(0001), kModeExec));  // any x bit will do
  CHECK(may(kRoot, dir(0000), kModeExec));   // directories are always searchable
  CHECK(check_write(kRoot, file(0444, 5, 5)) == Status::kOk);
  CHECK(check_dir_change(kRoot, dir(0555, 5, 5)) == Status::kOk);
  CHECK(check_setattr(kRoot, file(0644, 5, 5), chown(9)) == Status::kOk);
}

TEST_CASE("hostdriver/nfs3/permissions: READ and WRITE let the owner in whatever the mode") {
  CHECK(check_write(kOwner, file(0444)) == Status::kOk);  // a file created 0444 takes writes
  CHECK(check_read(kOwner, file(0000)) == Status::kOk);
  CHECK(check_write(kOther, file(0644)) == Status::kAcces);
  CHECK(check_write(kOther, file(0646)) == Status::kOk);
  CHECK(check_read(kOther, file(0640)) == Status::kAcces);
  CHECK(check_read(kOther, file(0641)) == Status::kOk);  // executing reads the pages
  CHECK(check_read(kGroupMember, file(0640)) == Status::kOk);
}

TEST_CASE("hostdriver/nfs3/permissions: ACCESS grants the allowed subset of what was asked") {
  // A directory: read, lookup (x), modify/extend/delete (w + x).
  CHECK(access_granted(kOwner, dir(0755), kAccessAll, false) ==
        (kAccessRead | kAccessLookup | kAccessModify | kAccessExtend | kAccessDelete));
  CHECK(access_granted(kOther, dir(0755), kAccessAll, false) == (kAccessRead | kAccessLookup));
  CHECK(access_granted(kOther, dir(0733), kAccessAll, false) ==
        (kAccessLookup | kAccessModify | kAccessExtend | kAccessDelete));
  CHECK(access_granted(kOther, dir(0722), kAccessAll, false) == 0);  // w without x: nothing
  // A file: read, modify/extend (w), execute (x); never LOOKUP or DELETE.
  CHECK(access_granted(kOwner, file(0755), kAccessAll, false) ==
        (kAccessRead | kAccessModify | kAccessExtend | kAccessExecute));
  CHECK(access_granted(kGroupMember, file(0750), kAccessAll, false) ==
        (kAccessRead | kAccessExecute));
  // Only what was asked, nothing more.
  CHECK(access_granted(kOwner, file(0777), kAccessRead, false) == kAccessRead);
  CHECK(access_granted(kOwner, file(0777), 0, false) == 0);
  // A read-only export grants no change, even to root.
  CHECK(access_granted(kRoot, file(0777), kAccessAll, true) == (kAccessRead | kAccessExecute));
  CHECK(access_granted(kRoot, dir(0777), kAccessAll, true) == (kAccessRead | kAccessLookup));
  // Root: no execute of a file no one may execute.
  CHECK(access_granted(kRoot, file(0644), kAccessAll, false) ==
        (kAccessRead | kAccessModify | kAccessExtend));
}

TEST_CASE("hostdriver/nfs3/permissions: directory checks and the sticky bit") {
  CHECK(check_lookup(kOther, dir(0711)) == Status::kOk);
  CHECK(check_lookup(kOther, dir(0770)) == Status::kAcces);
  CHECK(check_lookup(kOther, file(0777)) == Status::kNotdir);
  CHECK(check_list(kOther, dir(0704)) == Status::kOk);
  CHECK(check_list(kOther, dir(0701)) == Status::kAcces);
  CHECK(check_dir_change(kOther, dir(0777)) == Status::kOk);
  CHECK(check_dir_change(kOther, dir(0776)) == Status::kAcces);
  CHECK(check_dir_change(kGroupMember, dir(0750)) == Status::kAcces);
  CHECK(check_dir_change(kOwner, file(0777)) == Status::kNotdir);

  const fs::Attributes tmp = dir(01777, 0, 0);
  CHECK(check_sticky(kOther, tmp, file(0644, kOther.uid)) == Status::kOk);     // its own file
  CHECK(check_sticky(kOther, tmp, file(0666, kOwner.uid)) == Status::kAcces);  // another's
  CHECK(check_sticky(kRoot, tmp, file(0644, kOwner.uid)) == Status::kOk);
  CHECK(check_sticky(kOwner, dir(01777, kOwner.uid), file(0644, 55)) == Status::kOk);
  CHECK(check_sticky(kOther, dir(0777), file(0644, 55)) == Status::kOk);  // not sticky
}

TEST_CASE("hostdriver/nfs3/permissions: who may change which attributes") {
  const fs::Attributes f = file(0644);
  // Mode and explicit times: owner (or root) only.
  CHECK(check_setattr(kOwner, f, chmod()) == Status::kOk);
  CHECK(check_setattr(kOther, f, chmod()) == Status::kPerm);
  CHECK(check_setattr(kOwner, f, touch_explicit()) == Status::kOk);
  CHECK(check_setattr(kOther, file(0666), touch_explicit()) == Status::kPerm);
  // Times to now and the size: write permission.
  CHECK(check_setattr(kOther, file(0666), touch_now()) == Status::kOk);
  CHECK(check_setattr(kOther, f, touch_now()) == Status::kAcces);
  CHECK(check_setattr(kOther, file(0666), truncate()) == Status::kOk);
  CHECK(check_setattr(kOther, f, truncate()) == Status::kAcces);
  CHECK(check_setattr(kOwner, file(0444), truncate()) == Status::kOk);
  // Owner: root only gives files away; the owner may keep its uid and pick one of its groups.
  CHECK(check_setattr(kOwner, f, chown(999)) == Status::kPerm);
  CHECK(check_setattr(kOwner, f, chown(kOwner.uid)) == Status::kOk);
  CHECK(check_setattr(kOther, f, chown(f.uid)) == Status::kPerm);
  CHECK(check_setattr(kOwner, f, chgrp(kOwner.gid)) == Status::kOk);
  CHECK(check_setattr(kOwner, f, chgrp(4242)) == Status::kPerm);
  CHECK(check_setattr(kOwner, f, chgrp(f.gid)) == Status::kOk);        // unchanged
  CHECK(check_setattr(kGroupMember, f, chgrp(200)) == Status::kPerm);  // not owner
  // setgid survives a chmod only for members of the file's group.
  CHECK(allowed_mode(kOwner, 200, 02755) == 0755);
  CHECK(allowed_mode(kGroupMember, 200, 02755) == 02755);
  CHECK(allowed_mode(kRoot, 200, 06755) == 06755);
}

}  // namespace splitarray::hostdriver::nfs::nfs3
