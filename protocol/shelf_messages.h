// protocol/shelf_messages.h
// Plain C++ values for every shelf request and reply (schema/shelf.capnp), with encode/decode.
// Decoding goes through codec.h (segment table validated, traversal bounded, capnp exceptions
// become kProtocol) and checks each value's own limits, so the shelf's handlers and the host's
// client only ever see validated values. Bulk bytes (records, fragments) are the frame payload.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <kj/array.h>

#include "common/ids.h"
#include "common/result.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

inline constexpr size_t kFingerprintBytes = 32;
inline constexpr size_t kIndexBatchMax = 8192;             // fps per lookup/insert/remove request
inline constexpr size_t kNvramRecordsPerAppendMax = 4096;  // what the wire format admits
// What a shelf accepts per append unless configured otherwise, and so the most a host sends:
// a host that batched up to the wire maximum had its appends refused (and fenced itself).
inline constexpr size_t kNvramRecordsPerAppendDefault = 1024;
static_assert(kNvramRecordsPerAppendDefault <= kNvramRecordsPerAppendMax);
inline constexpr size_t kRegisterNameBytesMaxWire = 256;
inline constexpr size_t kRegisterValueBytesMaxWire = 64 * 1024;
inline constexpr size_t kErrorTextBytesMax = 1024;
// Fragments per fragment-list reply: 4096 x ~40 bytes of capnp is ~160 KiB, far below a frame's
// body limit, and a listing of a full 16 Mi-slot disk takes 4096 round trips.
inline constexpr size_t kFragmentListMax = 4096;
static_assert(kFragmentListMax * 64 <= kBodyMaxBytes, "a full list reply fits one frame body");
// Fingerprints per index-list reply: 8192 x (32 + 8 bytes of capnp list pointer) is ~320 KiB.
inline constexpr size_t kIndexListMax = kIndexBatchMax;
static_assert(kIndexListMax * 48 <= kBodyMaxBytes, "a full index-list reply fits one frame body");

using Fingerprint = std::array<uint8_t, kFingerprintBytes>;

struct ChunkLocation {
  uint64_t container_id = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  friend bool operator==(const ChunkLocation&, const ChunkLocation&) = default;
};

struct FragmentIdValue {
  uint64_t container_id = 0;
  uint8_t index = 0;
  uint32_t generation = 0;
  friend bool operator==(const FragmentIdValue&, const FragmentIdValue&) = default;
};

// --- NVRAM ---
struct NvramAppendReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<uint32_t> record_lengths;  // payload = records concatenated; lengths must sum to it
};
struct NvramAppendRep {
  uint64_t first_sequence = 0;
  uint64_t used_bytes = 0;
  uint64_t capacity_bytes = 0;
};
struct NvramReadReq {
  uint32_t host_id = 0;
  uint64_t from_sequence = 0;
  uint32_t max_bytes = 0;
};
struct NvramReadRep {
  uint64_t first_sequence = 0;
  std::vector<uint32_t> record_lengths;
  uint64_t next_sequence = 0;
};
struct NvramTrimReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint64_t through_sequence = 0;
};
struct NvramUsageValue {
  uint32_t host_id = 0;
  uint64_t used_bytes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;
};

// --- fragments and disks ---
struct FragmentWriteReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint16_t disk = 0;
  FragmentIdValue id;
  uint32_t crc32c = 0;
};
struct FragmentReadReq {
  uint16_t disk = 0;
  FragmentIdValue id;
  uint32_t offset = 0;
  uint32_t length = 0;  // 0: whole fragment
};
struct FragmentReadRep {
  uint32_t crc32c = 0;
};
struct FragmentDeleteReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint16_t disk = 0;
  FragmentIdValue id;
};
// Where a fragment listing (re)starts: the first stored fragment at or after (container, index).
struct FragmentCursor {
  uint64_t container_id = 0;
  uint8_t index = 0;
  friend auto operator<=>(const FragmentCursor&, const FragmentCursor&) = default;
};
struct FragmentListReq {
  uint16_t disk = 0;
  FragmentCursor from;
  uint32_t max_entries = 0;  // 0 or above kFragmentListMax: kFragmentListMax
};
struct ListedFragmentValue {
  FragmentIdValue id;
  uint32_t payload_length = 0;  // bytes after the fragment header
  friend bool operator==(const ListedFragmentValue&, const ListedFragmentValue&) = default;
};
// Decoding checks the shape (kProtocol): at most kFragmentListMax fragments, strictly increasing
// (container, index), and unless `end` a next cursor after the last one listed, so a client
// that follows `next` always makes progress.
struct FragmentListRep {
  std::vector<ListedFragmentValue> fragments;
  bool end = true;
  FragmentCursor next;  // meaningful unless end
};
enum class DiskStateValue : uint8_t { kHealthy, kFailed, kRebuilding };
struct DiskInfoValue {
  uint16_t index = 0;
  DiskStateValue state = DiskStateValue::kHealthy;
  uint64_t capacity_bytes = 0;
  uint32_t slots_total = 0;
  uint32_t slots_used = 0;
  uint32_t generation = 0;
  uint32_t slot_payload_max_bytes = 0;  // the largest fragment payload a slot holds (0: unknown)
};
enum class DiskActionValue : uint8_t { kFail, kReplace };
struct DiskAdminReq {
  uint64_t epoch = 0;
  uint16_t disk = 0;
  DiskActionValue action = DiskActionValue::kFail;
};

