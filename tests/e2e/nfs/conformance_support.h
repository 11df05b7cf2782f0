// tests/e2e/nfs/conformance_support.h
// What the conformance test files share: a session (cluster + client + root handle), checks of
// statuses and weak cache consistency that print what came back, and small builders.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "tests/e2e/nfs/nfs_cluster.h"
#include "tests/e2e/nfs/nfs_raw_client.h"

// The reply's status is `expected` (prints the status or RPC error otherwise). `reply` (a call)
// is evaluated once.
#define CHECK_STATUS(reply, expected)                                           \
  do {                                                                          \
    const auto& conformance_reply_ = (reply);                                   \
    CHECK_MESSAGE(conformance_reply_.status == (expected),                      \
                  #reply ": expected " #expected ", got "                       \
                      << ::splitarray::e2e::nfs::describe(conformance_reply_)); \
  } while (false)
#define REQUIRE_STATUS(reply, expected)                                           \
  do {                                                                            \
    const auto& conformance_reply_ = (reply);                                     \
    REQUIRE_MESSAGE(conformance_reply_.status == (expected),                      \
                    #reply ": expected " #expected ", got "                       \
                        << ::splitarray::e2e::nfs::describe(conformance_reply_)); \
  } while (false)
#define REQUIRE_OK(reply) REQUIRE_STATUS(reply, NFS3_OK)
#define CHECK_OK(reply) CHECK_STATUS(reply, NFS3_OK)

namespace splitarray::e2e::nfs {

// One cluster, one connected NFS client and the export's root handle (from MNT).
struct Session {
  explicit Session(const std::string& name, const HostOptions& options = {})
      : cluster(name, options), nfs(cluster.client()), root(cluster.mount_root()) {}
  NfsCluster cluster;
  std::unique_ptr<NfsClient> nfs;
  Fh root;
};

// GETATTR that must succeed.
fattr3 attrs_of(NfsClient& nfs, const Fh& fh);
// CREATE (GUARDED, mode 0644) of `name` in `dir`, then FILE_SYNC WRITE of `data` if any.
Fh make_file(NfsClient& nfs, const Fh& dir, const std::string& name,
             const std::vector<uint8_t>& data = {});
Fh make_dir(NfsClient& nfs, const Fh& dir, const std::string& name);
// The handle of a file that existed and was removed (the server must answer STALE for it).
Fh removed_file_handle(NfsClient& nfs, const Fh& dir, const std::string& name);
// `fh` with one bit flipped in its middle (a forged handle: BADHANDLE).
Fh bit_flipped(const Fh& fh);

// Weak cache consistency (RFC 1813 §2.6): pre-op attributes equal `before` (a GETATTR taken just
// before the call) and post-op attributes equal `after` (a GETATTR just after).
void check_wcc(const Wcc& wcc, const fattr3& before, const fattr3& after, const char* what);
// A failed call changed nothing: if it sent post-op attributes they equal `now`, and if it
// sent pre-op attributes they match too.
void check_unchanged_wcc(const Wcc& wcc, const fattr3& now, const char* what);
// The directory changed: its mtime and ctime moved forward.
void check_dir_changed(const fattr3& before, const fattr3& after, const char* what);

}  // namespace splitarray::e2e::nfs
