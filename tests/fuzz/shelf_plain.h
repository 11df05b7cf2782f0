// tests/fuzz/shelf_plain.h
// Plain C++ values mirroring every struct in protocol/schema/shelf.capnp, with
//   from(Reader) -> value   reads EVERY field (texts, data, lists, nested structs), and
//   fill(Builder, value)    writes every field back.
// The fuzzer runs from() inside decode_body's try block, so each of capnp's lazy pointer checks
// fires there; fill() lets it check decode(encode(v)) == v. The seed generator builds its bodies
// with fill().
// Invariant: from() reads each pointer field exactly once. decode_body bounds traversal by the
// body's size, and capnp charges every read of a pointer against that budget, so a converter that
// read a list twice would reject valid messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shelf.capnp.h"

namespace splitarray::fuzz {

namespace schema = protocol::schema;
using Bytes = std::vector<uint8_t>;

// --- list and blob helpers -----------------------------------------------------------------

inline std::string text_of(capnp::Text::Reader text) { return {text.begin(), text.size()}; }
inline Bytes bytes_of(capnp::Data::Reader data) { return {data.begin(), data.end()}; }
inline capnp::Text::Reader text_reader(const std::string& s) { return {s.data(), s.size()}; }
inline capnp::Data::Reader data_reader(const Bytes& b) { return {b.data(), b.size()}; }

template <class T, class List>
std::vector<T> primitives_of(List list) {
  std::vector<T> out;
  out.reserve(list.size());
  for (auto v : list) out.push_back(v);
  return out;
}
template <class List>
std::vector<Bytes> blobs_of(List list) {
  std::vector<Bytes> out;
  out.reserve(list.size());
  for (capnp::Data::Reader d : list) out.push_back(bytes_of(d));
  return out;
}
template <class T, class List>
std::vector<T> structs_of(List list);  // defined after the from() overloads

template <class ListBuilder, class T>
void fill_primitives(ListBuilder list, const std::vector<T>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
}
template <class ListBuilder>
void fill_blobs(ListBuilder list, const std::vector<Bytes>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, data_reader(values[i]));
}
template <class ListBuilder, class T>
void fill_structs(ListBuilder list, const std::vector<T>& values);

// --- generic ---------------------------------------------------------------------------------

struct ErrorReply {
  uint16_t code = 0;
  std::string message;
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};
inline ErrorReply from(schema::ErrorReply::Reader r) {
  return {r.getCode(), text_of(r.getMessage())};
}
inline void fill(schema::ErrorReply::Builder b, const ErrorReply& v) {
  b.setCode(v.code);
  b.setMessage(text_reader(v.message));
}

struct EchoRequest {
  uint32_t delay_micros = 0;
  uint64_t tag = 0;
  friend bool operator==(const EchoRequest&, const EchoRequest&) = default;
};
inline EchoRequest from(schema::EchoRequest::Reader r) { return {r.getDelayMicros(), r.getTag()}; }
inline void fill(schema::EchoRequest::Builder b, const EchoRequest& v) {
  b.setDelayMicros(v.delay_micros);
  b.setTag(v.tag);
}

struct EchoReply {
  uint64_t tag = 0;
  uint32_t payload_crc32c = 0;
  friend bool operator==(const EchoReply&, const EchoReply&) = default;
};
inline EchoReply from(schema::EchoReply::Reader r) { return {r.getTag(), r.getPayloadCrc32c()}; }
inline void fill(schema::EchoReply::Builder b, const EchoReply& v) {
  b.setTag(v.tag);
  b.setPayloadCrc32c(v.payload_crc32c);
}

// --- NVRAM -----------------------------------------------------------------------------------

struct NvramAppendRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<uint32_t> record_lengths;
  friend bool operator==(const NvramAppendRequest&, const NvramAppendRequest&) = default;
};
inline NvramAppendRequest from(schema::NvramAppendRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), primitives_of<uint32_t>(r.getRecordLengths())};
}
inline void fill(schema::NvramAppendRequest::Builder b, const NvramAppendRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  fill_primitives(b.initRecordLengths(v.record_lengths.size()), v.record_lengths);
}

