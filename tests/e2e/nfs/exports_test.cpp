// NFS v3 conformance through libnfs, part 7: export options (read-only: ROFS; root squash:
// ACCES/PERM for uid 0; a client not on the list: ACCES) on the same datastore restarted with
// other options, and the duplicate request cache (a retransmission with the same xid gets the
// original reply, also on a new connection).
#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

constexpr uint32_t kNobody = 65534;

TEST_CASE("e2e/nfs: a read-only export answers ROFS to every change and serves reads") {
  Session s("rofs");
  const std::vector<uint8_t> data = pattern(70, 0, 3000);
  const Fh file = make_file(*s.nfs, s.root, "f", data);
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  make_file(*s.nfs, dir, "inside");
  CHECK(s.cluster.stop_host(SIGTERM) == 0);
  s.cluster.start_host(HostOptions{.read_only = true});
  auto nfs = s.cluster.client();

  const fattr3 root_now = attrs_of(*nfs, s.root);
  const fattr3 file_now = attrs_of(*nfs, file);
  CHECK_STATUS(nfs->setattr(file, Sattr{.mode = 0600}), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->write(file, 0, data, FILE_SYNC), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->create(s.root, "new", GUARDED), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->mkdir(s.root, "newdir"), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->symlink(s.root, "newlink", "f"), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->mknod(s.root, "newfifo", NF3FIFO), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->remove(s.root, "f"), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->rmdir(dir, "x"), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->rename(s.root, "f", s.root, "g"), NFS3ERR_ROFS);
  CHECK_STATUS(nfs->link(file, s.root, "f2"), NFS3ERR_ROFS);
  CHECK(same_attrs(attrs_of(*nfs, s.root), root_now));
  CHECK(same_attrs(attrs_of(*nfs, file), file_now));

  // Reads work; ACCESS grants no change.
  const ReadRes read = nfs->read(file, 0, 4096);
  REQUIRE_OK(read);
  CHECK(read.data == data);
  CHECK_OK(nfs->lookup(dir, "inside"));
  CHECK_OK(nfs->readdir(dir, 0, Verf{}, 4096));
  CHECK_OK(nfs->readdirplus(dir, 0, Verf{}, 4096, 8192));
  CHECK_OK(nfs->fsstat(s.root));
  const AccessRes access = nfs->access(file, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND);
  REQUIRE_OK(access);
  CHECK(access.access == ACCESS3_READ);
  // The MOUNT program still hands out the root.
  CHECK(s.cluster.mount_root() == s.root);
}

TEST_CASE("e2e/nfs: root squash maps uid 0 to nobody: ACCES on a root-owned 0644 file") {
  Session s("squash");
  const std::vector<uint8_t> data = pattern(71, 0, 1000);
  const Fh file = make_file(*s.nfs, s.root, "rootfile", data);  // root-owned, 0644
  const CreateRes open = s.nfs->mkdir(s.root, "open", Sattr{.mode = 0777});
  REQUIRE_OK(open);
  CHECK(s.cluster.stop_host(SIGTERM) == 0);
  s.cluster.start_host(HostOptions{.root_squash = true});
  auto nfs = s.cluster.client();  // still sends uid 0

  const fattr3 now = attrs_of(*nfs, file);
  const WriteRes write = nfs->write(file, 0, pattern(72, 0, 10), FILE_SYNC);
  CHECK_STATUS(write, NFS3ERR_ACCES);
  check_unchanged_wcc(write.wcc, now, "squashed WRITE");
  CHECK_STATUS(nfs->setattr(file, Sattr{.mode = 0666}), NFS3ERR_PERM);
  CHECK_STATUS(nfs->setattr(file, Sattr{.size = 0}), NFS3ERR_ACCES);
  CHECK_STATUS(nfs->create(s.root, "x", GUARDED), NFS3ERR_ACCES);  // root dir is 0755 root
  CHECK_STATUS(nfs->remove(s.root, "rootfile"), NFS3ERR_ACCES);
  CHECK(same_attrs(attrs_of(*nfs, file), now));
  const ReadRes read = nfs->read(file, 0, 4096);  // others may read
  REQUIRE_OK(read);
  CHECK(read.data == data);
  const AccessRes access = nfs->access(file, ACCESS3_READ | ACCESS3_MODIFY);
  REQUIRE_OK(access);
  CHECK(access.access == ACCESS3_READ);
  // What squashed root creates belongs to nobody.
  const CreateRes made = nfs->create(*open.fh, "mine", GUARDED);
  REQUIRE_OK(made);
  REQUIRE(made.attrs.has_value());
  CHECK(made.attrs->uid == kNobody);
  CHECK(made.attrs->gid == kNobody);
}

