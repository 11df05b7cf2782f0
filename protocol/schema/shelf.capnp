# protocol/schema/shelf.capnp
# The host <-> shelf surface (DESIGN.md section 7). One struct per request and reply; the frame
# header's message type says which struct the body holds. Bulk bytes (NVRAM records, fragments)
# travel in the frame's payload, after the body, never inside capnp.
# Every mutating request carries the sender's host id and owner epoch (fencing).

@0xd3a0b5f1c2e4a697;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("splitarray::protocol::schema");

# --- generic -------------------------------------------------------------------------------

struct ErrorReply {
  code @0 :UInt16;      # protocol/wire_code.h
  message @1 :Text;
}

# Test and benchmark request: the reply echoes the payload. delayMicros makes the server wait
# before answering (deadline and cancellation tests).
struct EchoRequest {
  delayMicros @0 :UInt32;
  tag @1 :UInt64;
}
struct EchoReply {
  tag @0 :UInt64;
  payloadCrc32c @1 :UInt32;
}

# --- NVRAM log (one append-only log per host) ----------------------------------------------

struct NvramAppendRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  recordLengths @2 :List(UInt32);   # payload = the records, concatenated
}
struct NvramAppendReply {
  firstSequence @0 :UInt64;         # sequence of the first appended record
  usedBytes @1 :UInt64;
  capacityBytes @2 :UInt64;
}

struct NvramReadRequest {
  hostId @0 :UInt32;
  fromSequence @1 :UInt64;
  maxBytes @2 :UInt32;
}
struct NvramReadReply {
  firstSequence @0 :UInt64;
  recordLengths @1 :List(UInt32);   # payload = the records, concatenated
  nextSequence @2 :UInt64;          # one past the last record in the log
}

struct NvramTrimRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  throughSequence @2 :UInt64;       # records <= this may be discarded
}

struct NvramUsage {
  hostId @0 :UInt32;
  usedBytes @1 :UInt64;
  capacityBytes @2 :UInt64;
  firstSequence @3 :UInt64;
  nextSequence @4 :UInt64;
}

# --- fragments -------------------------------------------------------------------------------

struct FragmentId {
  containerId @0 :UInt64;
  index @1 :UInt8;                  # 0..k-1 data, k..k+m-1 parity
  generation @2 :UInt32;
}

struct FragmentWriteRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  disk @2 :UInt16;
  id @3 :FragmentId;
  crc32c @4 :UInt32;                # over fragment header + payload; the shelf verifies it
}

struct FragmentReadRequest {
  disk @0 :UInt16;
  id @1 :FragmentId;
  offset @2 :UInt32;
  length @3 :UInt32;                # 0: the whole fragment
}
struct FragmentReadReply {
  crc32c @0 :UInt32;                # of the returned payload
}

struct FragmentDeleteRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  disk @2 :UInt16;
  id @3 :FragmentId;
}

# Lists the fragments one disk stores, in (containerId, index) order, one bounded page at a time
# (fsck: which containers exist at all). A page starts at the cursor (inclusive) and holds at
# most maxEntries fragments (0 or more than kFragmentListMax: kFragmentListMax). Unless `end`,
# the next page starts at nextContainerId/nextIndex: the next fragment stored when this page was
# read, so a listing stays exact for every fragment that exists throughout it.
struct FragmentListRequest {
  disk @0 :UInt16;
  fromContainerId @1 :UInt64;
  fromIndex @2 :UInt8;
  maxEntries @3 :UInt32;
}
struct ListedFragment {
  id @0 :FragmentId;
  payloadLength @1 :UInt32;         # bytes after the fragment header
}
struct FragmentListReply {
  fragments @0 :List(ListedFragment);  # strictly increasing (containerId, index)
  end @1 :Bool;                     # true: nothing is stored after the last one listed
  nextContainerId @2 :UInt64;       # meaningful unless end
  nextIndex @3 :UInt8;
}

enum DiskState {
  healthy @0;
  failed @1;
  rebuilding @2;
}

struct DiskInfo {
  index @0 :UInt16;
  state @1 :DiskState;
  capacityBytes @2 :UInt64;
  slotsTotal @3 :UInt32;
  slotsUsed @4 :UInt32;
  generation @5 :UInt32;
  slotPayloadMaxBytes @6 :UInt32;  # the largest fragment payload a slot holds (0: not reported)
}

enum DiskAction {
  fail @0;
  replace @1;
}
struct DiskAdminRequest {
  epoch @0 :UInt64;
  disk @1 :UInt16;
  action @2 :DiskAction;
}