struct NvramAppendReply {
  uint64_t first_sequence = 0;
  uint64_t used_bytes = 0;
  uint64_t capacity_bytes = 0;
  friend bool operator==(const NvramAppendReply&, const NvramAppendReply&) = default;
};
inline NvramAppendReply from(schema::NvramAppendReply::Reader r) {
  return {r.getFirstSequence(), r.getUsedBytes(), r.getCapacityBytes()};
}
inline void fill(schema::NvramAppendReply::Builder b, const NvramAppendReply& v) {
  b.setFirstSequence(v.first_sequence);
  b.setUsedBytes(v.used_bytes);
  b.setCapacityBytes(v.capacity_bytes);
}

struct NvramReadRequest {
  uint32_t host_id = 0;
  uint64_t from_sequence = 0;
  uint32_t max_bytes = 0;
  friend bool operator==(const NvramReadRequest&, const NvramReadRequest&) = default;
};
inline NvramReadRequest from(schema::NvramReadRequest::Reader r) {
  return {r.getHostId(), r.getFromSequence(), r.getMaxBytes()};
}
inline void fill(schema::NvramReadRequest::Builder b, const NvramReadRequest& v) {
  b.setHostId(v.host_id);
  b.setFromSequence(v.from_sequence);
  b.setMaxBytes(v.max_bytes);
}

struct NvramReadReply {
  uint64_t first_sequence = 0;
  std::vector<uint32_t> record_lengths;
  uint64_t next_sequence = 0;
  friend bool operator==(const NvramReadReply&, const NvramReadReply&) = default;
};
inline NvramReadReply from(schema::NvramReadReply::Reader r) {
  return {r.getFirstSequence(), primitives_of<uint32_t>(r.getRecordLengths()), r.getNextSequence()};
}
inline void fill(schema::NvramReadReply::Builder b, const NvramReadReply& v) {
  b.setFirstSequence(v.first_sequence);
  fill_primitives(b.initRecordLengths(v.record_lengths.size()), v.record_lengths);
  b.setNextSequence(v.next_sequence);
}

struct NvramTrimRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint64_t through_sequence = 0;
  friend bool operator==(const NvramTrimRequest&, const NvramTrimRequest&) = default;
};
inline NvramTrimRequest from(schema::NvramTrimRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), r.getThroughSequence()};
}
inline void fill(schema::NvramTrimRequest::Builder b, const NvramTrimRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  b.setThroughSequence(v.through_sequence);
}

struct NvramUsage {
  uint32_t host_id = 0;
  uint64_t used_bytes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;
  friend bool operator==(const NvramUsage&, const NvramUsage&) = default;
};
inline NvramUsage from(schema::NvramUsage::Reader r) {
  return {r.getHostId(), r.getUsedBytes(), r.getCapacityBytes(), r.getFirstSequence(),
          r.getNextSequence()};
}
inline void fill(schema::NvramUsage::Builder b, const NvramUsage& v) {
  b.setHostId(v.host_id);
  b.setUsedBytes(v.used_bytes);
  b.setCapacityBytes(v.capacity_bytes);
  b.setFirstSequence(v.first_sequence);
  b.setNextSequence(v.next_sequence);
}

// --- fragments and disks ---------------------------------------------------------------------

struct FragmentId {
  uint64_t container_id = 0;
  uint8_t index = 0;
  uint32_t generation = 0;
  friend bool operator==(const FragmentId&, const FragmentId&) = default;
};
inline FragmentId from(schema::FragmentId::Reader r) {
  return {r.getContainerId(), r.getIndex(), r.getGeneration()};
}
inline void fill(schema::FragmentId::Builder b, const FragmentId& v) {
  b.setContainerId(v.container_id);
  b.setIndex(v.index);
  b.setGeneration(v.generation);
}

struct FragmentWriteRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint16_t disk = 0;
  FragmentId id;
  uint32_t crc32c = 0;
  friend bool operator==(const FragmentWriteRequest&, const FragmentWriteRequest&) = default;
};
inline FragmentWriteRequest from(schema::FragmentWriteRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), r.getDisk(), from(r.getId()), r.getCrc32c()};
}
inline void fill(schema::FragmentWriteRequest::Builder b, const FragmentWriteRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  b.setDisk(v.disk);
  fill(b.initId(), v.id);
  b.setCrc32c(v.crc32c);
}