// --- index ---
struct IndexLookupReq {
  std::vector<Fingerprint> fingerprints;
};
struct IndexLookupRep {
  std::vector<bool> found;
  std::vector<ChunkLocation> locations;
};
struct IndexListReq {
  Fingerprint from{};
  uint32_t max_entries = 0;  // 0 or above kIndexListMax: kIndexListMax
};
// Decoding checks the shape (kProtocol): at most kIndexListMax fps, strictly increasing, and
// unless `end` a next fp after the last one listed (a client following `next` makes progress).
struct IndexListRep {
  std::vector<Fingerprint> fingerprints;
  bool end = true;
  Fingerprint next{};  // meaningful unless end
  bool rebuilding = false;
};
struct IndexInsertReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<Fingerprint> fingerprints;
  std::vector<ChunkLocation> locations;
};
struct IndexInsertRep {
  std::vector<bool> inserted;
  std::vector<ChunkLocation> existing;
};
struct IndexRemoveReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<Fingerprint> fingerprints;
};

enum class IndexRebuildPhase : uint8_t { kBegin, kEntries, kFinish };
// Decoding checks the shape: begin and finish carry no entries, entries at most kIndexBatchMax
// (kInvalidArgument, so the connection stays up); the order of phases is the shelf's to check.
struct IndexRebuildReq {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  IndexRebuildPhase phase = IndexRebuildPhase::kBegin;
  uint64_t rebuild_id = 0;  // entries and finish: begin's answer
  std::vector<Fingerprint> fingerprints;
  std::vector<ChunkLocation> locations;
};
struct IndexRebuildRep {
  uint64_t rebuild_id = 0;
  uint64_t inserted = 0;
  uint64_t already_present = 0;
  uint64_t entries = 0;  // in the index after the request
};

// --- registers ---
struct RegisterGetReq {
  std::string name;
};
struct RegisterValueRep {
  bool exists = false;
  std::vector<uint8_t> value;
  uint64_t version = 0;
  uint64_t epoch = 0;
};
struct RegisterCasReq {
  std::string name;
  uint64_t expected_version = 0;
  std::vector<uint8_t> new_value;
  uint64_t epoch = 0;
};
struct RegisterCasRep {
  bool swapped = false;
  RegisterValueRep current;
};

// --- status ---
struct HostStatsValue {
  uint32_t host_id = 0;
  uint64_t requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<uint64_t> latency_buckets_micros;
};
struct IndexStatusValue {
  uint64_t entries = 0;
  bool rebuilding = false;  // a rebuild began and has not finished: lookups may miss
  uint64_t rebuild_id = 0;  // the rebuild in progress; 0: none, or only a new begin continues
};
struct StatusRep {
  uint64_t cluster_id = 0;
  uint32_t shelf_id = 0;
  std::vector<DiskInfoValue> disks;
  std::vector<NvramUsageValue> nvram;
  std::vector<HostStatsValue> hosts;
  IndexStatusValue index;
};

using Body = kj::Array<capnp::word>;
using Words = std::span<const capnp::word>;

#define SA_SHELF_MESSAGE(Type)    \
  Body encode(const Type& value); \
  Result<Type> decode_##Type(Words body, const FrameLimits& limits)

SA_SHELF_MESSAGE(NvramAppendReq);
SA_SHELF_MESSAGE(NvramAppendRep);
SA_SHELF_MESSAGE(NvramReadReq);
SA_SHELF_MESSAGE(NvramReadRep);
SA_SHELF_MESSAGE(NvramTrimReq);
SA_SHELF_MESSAGE(NvramUsageValue);
SA_SHELF_MESSAGE(FragmentWriteReq);
SA_SHELF_MESSAGE(FragmentReadReq);
SA_SHELF_MESSAGE(FragmentReadRep);
SA_SHELF_MESSAGE(FragmentDeleteReq);
SA_SHELF_MESSAGE(DiskAdminReq);
SA_SHELF_MESSAGE(FragmentListReq);
SA_SHELF_MESSAGE(FragmentListRep);
SA_SHELF_MESSAGE(IndexLookupReq);
SA_SHELF_MESSAGE(IndexLookupRep);
SA_SHELF_MESSAGE(IndexListReq);
SA_SHELF_MESSAGE(IndexListRep);
SA_SHELF_MESSAGE(IndexInsertReq);
SA_SHELF_MESSAGE(IndexInsertRep);
SA_SHELF_MESSAGE(IndexRemoveReq);
SA_SHELF_MESSAGE(IndexRebuildReq);
SA_SHELF_MESSAGE(IndexRebuildRep);
SA_SHELF_MESSAGE(RegisterGetReq);
SA_SHELF_MESSAGE(RegisterValueRep);
SA_SHELF_MESSAGE(RegisterCasReq);
SA_SHELF_MESSAGE(RegisterCasRep);
SA_SHELF_MESSAGE(StatusRep);

#undef SA_SHELF_MESSAGE

// An empty body for requests and replies that carry nothing (kDiskList, kStatus requests,
// trim/delete/admin replies): a valid capnp message with an empty root struct.
Body encode_empty();

}  // namespace splitarray::protocol
