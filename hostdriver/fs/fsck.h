// hostdriver/fs/fsck.h
// fsck: the datastore consistency check every test runs and a user can run (`safs fsck`).
// It checkpoints the file system and destages, then walks what the checkpoint names:
//   - every tree node reachable from the root (inode table, each directory) loads and decodes
//     (its fp verified by the block store), every inode record and directory entry decodes;
//   - the namespace: every entry names a live inode of the entry's type; every inode but the
//     root is reachable; link counts equal the entries naming a file (directories: 2 + subdirs);
//     a directory's entry count and ".." parent match; orphans are exactly the nlink-0 files;
//   - file data (check_data): every block-map reference of every regular file reads back (fp
//     verified);
//   - references: no chunk location (container, offset) is referenced with two fingerprints or
//     two lengths (doubly referenced), and none lies outside its container's payload;
//   - containers (check_fragments): every container any reference names is read fragment by
//     fragment from its placement: header identity, CRC32C, parity re-encoded from the data
//     fragments equals the stored parity, and the footer's trailer names this container and the
//     datastore's geometry; every referenced fingerprint is in the shelf's index;
//   - the shelf's listing (check_listing, with check_fragments): every fragment on every disk
//     that is not failed, paged through the shelf's fragment-list request and merged by
//     container id, so memory is one page per disk. Each container id found is:
//       referenced     named by the checkpoint (`containers`);
//       unreferenced   on disks, named by no reference of this checkpoint. Counted with its bytes
//                      (the payload bytes of its fragments, parity included). Most of it is
//                      garbage: overwrites, unlinks and superseded checkpoints leave it, and the
//                      shelf's index still names it (a later write may deduplicate against it,
//                      so it is not dead either), which is no problem; the rest is (e).
//     and these are problems, each counted once per container:
//       (a) unreadable    referenced, but fewer than k of its fragments are on the disks where its
//                         placement puts them with the generation readers ask for and the
//                         datastore's fragment size (none at all if it is not listed);
//       (b) unallocated   its id was never handed out: the id's counter is 0, or at or above the
//                         high-water mark in its host's register "hosts/<h>/container-ids"
//                         (blockstore/destager.h), or the host never reserved ids, or the id
//                         does not fit the 40-bit host+counter layout: a write that escaped
//                         allocation. The register only grows and is read after the container
//                         was listed (again if needed), so other hosts writing meanwhile cannot
//                         cause a false report;
//       (c) inconsistent  its fragments disagree about geometry or identity: payload lengths
//                         differ, a generation other than the one every reader asks for
//                         (blockstore::kFragmentGeneration); and if referenced: an index outside
//                         the k+m stripe, a disk other than its placement, a payload length other
//                         than the datastore's, or a footer trailer naming another container or
//                         geometry;
//       (d) duplicated    one (container, index) stored on two disks: two stripes claim the id.
//                         Doubly referenced locations (above) are counted as the other half of (d).
//       (e) leaked        unreferenced, allocated by this host (the datastore's owner, which fsck
//                         runs as), and none of its chunks' index entries names it (fsck reads
//                         its footer from the data fragments' tails and looks every fp up).
//                         Nothing can ever read it again; only a sweep could free it. A finished
//                         destage cannot leave one: index inserts follow durable fragments, and a
//                         host that crashed before them replays the same container id from its
//                         NVRAM log and writes it again. So a leak is a write the destager does
//                         not account for.
//                         Not judged (counted in containers_not_judged): another host's container
//                         (it may be a stripe that host is writing right now, or another
//                         datastore's), and one whose footer cannot be read (a fragment missing,
//                         on a failed disk or failing its CRC). A footer that reads but does not
//                         parse is (c).
//                         Known false report: a container every one of whose chunks lost the race
//                         for its index entry to another container (two writers of one new block,
//                         first insert wins) and that was then overwritten. Nothing can read that
//                         one either; it is reported as leaked because it is space only a sweep
//                         frees.
// So until space reclamation (mark and sweep over every datastore's roots, DESIGN.md §5) exists,
// garbage is a count and bytes, and (b) and (e) catch writes no allocation or index accounts for.
// Not checked: chunks against container footers beyond the trailer.
// It reports problems rather than stopping at the first. The caller keeps the file system
// quiet while it runs (no operations in flight); other hosts may keep writing to the shelf.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "hostdriver/fs/file_system.h"

namespace splitarray::hostdriver::fs {

struct FsckOptions {
  bool check_data = true;       // read every block of every regular file
  bool check_fragments = true;  // read and re-encode every referenced container's stripe
  bool check_listing = true;    // with check_fragments: list every disk's fragments: checks
                                // (a) to (e), garbage counts
  size_t problems_max = 100;    // stop collecting after this many (the counts go on)
};

struct FsckReport {
  uint64_t inodes = 0;
  uint64_t directories = 0;
  uint64_t entries = 0;
  uint64_t tree_nodes = 0;
  uint64_t data_blocks = 0;
  uint64_t containers = 0;     // distinct containers the checkpoint references
  uint64_t fragments = 0;      // fragments of referenced containers read (check_fragments)
  uint64_t index_lookups = 0;  // distinct referenced fps looked up in the shelf's index
  // The shelf's listing (check_listing with check_fragments).
  uint64_t disks_listed = 0;
  uint64_t disks_skipped = 0;  // failed (before or during the listing): their fragments unlisted
  uint64_t containers_on_shelf = 0;  // distinct container ids with a fragment on a listed disk
  uint64_t fragments_on_shelf = 0;
  uint64_t containers_unreferenced = 0;  // garbage and (e) leaked: until space reclamation
  uint64_t unreferenced_bytes = 0;       // their fragments' payload bytes, parity included
  uint64_t containers_not_judged = 0;    // unreferenced, but (e) cannot be decided (fsck.h)
  uint64_t leaked_bytes = 0;             // the leaked containers' fragments' payload bytes
  // Problems by kind (each also a line in `problems`, while there is room).
  uint64_t containers_unreadable = 0;        // (a)
  uint64_t containers_unallocated = 0;       // (b)
  uint64_t containers_inconsistent = 0;      // (c)
  uint64_t containers_duplicated = 0;        // (d) one id, two stripes
  uint64_t containers_leaked = 0;            // (e)
  uint64_t locations_doubly_referenced = 0;  // (d) references naming a location another names
                                             //     with another fp or length
  uint64_t problems_total = 0;               // every problem found, also those past problems_max
  std::vector<std::string> problems;         // the first problems_max of them
  bool ok() const { return problems_total == 0; }
  std::string summary() const;
};

// kStale/kUnavailable/kIo if it cannot run at all; a finished check answers a report.
Task<Result<FsckReport>> fsck(FileSystem& fs, FsckOptions options = {});

}  // namespace splitarray::hostdriver::fs