struct FragmentReadRequest {
  uint16_t disk = 0;
  FragmentId id;
  uint32_t offset = 0;
  uint32_t length = 0;
  friend bool operator==(const FragmentReadRequest&, const FragmentReadRequest&) = default;
};
inline FragmentReadRequest from(schema::FragmentReadRequest::Reader r) {
  return {r.getDisk(), from(r.getId()), r.getOffset(), r.getLength()};
}
inline void fill(schema::FragmentReadRequest::Builder b, const FragmentReadRequest& v) {
  b.setDisk(v.disk);
  fill(b.initId(), v.id);
  b.setOffset(v.offset);
  b.setLength(v.length);
}

struct FragmentReadReply {
  uint32_t crc32c = 0;
  friend bool operator==(const FragmentReadReply&, const FragmentReadReply&) = default;
};
inline FragmentReadReply from(schema::FragmentReadReply::Reader r) { return {r.getCrc32c()}; }
inline void fill(schema::FragmentReadReply::Builder b, const FragmentReadReply& v) {
  b.setCrc32c(v.crc32c);
}

struct FragmentDeleteRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint16_t disk = 0;
  FragmentId id;
  friend bool operator==(const FragmentDeleteRequest&, const FragmentDeleteRequest&) = default;
};
inline FragmentDeleteRequest from(schema::FragmentDeleteRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), r.getDisk(), from(r.getId())};
}
inline void fill(schema::FragmentDeleteRequest::Builder b, const FragmentDeleteRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  b.setDisk(v.disk);
  fill(b.initId(), v.id);
}

struct FragmentListRequest {
  uint16_t disk = 0;
  uint64_t from_container_id = 0;
  uint8_t from_index = 0;
  uint32_t max_entries = 0;
  friend bool operator==(const FragmentListRequest&, const FragmentListRequest&) = default;
};
inline FragmentListRequest from(schema::FragmentListRequest::Reader r) {
  return {r.getDisk(), r.getFromContainerId(), r.getFromIndex(), r.getMaxEntries()};
}
inline void fill(schema::FragmentListRequest::Builder b, const FragmentListRequest& v) {
  b.setDisk(v.disk);
  b.setFromContainerId(v.from_container_id);
  b.setFromIndex(v.from_index);
  b.setMaxEntries(v.max_entries);
}

struct ListedFragment {
  FragmentId id;
  uint32_t payload_length = 0;
  friend bool operator==(const ListedFragment&, const ListedFragment&) = default;
};
inline ListedFragment from(schema::ListedFragment::Reader r) {
  return {from(r.getId()), r.getPayloadLength()};
}
inline void fill(schema::ListedFragment::Builder b, const ListedFragment& v) {
  fill(b.initId(), v.id);
  b.setPayloadLength(v.payload_length);
}

struct FragmentListReply {
  std::vector<ListedFragment> fragments;
  bool end = false;
  uint64_t next_container_id = 0;
  uint8_t next_index = 0;
  friend bool operator==(const FragmentListReply&, const FragmentListReply&) = default;
};
inline FragmentListReply from(schema::FragmentListReply::Reader r);
inline void fill(schema::FragmentListReply::Builder b, const FragmentListReply& v) {
  fill_structs(b.initFragments(v.fragments.size()), v.fragments);
  b.setEnd(v.end);
  b.setNextContainerId(v.next_container_id);
  b.setNextIndex(v.next_index);
}

// Enums stay raw uint16_t: values this build does not know must survive a round trip.
struct DiskInfo {
  uint16_t index = 0;
  uint16_t state = 0;
  uint64_t capacity_bytes = 0;
  uint32_t slots_total = 0;
  uint32_t slots_used = 0;
  uint32_t generation = 0;
  friend bool operator==(const DiskInfo&, const DiskInfo&) = default;
};
inline DiskInfo from(schema::DiskInfo::Reader r) {
  return {r.getIndex(),         static_cast<uint16_t>(r.getState()),
          r.getCapacityBytes(), r.getSlotsTotal(),
          r.getSlotsUsed(),     r.getGeneration()};
}
inline void fill(schema::DiskInfo::Builder b, const DiskInfo& v) {
  b.setIndex(v.index);
  b.setState(static_cast<schema::DiskState>(v.state));
  b.setCapacityBytes(v.capacity_bytes);
  b.setSlotsTotal(v.slots_total);
  b.setSlotsUsed(v.slots_used);
  b.setGeneration(v.generation);
}