# --- fingerprint index -----------------------------------------------------------------------

struct ChunkLocation {
  containerId @0 :UInt64;
  offset @1 :UInt32;
  length @2 :UInt32;
}

struct IndexLookupRequest {
  fingerprints @0 :List(Data);      # 32 bytes each
}
struct IndexLookupReply {
  found @0 :List(Bool);             # parallel to the request
  locations @1 :List(ChunkLocation);  # parallel; meaningful where found
}

# One page of the index's fingerprints in increasing order, from `from` (inclusive), at most
# maxEntries (0 or more than kIndexListMax: kIndexListMax). A host fills its Bloom filter (the
# summary vector) from it at open. Unless `end`, the next page starts at `next`: the next fp in
# the index when this page was read. `rebuilding`: the index is being rebuilt, so the listing
# may miss entries.
struct IndexListRequest {
  from @0 :Data;                    # 32 bytes
  maxEntries @1 :UInt32;
}
struct IndexListReply {
  fingerprints @0 :List(Data);      # 32 bytes each, strictly increasing, all >= from
  end @1 :Bool;
  next @2 :Data;                    # 32 bytes, meaningful unless end
  rebuilding @3 :Bool;
}

struct IndexInsertRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  fingerprints @2 :List(Data);
  locations @3 :List(ChunkLocation);
}
struct IndexInsertReply {
  inserted @0 :List(Bool);          # false: another writer was first; see existing
  existing @1 :List(ChunkLocation);
}

struct IndexRemoveRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  fingerprints @2 :List(Data);
}

# Rebuilding the index from container footers (admin). The shelf never parses footers: the host
# or admin tool reads them and sends their (fp, location) entries. Phases, in order:
#   begin    durably mark the index rebuilding and empty it; the reply carries the rebuild id.
#            A begin while a rebuild is in progress restarts it (with a new id).
#   entries  re-insert one batch (at most kIndexBatchMax; first writer wins).
#   finish   after every entries batch was answered: make them durable and clear the mark.
# The mark survives crashes and restarts (status shows it) until a finish succeeds.
enum IndexRebuildPhase {
  begin @0;
  entries @1;
  finish @2;
}
struct IndexRebuildRequest {
  hostId @0 :UInt32;
  epoch @1 :UInt64;
  phase @2 :IndexRebuildPhase;
  rebuildId @3 :UInt64;             # entries and finish: the id begin answered; begin: ignored
  fingerprints @4 :List(Data);      # entries only
  locations @5 :List(ChunkLocation);  # parallel to fingerprints
}
struct IndexRebuildReply {
  rebuildId @0 :UInt64;
  inserted @1 :UInt64;              # entries: how many were new
  alreadyPresent @2 :UInt64;        # entries: how many another writer had inserted first
  entries @3 :UInt64;               # entries in the index after this request
}

# --- registers -------------------------------------------------------------------------------

struct RegisterGetRequest {
  name @0 :Text;
}
struct RegisterValue {
  exists @0 :Bool;
  value @1 :Data;
  version @2 :UInt64;               # bumped by every successful swap
  epoch @3 :UInt64;                 # highest owner epoch seen on this register
}

struct RegisterCasRequest {
  name @0 :Text;
  expectedVersion @1 :UInt64;       # 0: the register must not exist
  newValue @2 :Data;
  epoch @3 :UInt64;
}
struct RegisterCasReply {
  swapped @0 :Bool;
  current @1 :RegisterValue;
}

# --- status ----------------------------------------------------------------------------------

struct HostStats {
  hostId @0 :UInt32;
  requests @1 :UInt64;
  bytesIn @2 :UInt64;
  bytesOut @3 :UInt64;
  latencyBucketsMicros @4 :List(UInt64);  # counts per power-of-two bucket
}

struct IndexStatus {
  entries @0 :UInt64;
  rebuilding @1 :Bool;              # a rebuild began and has not finished: lookups may miss
  rebuildId @2 :UInt64;             # the rebuild in progress; 0: none, or begin again
}

struct StatusReply {
  clusterId @0 :UInt64;
  shelfId @1 :UInt32;
  disks @2 :List(DiskInfo);
  nvram @3 :List(NvramUsage);
  hosts @4 :List(HostStats);
  index @5 :IndexStatus;
}

# A body for requests and replies that carry nothing (status and disk-list requests, trim,
# delete and admin replies).
struct Empty {}