TEST_CASE("e2e/nfs: a client not on the export's list gets ACCES from MOUNT and NFS") {
  Session s("clients");
  const Fh file = make_file(*s.nfs, s.root, "f");
  CHECK(s.cluster.stop_host(SIGTERM) == 0);
  s.cluster.start_host(HostOptions{.clients = "127.0.0.2"});
  auto mount = s.cluster.mount_client();
  const MntRes mnt = mount->mnt("/default");
  CHECK_MESSAGE(mnt.status == kMnt3ErrAcces, "MNT from an unlisted client: " << describe(mnt));
  auto nfs = s.cluster.client();
  CHECK(nfs->null().ok());  // NULL always answers
  CHECK_STATUS(nfs->getattr(file), NFS3ERR_ACCES);
  CHECK_STATUS(nfs->lookup(s.root, "f"), NFS3ERR_ACCES);
  CHECK_STATUS(nfs->remove(s.root, "f"), NFS3ERR_ACCES);
  // Back to the normal export: the file is untouched and its handle still works.
  CHECK(s.cluster.stop_host(SIGTERM) == 0);
  s.cluster.start_host();
  auto again = s.cluster.client();
  CHECK_OK(again->getattr(file));
  CHECK_OK(again->lookup(s.root, "f"));
}

TEST_CASE("e2e/nfs: DRC: a retransmitted REMOVE, CREATE, RENAME (same xid) gets the first reply") {
  Session s("drc");
  // libnfs 4.0's rpc_set_next_xid chooses the xid of the next call: a retransmission.
  make_file(*s.nfs, s.root, "victim");
  s.nfs->rpc().set_next_xid(0x5A000001);
  const WccRes first = s.nfs->remove(s.root, "victim");
  REQUIRE_OK(first);
  const fattr3 dir_after = attrs_of(*s.nfs, s.root);
  s.nfs->rpc().set_next_xid(0x5A000001);
  const WccRes replay = s.nfs->remove(s.root, "victim");
  CHECK_MESSAGE(replay.status == NFS3_OK,
                "retransmitted REMOVE was executed again: " << describe(replay));
  CHECK(same_attrs(attrs_of(*s.nfs, s.root), dir_after));
  // A new xid is a new call: the name really is gone.
  s.nfs->rpc().set_next_xid(0x5A100001);
  CHECK_STATUS(s.nfs->remove(s.root, "victim"), NFS3ERR_NOENT);

  // GUARDED CREATE retransmitted: the same file, not EXIST.
  s.nfs->rpc().set_next_xid(0x5A000002);
  const CreateRes made = s.nfs->create(s.root, "guarded", GUARDED);
  REQUIRE_OK(made);
  s.nfs->rpc().set_next_xid(0x5A000002);
  const CreateRes made_again = s.nfs->create(s.root, "guarded", GUARDED);
  CHECK_MESSAGE(made_again.status == NFS3_OK,
                "retransmitted CREATE was executed again: " << describe(made_again));
  if (made_again.ok() && made_again.fh && made.fh) CHECK(*made_again.fh == *made.fh);

  // Retransmitted on a new connection (a client that reconnected): still the first reply.
  s.nfs->rpc().set_next_xid(0x5A000003);
  REQUIRE_OK(s.nfs->rename(s.root, "guarded", s.root, "renamed"));
  auto reconnected = s.cluster.client();
  reconnected->rpc().set_next_xid(0x5A000003);
  const RenameRes rename_again = reconnected->rename(s.root, "guarded", s.root, "renamed");
  CHECK_MESSAGE(rename_again.status == NFS3_OK,
                "RENAME retransmitted on a new connection: " << describe(rename_again));
  CHECK_OK(s.nfs->lookup(s.root, "renamed"));
  CHECK_STATUS(s.nfs->lookup(s.root, "guarded"), NFS3ERR_NOENT);

  // The same xid with other arguments is a different call and runs.
  make_file(*s.nfs, s.root, "other");
  s.nfs->rpc().set_next_xid(0x5A000001);
  CHECK_OK(s.nfs->remove(s.root, "other"));
  CHECK_STATUS(s.nfs->lookup(s.root, "other"), NFS3ERR_NOENT);

  // MKDIR and LINK too.
  s.nfs->rpc().set_next_xid(0x5A000004);
  REQUIRE_OK(s.nfs->mkdir(s.root, "dir"));
  s.nfs->rpc().set_next_xid(0x5A000004);
  CHECK_OK(s.nfs->mkdir(s.root, "dir"));
  const Fh linked = make_file(*s.nfs, s.root, "l");
  s.nfs->rpc().set_next_xid(0x5A000005);
  REQUIRE_OK(s.nfs->link(linked, s.root, "l2"));
  s.nfs->rpc().set_next_xid(0x5A000005);
  CHECK_OK(s.nfs->link(linked, s.root, "l2"));
  CHECK(attrs_of(*s.nfs, linked).nlink == 2);
}

}  // namespace
}  // namespace splitarray::e2e::nfs