struct DiskAdminRequest {
  uint64_t epoch = 0;
  uint16_t disk = 0;
  uint16_t action = 0;
  friend bool operator==(const DiskAdminRequest&, const DiskAdminRequest&) = default;
};
inline DiskAdminRequest from(schema::DiskAdminRequest::Reader r) {
  return {r.getEpoch(), r.getDisk(), static_cast<uint16_t>(r.getAction())};
}
inline void fill(schema::DiskAdminRequest::Builder b, const DiskAdminRequest& v) {
  b.setEpoch(v.epoch);
  b.setDisk(v.disk);
  b.setAction(static_cast<schema::DiskAction>(v.action));
}

// --- fingerprint index -----------------------------------------------------------------------

struct ChunkLocation {
  uint64_t container_id = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  friend bool operator==(const ChunkLocation&, const ChunkLocation&) = default;
};
inline ChunkLocation from(schema::ChunkLocation::Reader r) {
  return {r.getContainerId(), r.getOffset(), r.getLength()};
}
inline void fill(schema::ChunkLocation::Builder b, const ChunkLocation& v) {
  b.setContainerId(v.container_id);
  b.setOffset(v.offset);
  b.setLength(v.length);
}

struct IndexLookupRequest {
  std::vector<Bytes> fingerprints;
  friend bool operator==(const IndexLookupRequest&, const IndexLookupRequest&) = default;
};
inline IndexLookupRequest from(schema::IndexLookupRequest::Reader r) {
  return {blobs_of(r.getFingerprints())};
}
inline void fill(schema::IndexLookupRequest::Builder b, const IndexLookupRequest& v) {
  fill_blobs(b.initFingerprints(v.fingerprints.size()), v.fingerprints);
}

struct IndexListRequest {
  Bytes from;
  uint32_t max_entries = 0;
  friend bool operator==(const IndexListRequest&, const IndexListRequest&) = default;
};
inline IndexListRequest from(schema::IndexListRequest::Reader r) {
  return {bytes_of(r.getFrom()), r.getMaxEntries()};
}
inline void fill(schema::IndexListRequest::Builder b, const IndexListRequest& v) {
  b.setFrom(data_reader(v.from));
  b.setMaxEntries(v.max_entries);
}

struct IndexListReply {
  std::vector<Bytes> fingerprints;
  bool end = false;
  Bytes next;
  bool rebuilding = false;
  friend bool operator==(const IndexListReply&, const IndexListReply&) = default;
};
inline IndexListReply from(schema::IndexListReply::Reader r) {
  return {blobs_of(r.getFingerprints()), r.getEnd(), bytes_of(r.getNext()), r.getRebuilding()};
}
inline void fill(schema::IndexListReply::Builder b, const IndexListReply& v) {
  fill_blobs(b.initFingerprints(v.fingerprints.size()), v.fingerprints);
  b.setEnd(v.end);
  b.setNext(data_reader(v.next));
  b.setRebuilding(v.rebuilding);
}

struct IndexLookupReply {
  std::vector<bool> found;
  std::vector<ChunkLocation> locations;
  friend bool operator==(const IndexLookupReply&, const IndexLookupReply&) = default;
};
inline IndexLookupReply from(schema::IndexLookupReply::Reader r);
inline void fill(schema::IndexLookupReply::Builder b, const IndexLookupReply& v) {
  fill_primitives(b.initFound(v.found.size()), v.found);
  fill_structs(b.initLocations(v.locations.size()), v.locations);
}

struct IndexInsertRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<Bytes> fingerprints;
  std::vector<ChunkLocation> locations;
  friend bool operator==(const IndexInsertRequest&, const IndexInsertRequest&) = default;
};
inline IndexInsertRequest from(schema::IndexInsertRequest::Reader r);
inline void fill(schema::IndexInsertRequest::Builder b, const IndexInsertRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  fill_blobs(b.initFingerprints(v.fingerprints.size()), v.fingerprints);
  fill_structs(b.initLocations(v.locations.size()), v.locations);
}

struct IndexInsertReply {
  std::vector<bool> inserted;
  std::vector<ChunkLocation> existing;
  friend bool operator==(const IndexInsertReply&, const IndexInsertReply&) = default;
};
inline IndexInsertReply from(schema::IndexInsertReply::Reader r);
inline void fill(schema::IndexInsertReply::Builder b, const IndexInsertReply& v) {
  fill_primitives(b.initInserted(v.inserted.size()), v.inserted);
  fill_structs(b.initExisting(v.existing.size()), v.existing);
}

