#include "protocol/shelf_messages.h"

#include <cstring>

#include "protocol/codec.h"
#include "protocol/fragment_header.h"
#include "shelf.capnp.h"

namespace splitarray::protocol {
namespace {

namespace s = schema;

Error invalid(const std::string& what) { return make_error(Code::kProtocol, what); }

// --- small field helpers ------------------------------------------------------------------

capnp::Data::Reader as_data(std::span<const uint8_t> bytes) {
  return capnp::Data::Reader(bytes.data(), bytes.size());
}

Result<Fingerprint> to_fingerprint(capnp::Data::Reader data) {
  if (data.size() != kFingerprintBytes) return invalid("fingerprint is not 32 bytes");
  Fingerprint fp;
  std::memcpy(fp.data(), data.begin(), kFingerprintBytes);
  return fp;
}

Result<std::vector<Fingerprint>> to_fingerprints(capnp::List<capnp::Data>::Reader list) {
  if (list.size() > kIndexBatchMax) return invalid("too many fingerprints in one request");
  std::vector<Fingerprint> out;
  out.reserve(list.size());
  for (auto data : list) {
    ASSIGN_OR_RETURN(Fingerprint fp, to_fingerprint(data));
    out.push_back(fp);
  }
  return out;
}

void set_fingerprints(capnp::List<capnp::Data>::Builder list, const std::vector<Fingerprint>& fps) {
  for (unsigned i = 0; i < fps.size(); ++i) list.set(i, as_data(fps[i]));
}

ChunkLocation to_location(s::ChunkLocation::Reader r) {
  return ChunkLocation{r.getContainerId(), r.getOffset(), r.getLength()};
}

void set_location(s::ChunkLocation::Builder b, const ChunkLocation& v) {
  b.setContainerId(v.container_id);
  b.setOffset(v.offset);
  b.setLength(v.length);
}

std::vector<ChunkLocation> to_locations(capnp::List<s::ChunkLocation>::Reader list) {
  std::vector<ChunkLocation> out;
  out.reserve(list.size());
  for (auto r : list) out.push_back(to_location(r));
  return out;
}

void set_locations(capnp::List<s::ChunkLocation>::Builder list,
                   const std::vector<ChunkLocation>& locations) {
  for (unsigned i = 0; i < locations.size(); ++i) set_location(list[i], locations[i]);
}

std::vector<bool> to_bools(capnp::List<bool>::Reader list) {
  std::vector<bool> out;
  out.reserve(list.size());
  for (bool b : list) out.push_back(b);
  return out;
}

void set_bools(capnp::List<bool>::Builder list, const std::vector<bool>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
}

Result<std::vector<uint32_t>> to_lengths(capnp::List<uint32_t>::Reader list) {
  if (list.size() > kNvramRecordsPerAppendMax) return invalid("too many records in one request");
  std::vector<uint32_t> out;
  out.reserve(list.size());
  for (uint32_t n : list) out.push_back(n);
  return out;
}

void set_lengths(capnp::List<uint32_t>::Builder list, const std::vector<uint32_t>& lengths) {
  for (unsigned i = 0; i < lengths.size(); ++i) list.set(i, lengths[i]);
}

FragmentIdValue to_fragment_id(s::FragmentId::Reader r) {
  return FragmentIdValue{r.getContainerId(), r.getIndex(), r.getGeneration()};
}

void set_fragment_id(s::FragmentId::Builder b, const FragmentIdValue& v) {
  b.setContainerId(v.container_id);
  b.setIndex(v.index);
  b.setGeneration(v.generation);
}

Result<std::vector<uint8_t>> to_bytes(capnp::Data::Reader data, size_t max, const char* what) {
  if (data.size() > max) return invalid(std::string(what) + " too large");
  return std::vector<uint8_t>(data.begin(), data.end());
}

Result<std::string> to_text(capnp::Text::Reader text, size_t max, const char* what) {
  if (text.size() > max) return invalid(std::string(what) + " too long");
  return std::string(text.cStr(), text.size());
}

Result<DiskStateValue> to_disk_state(s::DiskState state) {
  switch (state) {
    case s::DiskState::HEALTHY:
      return DiskStateValue::kHealthy;
    case s::DiskState::FAILED:
      return DiskStateValue::kFailed;
    case s::DiskState::REBUILDING:
      return DiskStateValue::kRebuilding;
  }
  return invalid("unknown disk state");
}

s::DiskState from_disk_state(DiskStateValue state) {
  switch (state) {
    case DiskStateValue::kHealthy:
      return s::DiskState::HEALTHY;
    case DiskStateValue::kFailed:
      return s::DiskState::FAILED;
    case DiskStateValue::kRebuilding:
      return s::DiskState::REBUILDING;
  }
  UNREACHABLE("disk state");
}

Result<IndexRebuildPhase> to_rebuild_phase(s::IndexRebuildPhase phase) {
  switch (phase) {
    case s::IndexRebuildPhase::BEGIN:
      return IndexRebuildPhase::kBegin;
    case s::IndexRebuildPhase::ENTRIES:
      return IndexRebuildPhase::kEntries;
    case s::IndexRebuildPhase::FINISH:
      return IndexRebuildPhase::kFinish;
  }
  return invalid("unknown index rebuild phase");
}

s::IndexRebuildPhase from_rebuild_phase(IndexRebuildPhase phase) {
  switch (phase) {
    case IndexRebuildPhase::kBegin:
      return s::IndexRebuildPhase::BEGIN;
    case IndexRebuildPhase::kEntries:
      return s::IndexRebuildPhase::ENTRIES;
    case IndexRebuildPhase::kFinish:
      return s::IndexRebuildPhase::FINISH;
  }
  UNREACHABLE("index rebuild phase");
}

Result<RegisterValueRep> to_register_value(s::RegisterValue::Reader r) {
  RegisterValueRep v;
  v.exists = r.getExists();
  ASSIGN_OR_RETURN(v.value, to_bytes(r.getValue(), kRegisterValueBytesMaxWire, "register value"));
  v.version = r.getVersion();
  v.epoch = r.getEpoch();
  return v;
}

void set_register_value(s::RegisterValue::Builder b, const RegisterValueRep& v) {
  b.setExists(v.exists);
  b.setValue(as_data(v.value));
  b.setVersion(v.version);
  b.setEpoch(v.epoch);
}

template <class Schema, class Fill>
Body build(Fill&& fill) {
  return encode_body<Schema>(std::forward<Fill>(fill));
}

}  // namespace

Body encode_empty() {
  return build<s::Empty>([](s::Empty::Builder) {});
}

// --- NVRAM ------------------------------------------------------------------------------------

Body encode(const NvramAppendReq& v) {
  return build<s::NvramAppendRequest>([&](s::NvramAppendRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    set_lengths(b.initRecordLengths(static_cast<unsigned>(v.record_lengths.size())),
                v.record_lengths);
  });
}
Result<NvramAppendReq> decode_NvramAppendReq(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramAppendRequest>(
      body, limits, [](s::NvramAppendRequest::Reader r) -> Result<NvramAppendReq> {
        NvramAppendReq v;
        v.host_id = r.getHostId();
        v.epoch = r.getEpoch();
        ASSIGN_OR_RETURN(v.record_lengths, to_lengths(r.getRecordLengths()));
        return v;
      });
}

Body encode(const NvramAppendRep& v) {
  return build<s::NvramAppendReply>([&](s::NvramAppendReply::Builder b) {
    b.setFirstSequence(v.first_sequence);
    b.setUsedBytes(v.used_bytes);
    b.setCapacityBytes(v.capacity_bytes);
  });
}
Result<NvramAppendRep> decode_NvramAppendRep(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramAppendReply>(body, limits, [](s::NvramAppendReply::Reader r) {
    return NvramAppendRep{r.getFirstSequence(), r.getUsedBytes(), r.getCapacityBytes()};
  });
}

Body encode(const NvramReadReq& v) {
  return build<s::NvramReadRequest>([&](s::NvramReadRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setFromSequence(v.from_sequence);
    b.setMaxBytes(v.max_bytes);
  });
}
Result<NvramReadReq> decode_NvramReadReq(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramReadRequest>(body, limits, [](s::NvramReadRequest::Reader r) {
    return NvramReadReq{r.getHostId(), r.getFromSequence(), r.getMaxBytes()};
  });
}

Body encode(const NvramReadRep& v) {
  return build<s::NvramReadReply>([&](s::NvramReadReply::Builder b) {
    b.setFirstSequence(v.first_sequence);
    set_lengths(b.initRecordLengths(static_cast<unsigned>(v.record_lengths.size())),
                v.record_lengths);
    b.setNextSequence(v.next_sequence);
  });
}
Result<NvramReadRep> decode_NvramReadRep(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramReadReply>(
      body, limits, [](s::NvramReadReply::Reader r) -> Result<NvramReadRep> {
        NvramReadRep v;
        v.first_sequence = r.getFirstSequence();
        ASSIGN_OR_RETURN(v.record_lengths, to_lengths(r.getRecordLengths()));
        v.next_sequence = r.getNextSequence();
        return v;
      });
}

Body encode(const NvramTrimReq& v) {
  return build<s::NvramTrimRequest>([&](s::NvramTrimRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    b.setThroughSequence(v.through_sequence);
  });
}
Result<NvramTrimReq> decode_NvramTrimReq(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramTrimRequest>(body, limits, [](s::NvramTrimRequest::Reader r) {
    return NvramTrimReq{r.getHostId(), r.getEpoch(), r.getThroughSequence()};
  });
}

Body encode(const NvramUsageValue& v) {
  return build<s::NvramUsage>([&](s::NvramUsage::Builder b) {
    b.setHostId(v.host_id);
    b.setUsedBytes(v.used_bytes);
    b.setCapacityBytes(v.capacity_bytes);
    b.setFirstSequence(v.first_sequence);
    b.setNextSequence(v.next_sequence);
  });
}
Result<NvramUsageValue> decode_NvramUsageValue(Words body, const FrameLimits& limits) {
  return decode_body<s::NvramUsage>(body, limits, [](s::NvramUsage::Reader r) {
    return NvramUsageValue{r.getHostId(), r.getUsedBytes(), r.getCapacityBytes(),
                           r.getFirstSequence(), r.getNextSequence()};
  });
}

// --- fragments and disks -------------------------------------------------------------------

Body encode(const FragmentWriteReq& v) {
  return build<s::FragmentWriteRequest>([&](s::FragmentWriteRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    b.setDisk(v.disk);
    set_fragment_id(b.initId(), v.id);
    b.setCrc32c(v.crc32c);
  });
}
Result<FragmentWriteReq> decode_FragmentWriteReq(Words body, const FrameLimits& limits) {
  return decode_body<s::FragmentWriteRequest>(body, limits, [](s::FragmentWriteRequest::Reader r) {
    return FragmentWriteReq{r.getHostId(), r.getEpoch(), r.getDisk(), to_fragment_id(r.getId()),
                            r.getCrc32c()};
  });
}

Body encode(const FragmentReadReq& v) {
  return build<s::FragmentReadRequest>([&](s::FragmentReadRequest::Builder b) {
    b.setDisk(v.disk);
    set_fragment_id(b.initId(), v.id);
    b.setOffset(v.offset);
    b.setLength(v.length);
  });
}
Result<FragmentReadReq> decode_FragmentReadReq(Words body, const FrameLimits& limits) {
  return decode_body<s::FragmentReadRequest>(body, limits, [](s::FragmentReadRequest::Reader r) {
    return FragmentReadReq{r.getDisk(), to_fragment_id(r.getId()), r.getOffset(), r.getLength()};
  });
}

Body encode(const FragmentReadRep& v) {
  return build<s::FragmentReadReply>(
      [&](s::FragmentReadReply::Builder b) { b.setCrc32c(v.crc32c); });
}
Result<FragmentReadRep> decode_FragmentReadRep(Words body, const FrameLimits& limits) {
  return decode_body<s::FragmentReadReply>(
      body, limits, [](s::FragmentReadReply::Reader r) { return FragmentReadRep{r.getCrc32c()}; });
}

Body encode(const FragmentDeleteReq& v) {
  return build<s::FragmentDeleteRequest>([&](s::FragmentDeleteRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    b.setDisk(v.disk);
    set_fragment_id(b.initId(), v.id);
  });
}
Result<FragmentDeleteReq> decode_FragmentDeleteReq(Words body, const FrameLimits& limits) {
  return decode_body<
      s::FragmentDeleteRequest>(body, limits, [](s::FragmentDeleteRequest::Reader r) {
    return FragmentDeleteReq{r.getHostId(), r.getEpoch(), r.getDisk(), to_fragment_id(r.getId())};
  });
}

Body encode(const DiskAdminReq& v) {
  return build<s::DiskAdminRequest>([&](s::DiskAdminRequest::Builder b) {
    b.setEpoch(v.epoch);
    b.setDisk(v.disk);
    b.setAction(v.action == DiskActionValue::kFail ? s::DiskAction::FAIL : s::DiskAction::REPLACE);
  });
}
Result<DiskAdminReq> decode_DiskAdminReq(Words body, const FrameLimits& limits) {
  return decode_body<s::DiskAdminRequest>(
      body, limits, [](s::DiskAdminRequest::Reader r) -> Result<DiskAdminReq> {
        DiskAdminReq v;
        v.epoch = r.getEpoch();
        v.disk = r.getDisk();
        switch (r.getAction()) {
          case s::DiskAction::FAIL:
            v.action = DiskActionValue::kFail;
            break;
          case s::DiskAction::REPLACE:
            v.action = DiskActionValue::kReplace;
            break;
          default:
            return invalid("unknown disk action");
        }
        return v;
      });
}

Body encode(const FragmentListReq& v) {
  return build<s::FragmentListRequest>([&](s::FragmentListRequest::Builder b) {
    b.setDisk(v.disk);
    b.setFromContainerId(v.from.container_id);
    b.setFromIndex(v.from.index);
    b.setMaxEntries(v.max_entries);
  });
}
Result<FragmentListReq> decode_FragmentListReq(Words body, const FrameLimits& limits) {
  return decode_body<s::FragmentListRequest>(body, limits, [](s::FragmentListRequest::Reader r) {
    return FragmentListReq{r.getDisk(), FragmentCursor{r.getFromContainerId(), r.getFromIndex()},
                           r.getMaxEntries()};
  });
}

Body encode(const FragmentListRep& v) {
  ASSERT(v.fragments.size() <= kFragmentListMax);
  return build<s::FragmentListReply>([&](s::FragmentListReply::Builder b) {
    auto list = b.initFragments(static_cast<unsigned>(v.fragments.size()));
    for (unsigned i = 0; i < v.fragments.size(); ++i) {
      set_fragment_id(list[i].initId(), v.fragments[i].id);
      list[i].setPayloadLength(v.fragments[i].payload_length);
    }
    b.setEnd(v.end);
    b.setNextContainerId(v.next.container_id);
    b.setNextIndex(v.next.index);
  });
}
Result<FragmentListRep> decode_FragmentListRep(Words body, const FrameLimits& limits) {
  return decode_body<s::FragmentListReply>(
      body, limits, [](s::FragmentListReply::Reader r) -> Result<FragmentListRep> {
        const auto list = r.getFragments();
        if (list.size() > kFragmentListMax) return invalid("too many fragments in one list reply");
        FragmentListRep v;
        v.fragments.reserve(list.size());
        for (auto f : list) {
          const ListedFragmentValue listed{to_fragment_id(f.getId()), f.getPayloadLength()};
          if (listed.payload_length > kFragmentPayloadMaxBytes) {
            return invalid("listed fragment payload too large");
          }
          const FragmentCursor at{listed.id.container_id, listed.id.index};
          if (!v.fragments.empty()) {
            const ListedFragmentValue& last = v.fragments.back();
            if (at <= FragmentCursor{last.id.container_id, last.id.index}) {
              return invalid("fragment list reply not in increasing order");
            }
          }
          v.fragments.push_back(listed);
        }
        v.end = r.getEnd();
        v.next = FragmentCursor{r.getNextContainerId(), r.getNextIndex()};
        if (!v.end) {
          if (v.fragments.empty()) return invalid("fragment list reply: no progress");
          const FragmentIdValue& last = v.fragments.back().id;
          if (v.next <= FragmentCursor{last.container_id, last.index}) {
            return invalid("fragment list reply: next cursor not after the last fragment");
          }
        }
        return v;
      });
}

// --- index -----------------------------------------------------------------------------------

Body encode(const IndexLookupReq& v) {
  return build<s::IndexLookupRequest>([&](s::IndexLookupRequest::Builder b) {
    set_fingerprints(b.initFingerprints(static_cast<unsigned>(v.fingerprints.size())),
                     v.fingerprints);
  });
}
Result<IndexLookupReq> decode_IndexLookupReq(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexLookupRequest>(
      body, limits, [](s::IndexLookupRequest::Reader r) -> Result<IndexLookupReq> {
        IndexLookupReq v;
        ASSIGN_OR_RETURN(v.fingerprints, to_fingerprints(r.getFingerprints()));
        return v;
      });
}

Body encode(const IndexLookupRep& v) {
  return build<s::IndexLookupReply>([&](s::IndexLookupReply::Builder b) {
    set_bools(b.initFound(static_cast<unsigned>(v.found.size())), v.found);
    set_locations(b.initLocations(static_cast<unsigned>(v.locations.size())), v.locations);
  });
}
Result<IndexLookupRep> decode_IndexLookupRep(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexLookupReply>(
      body, limits, [](s::IndexLookupReply::Reader r) -> Result<IndexLookupRep> {
        IndexLookupRep v{to_bools(r.getFound()), to_locations(r.getLocations())};
        if (v.found.size() != v.locations.size()) return invalid("lookup reply lists differ");
        return v;
      });
}

Body encode(const IndexListReq& v) {
  return build<s::IndexListRequest>([&](s::IndexListRequest::Builder b) {
    b.setFrom(as_data(v.from));
    b.setMaxEntries(v.max_entries);
  });
}
Result<IndexListReq> decode_IndexListReq(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexListRequest>(
      body, limits, [](s::IndexListRequest::Reader r) -> Result<IndexListReq> {
        IndexListReq v;
        ASSIGN_OR_RETURN(v.from, to_fingerprint(r.getFrom()));
        v.max_entries = r.getMaxEntries();
        return v;
      });
}

Body encode(const IndexListRep& v) {
  ASSERT(v.fingerprints.size() <= kIndexListMax);
  return build<s::IndexListReply>([&](s::IndexListReply::Builder b) {
    set_fingerprints(b.initFingerprints(static_cast<unsigned>(v.fingerprints.size())),
                     v.fingerprints);
    b.setEnd(v.end);
    b.setNext(as_data(v.next));
    b.setRebuilding(v.rebuilding);
  });
}
Result<IndexListRep> decode_IndexListRep(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexListReply>(
      body, limits, [](s::IndexListReply::Reader r) -> Result<IndexListRep> {
        IndexListRep v;
        if (r.getFingerprints().size() > kIndexListMax) {
          return invalid("too many fingerprints in one list reply");
        }
        ASSIGN_OR_RETURN(v.fingerprints, to_fingerprints(r.getFingerprints()));
        for (size_t i = 1; i < v.fingerprints.size(); ++i) {
          if (!(v.fingerprints[i - 1] < v.fingerprints[i])) {
            return invalid("index list reply not in increasing order");
          }
        }
        v.end = r.getEnd();
        ASSIGN_OR_RETURN(v.next, to_fingerprint(r.getNext()));
        v.rebuilding = r.getRebuilding();
        if (!v.end) {
          if (v.fingerprints.empty()) return invalid("index list reply: no progress");
          if (!(v.fingerprints.back() < v.next)) {
            return invalid("index list reply: next not after the last fingerprint");
          }
        }
        return v;
      });
}

Body encode(const IndexInsertReq& v) {
  ASSERT(v.fingerprints.size() == v.locations.size());
  return build<s::IndexInsertRequest>([&](s::IndexInsertRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    set_fingerprints(b.initFingerprints(static_cast<unsigned>(v.fingerprints.size())),
                     v.fingerprints);
    set_locations(b.initLocations(static_cast<unsigned>(v.locations.size())), v.locations);
  });
}
Result<IndexInsertReq> decode_IndexInsertReq(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexInsertRequest>(
      body, limits, [](s::IndexInsertRequest::Reader r) -> Result<IndexInsertReq> {
        IndexInsertReq v;
        v.host_id = r.getHostId();
        v.epoch = r.getEpoch();
        ASSIGN_OR_RETURN(v.fingerprints, to_fingerprints(r.getFingerprints()));
        v.locations = to_locations(r.getLocations());
        if (v.fingerprints.size() != v.locations.size()) {
          return invalid("insert request: fingerprints and locations differ in count");
        }
        return v;
      });
}

Body encode(const IndexInsertRep& v) {
  return build<s::IndexInsertReply>([&](s::IndexInsertReply::Builder b) {
    set_bools(b.initInserted(static_cast<unsigned>(v.inserted.size())), v.inserted);
    set_locations(b.initExisting(static_cast<unsigned>(v.existing.size())), v.existing);
  });
}
Result<IndexInsertRep> decode_IndexInsertRep(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexInsertReply>(
      body, limits, [](s::IndexInsertReply::Reader r) -> Result<IndexInsertRep> {
        IndexInsertRep v{to_bools(r.getInserted()), to_locations(r.getExisting())};
        if (v.inserted.size() != v.existing.size()) return invalid("insert reply lists differ");
        return v;
      });
}

Body encode(const IndexRemoveReq& v) {
  return build<s::IndexRemoveRequest>([&](s::IndexRemoveRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    set_fingerprints(b.initFingerprints(static_cast<unsigned>(v.fingerprints.size())),
                     v.fingerprints);
  });
}
Result<IndexRemoveReq> decode_IndexRemoveReq(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexRemoveRequest>(
      body, limits, [](s::IndexRemoveRequest::Reader r) -> Result<IndexRemoveReq> {
        IndexRemoveReq v;
        v.host_id = r.getHostId();
        v.epoch = r.getEpoch();
        ASSIGN_OR_RETURN(v.fingerprints, to_fingerprints(r.getFingerprints()));
        return v;
      });
}

Body encode(const IndexRebuildReq& v) {
  ASSERT(v.fingerprints.size() == v.locations.size());
  return build<s::IndexRebuildRequest>([&](s::IndexRebuildRequest::Builder b) {
    b.setHostId(v.host_id);
    b.setEpoch(v.epoch);
    b.setPhase(from_rebuild_phase(v.phase));
    b.setRebuildId(v.rebuild_id);
    set_fingerprints(b.initFingerprints(static_cast<unsigned>(v.fingerprints.size())),
                     v.fingerprints);
    set_locations(b.initLocations(static_cast<unsigned>(v.locations.size())), v.locations);
  });
}
Result<IndexRebuildReq> decode_IndexRebuildReq(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexRebuildRequest>(
      body, limits, [](s::IndexRebuildRequest::Reader r) -> Result<IndexRebuildReq> {
        IndexRebuildReq v;
        v.host_id = r.getHostId();
        v.epoch = r.getEpoch();
        ASSIGN_OR_RETURN(v.phase, to_rebuild_phase(r.getPhase()));
        v.rebuild_id = r.getRebuildId();
        const auto fps = r.getFingerprints();
        const auto locations = r.getLocations();
        if (fps.size() != locations.size()) {
          return invalid("index rebuild request: fingerprints and locations differ in count");
        }
        // Well-formed but unacceptable: kInvalidArgument, and the connection stays up.
        if (v.phase != IndexRebuildPhase::kEntries && fps.size() > 0) {
          return make_error(Code::kInvalidArgument,
                            "index rebuild: only the entries phase carries entries");
        }
        if (fps.size() > kIndexBatchMax) {
          return make_error(Code::kInvalidArgument,
                            "index rebuild: a batch of " + std::to_string(fps.size()) +
                                " entries is above the limit of " + std::to_string(kIndexBatchMax) +
                                " (kIndexBatchMax)");
        }
        ASSIGN_OR_RETURN(v.fingerprints, to_fingerprints(fps));
        v.locations = to_locations(locations);
        return v;
      });
}

Body encode(const IndexRebuildRep& v) {
  return build<s::IndexRebuildReply>([&](s::IndexRebuildReply::Builder b) {
    b.setRebuildId(v.rebuild_id);
    b.setInserted(v.inserted);
    b.setAlreadyPresent(v.already_present);
    b.setEntries(v.entries);
  });
}
Result<IndexRebuildRep> decode_IndexRebuildRep(Words body, const FrameLimits& limits) {
  return decode_body<s::IndexRebuildReply>(body, limits, [](s::IndexRebuildReply::Reader r) {
    return IndexRebuildRep{r.getRebuildId(), r.getInserted(), r.getAlreadyPresent(),
                           r.getEntries()};
  });
}

// --- registers -------------------------------------------------------------------------------

Body encode(const RegisterGetReq& v) {
  return build<s::RegisterGetRequest>([&](s::RegisterGetRequest::Builder b) { b.setName(v.name); });
}
Result<RegisterGetReq> decode_RegisterGetReq(Words body, const FrameLimits& limits) {
  return decode_body<s::RegisterGetRequest>(
      body, limits, [](s::RegisterGetRequest::Reader r) -> Result<RegisterGetReq> {
        RegisterGetReq v;
        ASSIGN_OR_RETURN(v.name, to_text(r.getName(), kRegisterNameBytesMaxWire, "register name"));
        return v;
      });
}

Body encode(const RegisterValueRep& v) {
  return build<s::RegisterValue>([&](s::RegisterValue::Builder b) { set_register_value(b, v); });
}
Result<RegisterValueRep> decode_RegisterValueRep(Words body, const FrameLimits& limits) {
  return decode_body<s::RegisterValue>(body, limits, to_register_value);
}

Body encode(const RegisterCasReq& v) {
  return build<s::RegisterCasRequest>([&](s::RegisterCasRequest::Builder b) {
    b.setName(v.name);
    b.setExpectedVersion(v.expected_version);
    b.setNewValue(as_data(v.new_value));
    b.setEpoch(v.epoch);
  });
}
Result<RegisterCasReq> decode_RegisterCasReq(Words body, const FrameLimits& limits) {
  return decode_body<s::RegisterCasRequest>(
      body, limits, [](s::RegisterCasRequest::Reader r) -> Result<RegisterCasReq> {
        RegisterCasReq v;
        ASSIGN_OR_RETURN(v.name, to_text(r.getName(), kRegisterNameBytesMaxWire, "register name"));
        v.expected_version = r.getExpectedVersion();
        ASSIGN_OR_RETURN(v.new_value,
                         to_bytes(r.getNewValue(), kRegisterValueBytesMaxWire, "register value"));
        v.epoch = r.getEpoch();
        return v;
      });
}

Body encode(const RegisterCasRep& v) {
  return build<s::RegisterCasReply>([&](s::RegisterCasReply::Builder b) {
    b.setSwapped(v.swapped);
    set_register_value(b.initCurrent(), v.current);
  });
}
Result<RegisterCasRep> decode_RegisterCasRep(Words body, const FrameLimits& limits) {
  return decode_body<s::RegisterCasReply>(
      body, limits, [](s::RegisterCasReply::Reader r) -> Result<RegisterCasRep> {
        RegisterCasRep v;
        v.swapped = r.getSwapped();
        ASSIGN_OR_RETURN(v.current, to_register_value(r.getCurrent()));
        return v;
      });
}

// --- status ----------------------------------------------------------------------------------

Body encode(const StatusRep& v) {
  return build<s::StatusReply>([&](s::StatusReply::Builder b) {
    b.setClusterId(v.cluster_id);
    b.setShelfId(v.shelf_id);
    auto disks = b.initDisks(static_cast<unsigned>(v.disks.size()));
    for (unsigned i = 0; i < v.disks.size(); ++i) {
      const DiskInfoValue& d = v.disks[i];
      disks[i].setIndex(d.index);
      disks[i].setState(from_disk_state(d.state));
      disks[i].setCapacityBytes(d.capacity_bytes);
      disks[i].setSlotsTotal(d.slots_total);
      disks[i].setSlotsUsed(d.slots_used);
      disks[i].setGeneration(d.generation);
      disks[i].setSlotPayloadMaxBytes(d.slot_payload_max_bytes);
    }
    auto nvram = b.initNvram(static_cast<unsigned>(v.nvram.size()));
    for (unsigned i = 0; i < v.nvram.size(); ++i) {
      const NvramUsageValue& n = v.nvram[i];
      nvram[i].setHostId(n.host_id);
      nvram[i].setUsedBytes(n.used_bytes);
      nvram[i].setCapacityBytes(n.capacity_bytes);
      nvram[i].setFirstSequence(n.first_sequence);
      nvram[i].setNextSequence(n.next_sequence);
    }
    auto hosts = b.initHosts(static_cast<unsigned>(v.hosts.size()));
    for (unsigned i = 0; i < v.hosts.size(); ++i) {
      const HostStatsValue& h = v.hosts[i];
      hosts[i].setHostId(h.host_id);
      hosts[i].setRequests(h.requests);
      hosts[i].setBytesIn(h.bytes_in);
      hosts[i].setBytesOut(h.bytes_out);
      auto buckets =
          hosts[i].initLatencyBucketsMicros(static_cast<unsigned>(h.latency_buckets_micros.size()));
      for (unsigned j = 0; j < h.latency_buckets_micros.size(); ++j) {
        buckets.set(j, h.latency_buckets_micros[j]);
      }
    }
    auto index = b.initIndex();
    index.setEntries(v.index.entries);
    index.setRebuilding(v.index.rebuilding);
    index.setRebuildId(v.index.rebuild_id);
  });
}
Result<StatusRep> decode_StatusRep(Words body, const FrameLimits& limits) {
  return decode_body<s::StatusReply>(
      body, limits, [](s::StatusReply::Reader r) -> Result<StatusRep> {
        StatusRep v;
        v.cluster_id = r.getClusterId();
        v.shelf_id = r.getShelfId();
        for (auto d : r.getDisks()) {
          ASSIGN_OR_RETURN(const DiskStateValue state, to_disk_state(d.getState()));
          v.disks.push_back(DiskInfoValue{d.getIndex(), state, d.getCapacityBytes(),
                                          d.getSlotsTotal(), d.getSlotsUsed(), d.getGeneration(),
                                          d.getSlotPayloadMaxBytes()});
        }
        for (auto n : r.getNvram()) {
          v.nvram.push_back(NvramUsageValue{n.getHostId(), n.getUsedBytes(), n.getCapacityBytes(),
                                            n.getFirstSequence(), n.getNextSequence()});
        }
        for (auto h : r.getHosts()) {
          HostStatsValue hv{h.getHostId(), h.getRequests(), h.getBytesIn(), h.getBytesOut(), {}};
          for (uint64_t n : h.getLatencyBucketsMicros()) hv.latency_buckets_micros.push_back(n);
          v.hosts.push_back(std::move(hv));
        }
        const auto index = r.getIndex();
        v.index = IndexStatusValue{index.getEntries(), index.getRebuilding(), index.getRebuildId()};
        return v;
      });
}

}  // namespace splitarray::protocol