struct IndexRemoveRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  std::vector<Bytes> fingerprints;
  friend bool operator==(const IndexRemoveRequest&, const IndexRemoveRequest&) = default;
};
inline IndexRemoveRequest from(schema::IndexRemoveRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), blobs_of(r.getFingerprints())};
}
inline void fill(schema::IndexRemoveRequest::Builder b, const IndexRemoveRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  fill_blobs(b.initFingerprints(v.fingerprints.size()), v.fingerprints);
}

struct IndexRebuildRequest {
  uint32_t host_id = 0;
  uint64_t epoch = 0;
  uint16_t phase = 0;
  uint64_t rebuild_id = 0;
  std::vector<Bytes> fingerprints;
  std::vector<ChunkLocation> locations;
  friend bool operator==(const IndexRebuildRequest&, const IndexRebuildRequest&) = default;
};
inline IndexRebuildRequest from(schema::IndexRebuildRequest::Reader r);
inline void fill(schema::IndexRebuildRequest::Builder b, const IndexRebuildRequest& v) {
  b.setHostId(v.host_id);
  b.setEpoch(v.epoch);
  b.setPhase(static_cast<schema::IndexRebuildPhase>(v.phase));
  b.setRebuildId(v.rebuild_id);
  fill_blobs(b.initFingerprints(v.fingerprints.size()), v.fingerprints);
  fill_structs(b.initLocations(v.locations.size()), v.locations);
}

struct IndexRebuildReply {
  uint64_t rebuild_id = 0;
  uint64_t inserted = 0;
  uint64_t already_present = 0;
  uint64_t entries = 0;
  friend bool operator==(const IndexRebuildReply&, const IndexRebuildReply&) = default;
};
inline IndexRebuildReply from(schema::IndexRebuildReply::Reader r) {
  return {r.getRebuildId(), r.getInserted(), r.getAlreadyPresent(), r.getEntries()};
}
inline void fill(schema::IndexRebuildReply::Builder b, const IndexRebuildReply& v) {
  b.setRebuildId(v.rebuild_id);
  b.setInserted(v.inserted);
  b.setAlreadyPresent(v.already_present);
  b.setEntries(v.entries);
}

// --- registers -------------------------------------------------------------------------------

struct RegisterGetRequest {
  std::string name;
  friend bool operator==(const RegisterGetRequest&, const RegisterGetRequest&) = default;
};
inline RegisterGetRequest from(schema::RegisterGetRequest::Reader r) {
  return {text_of(r.getName())};
}
inline void fill(schema::RegisterGetRequest::Builder b, const RegisterGetRequest& v) {
  b.setName(text_reader(v.name));
}

struct RegisterValue {
  bool exists = false;
  Bytes value;
  uint64_t version = 0;
  uint64_t epoch = 0;
  friend bool operator==(const RegisterValue&, const RegisterValue&) = default;
};
inline RegisterValue from(schema::RegisterValue::Reader r) {
  return {r.getExists(), bytes_of(r.getValue()), r.getVersion(), r.getEpoch()};
}
inline void fill(schema::RegisterValue::Builder b, const RegisterValue& v) {
  b.setExists(v.exists);
  b.setValue(data_reader(v.value));
  b.setVersion(v.version);
  b.setEpoch(v.epoch);
}

struct RegisterCasRequest {
  std::string name;
  uint64_t expected_version = 0;
  Bytes new_value;
  uint64_t epoch = 0;
  friend bool operator==(const RegisterCasRequest&, const RegisterCasRequest&) = default;
};
inline RegisterCasRequest from(schema::RegisterCasRequest::Reader r) {
  return {text_of(r.getName()), r.getExpectedVersion(), bytes_of(r.getNewValue()), r.getEpoch()};
}
inline void fill(schema::RegisterCasRequest::Builder b, const RegisterCasRequest& v) {
  b.setName(text_reader(v.name));
  b.setExpectedVersion(v.expected_version);
  b.setNewValue(data_reader(v.new_value));
  b.setEpoch(v.epoch);
}

struct RegisterCasReply {
  bool swapped = false;
  RegisterValue current;
  friend bool operator==(const RegisterCasReply&, const RegisterCasReply&) = default;
};
inline RegisterCasReply from(schema::RegisterCasReply::Reader r) {
  return {r.getSwapped(), from(r.getCurrent())};
}
inline void fill(schema::RegisterCasReply::Builder b, const RegisterCasReply& v) {
  b.setSwapped(v.swapped);
  fill(b.initCurrent(), v.current);
}

// --- status ----------------------------------------------------------------------------------

struct HostStats {
  uint32_t host_id = 0;
  uint64_t requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<uint64_t> latency_buckets_micros;
  friend bool operator==(const HostStats&, const HostStats&) = default;
};
inline HostStats from(schema::HostStats::Reader r) {
  return {r.getHostId(), r.getRequests(), r.getBytesIn(), r.getBytesOut(),
          primitives_of<uint64_t>(r.getLatencyBucketsMicros())};
}
inline void fill(schema::HostStats::Builder b, const HostStats& v) {
  b.setHostId(v.host_id);
  b.setRequests(v.requests);
  b.setBytesIn(v.bytes_in);
  b.setBytesOut(v.bytes_out);
  fill_primitives(b.initLatencyBucketsMicros(v.latency_buckets_micros.size()),
                  v.latency_buckets_micros);
}

struct IndexStatus {
  uint64_t entries = 0;
  bool rebuilding = false;
  uint64_t rebuild_id = 0;
  friend bool operator==(const IndexStatus&, const IndexStatus&) = default;
};
inline IndexStatus from(schema::IndexStatus::Reader r) {
  return {r.getEntries(), r.getRebuilding(), r.getRebuildId()};
}
inline void fill(schema::IndexStatus::Builder b, const IndexStatus& v) {
  b.setEntries(v.entries);
  b.setRebuilding(v.rebuilding);
  b.setRebuildId(v.rebuild_id);
}

struct StatusReply {
  uint64_t cluster_id = 0;
  uint32_t shelf_id = 0;
  std::vector<DiskInfo> disks;
  std::vector<NvramUsage> nvram;
  std::vector<HostStats> hosts;
  IndexStatus index;
  friend bool operator==(const StatusReply&, const StatusReply&) = default;
};
inline StatusReply from(schema::StatusReply::Reader r);
inline void fill(schema::StatusReply::Builder b, const StatusReply& v) {
  b.setClusterId(v.cluster_id);
  b.setShelfId(v.shelf_id);
  fill_structs(b.initDisks(v.disks.size()), v.disks);
  fill_structs(b.initNvram(v.nvram.size()), v.nvram);
  fill_structs(b.initHosts(v.hosts.size()), v.hosts);
  fill(b.initIndex(), v.index);
}

// --- struct lists (need every from()/fill() overload declared above) --------------------------

template <class T, class List>
std::vector<T> structs_of(List list) {
  std::vector<T> out;
  out.reserve(list.size());
  for (auto element : list) out.push_back(from(element));
  return out;
}
template <class ListBuilder, class T>
void fill_structs(ListBuilder list, const std::vector<T>& values) {
  for (unsigned i = 0; i < values.size(); ++i) fill(list[i], values[i]);
}

inline IndexLookupReply from(schema::IndexLookupReply::Reader r) {
  return {primitives_of<bool>(r.getFound()), structs_of<ChunkLocation>(r.getLocations())};
}
inline IndexInsertRequest from(schema::IndexInsertRequest::Reader r) {
  return {r.getHostId(), r.getEpoch(), blobs_of(r.getFingerprints()),
          structs_of<ChunkLocation>(r.getLocations())};
}
inline IndexInsertReply from(schema::IndexInsertReply::Reader r) {
  return {primitives_of<bool>(r.getInserted()), structs_of<ChunkLocation>(r.getExisting())};
}
inline IndexRebuildRequest from(schema::IndexRebuildRequest::Reader r) {
  return {r.getHostId(),
          r.getEpoch(),
          static_cast<uint16_t>(r.getPhase()),
          r.getRebuildId(),
          blobs_of(r.getFingerprints()),
          structs_of<ChunkLocation>(r.getLocations())};
}
inline FragmentListReply from(schema::FragmentListReply::Reader r) {
  return {structs_of<ListedFragment>(r.getFragments()), r.getEnd(), r.getNextContainerId(),
          r.getNextIndex()};
}
inline StatusReply from(schema::StatusReply::Reader r) {
  return {r.getClusterId(),
          r.getShelfId(),
          structs_of<DiskInfo>(r.getDisks()),
          structs_of<NvramUsage>(r.getNvram()),
          structs_of<HostStats>(r.getHosts()),
          from(r.getIndex())};
}

}  // namespace splitarray::fuzz
