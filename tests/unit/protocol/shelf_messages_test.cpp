#include <doctest/doctest.h>

#include <cstring>

#include "common/prng.h"
#include "protocol/codec.h"
#include "protocol/fragment_header.h"
#include "protocol/shelf_messages.h"
#include "shelf.capnp.h"

namespace splitarray::protocol {
namespace {

Words words(const Body& body) { return Words(body.begin(), body.size()); }

Fingerprint fp_of(uint8_t seed) {
  Fingerprint fp;
  for (size_t i = 0; i < fp.size(); ++i) fp[i] = static_cast<uint8_t>(seed * 7 + i);
  return fp;
}

TEST_CASE("protocol/shelf_messages: every request and reply round-trips") {
  const FrameLimits limits;
  {
    NvramAppendReq v{3, 9, {10, 0, 4096}};
    auto body = encode(v);
    auto d = decode_NvramAppendReq(words(body), limits);
    REQUIRE(d.ok());
    CHECK(d->host_id == 3);
    CHECK(d->epoch == 9);
    CHECK(d->record_lengths == std::vector<uint32_t>{10, 0, 4096});
  }
  {
    auto body = encode(NvramReadRep{5, {1, 2}, 7});
    auto d = decode_NvramReadRep(words(body), limits);
    REQUIRE(d.ok());
    CHECK(d->first_sequence == 5);
    CHECK(d->record_lengths.size() == 2);
    CHECK(d->next_sequence == 7);
  }
  {
    auto body = encode(NvramTrimReq{1, 2, 3});
    auto d = decode_NvramTrimReq(words(body), limits);
    REQUIRE(d.ok());
    CHECK(d->through_sequence == 3);
  }
  {
    FragmentWriteReq v{1, 2, 7, FragmentIdValue{99, 9, 4}, 0xABCD};
    auto d = decode_FragmentWriteReq(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->disk == 7);
    CHECK(d->id == FragmentIdValue{99, 9, 4});
    CHECK(d->crc32c == 0xABCD);
  }
  {
    FragmentReadReq v{2, FragmentIdValue{5, 1, 1}, 4096, 8192};
    auto d = decode_FragmentReadReq(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->offset == 4096);
    CHECK(d->length == 8192);
  }
  {
    IndexInsertReq v{1, 1, {fp_of(1), fp_of(2)}, {{10, 0, 100}, {11, 4096, 200}}};
    auto d = decode_IndexInsertReq(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->fingerprints == v.fingerprints);
    CHECK(d->locations == v.locations);
  }
  {
    IndexLookupRep v{{true, false}, {{1, 2, 3}, {}}};
    auto d = decode_IndexLookupRep(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->found == v.found);
    CHECK(d->locations == v.locations);
  }
  {
    RegisterCasReq v{"datastore/root", 4, {1, 2, 3}, 8};
    auto d = decode_RegisterCasReq(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->name == "datastore/root");
    CHECK(d->new_value == std::vector<uint8_t>{1, 2, 3});
    CHECK(d->epoch == 8);
  }
  {
    RegisterCasRep v{false, RegisterValueRep{true, {9}, 5, 2}};
    auto d = decode_RegisterCasRep(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK_FALSE(d->swapped);
    CHECK(d->current.version == 5);
    CHECK(d->current.value == std::vector<uint8_t>{9});
  }
  {
    IndexRebuildReq v{2,
                      6,
                      IndexRebuildPhase::kEntries,
                      41,
                      {fp_of(3), fp_of(4)},
                      {{20, 0, 4096}, {20, 4096, 100}}};
    auto d = decode_IndexRebuildReq(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->host_id == 2);
    CHECK(d->epoch == 6);
    CHECK(d->phase == IndexRebuildPhase::kEntries);
    CHECK(d->rebuild_id == 41);
    CHECK(d->fingerprints == v.fingerprints);
    CHECK(d->locations == v.locations);
    for (IndexRebuildPhase phase : {IndexRebuildPhase::kBegin, IndexRebuildPhase::kFinish}) {
      auto p =
          decode_IndexRebuildReq(words(encode(IndexRebuildReq{1, 1, phase, 7, {}, {}})), limits);
      REQUIRE(p.ok());
      CHECK(p->phase == phase);
      CHECK(p->fingerprints.empty());
    }
  }
  {
    auto d = decode_IndexRebuildRep(words(encode(IndexRebuildRep{41, 10, 3, 99})), limits);
    REQUIRE(d.ok());
    CHECK(d->rebuild_id == 41);
    CHECK(d->inserted == 10);
    CHECK(d->already_present == 3);
    CHECK(d->entries == 99);
  }
  {
    StatusRep v;
    v.cluster_id = 1;
    v.shelf_id = 2;
    v.disks.push_back(DiskInfoValue{3, DiskStateValue::kRebuilding, 1 << 30, 100, 5, 2, 65536});
    v.nvram.push_back(NvramUsageValue{4, 10, 100, 1, 3});
    v.hosts.push_back(HostStatsValue{4, 7, 8, 9, {0, 1, 2}});
    v.index = IndexStatusValue{12345, true, 17};
    auto d = decode_StatusRep(words(encode(v)), limits);
    REQUIRE(d.ok());
    CHECK(d->index.entries == 12345);
    CHECK(d->index.rebuilding);
    CHECK(d->index.rebuild_id == 17);
    REQUIRE(d->disks.size() == 1);
    CHECK(d->disks[0].state == DiskStateValue::kRebuilding);
    CHECK(d->disks[0].slots_total == 100);
    CHECK(d->disks[0].slot_payload_max_bytes == 65536);
    CHECK(d->nvram[0].next_sequence == 3);
    CHECK(d->hosts[0].latency_buckets_micros == std::vector<uint64_t>{0, 1, 2});
  }
}

TEST_CASE("protocol/shelf_messages: decoders enforce limits and shapes as kProtocol") {
  const FrameLimits limits;
  // A fingerprint of the wrong size.
  auto short_fp =
      encode_body<schema::IndexLookupRequest>([](schema::IndexLookupRequest::Builder b) {
        auto list = b.initFingerprints(1);
        uint8_t bytes[31] = {};
        list.set(0, capnp::Data::Reader(bytes, sizeof bytes));
      });
  CHECK(decode_IndexLookupReq(words(short_fp), limits).code() == Code::kProtocol);
  // Fingerprints and locations of different counts.
  auto mismatch =
      encode_body<schema::IndexInsertRequest>([](schema::IndexInsertRequest::Builder b) {
        b.initFingerprints(2);
        b.initLocations(1);
      });
  CHECK(decode_IndexInsertReq(words(mismatch), limits).code() == Code::kProtocol);
  // Too many fingerprints in one batch.
  IndexLookupReq big;
  big.fingerprints.resize(kIndexBatchMax + 1);
  FrameLimits roomy;
  roomy.body_max_bytes = 4 * kBodyMaxBytes;
  CHECK(decode_IndexLookupReq(words(encode(big)), roomy).code() == Code::kProtocol);
  // A register name over the limit.
  RegisterGetReq long_name{std::string(kRegisterNameBytesMaxWire + 1, 'x')};
  CHECK(decode_RegisterGetReq(words(encode(long_name)), limits).code() == Code::kProtocol);
  // The wrong struct entirely still decodes safely (capnp structs are extensible), but a body
  // that is not capnp at all is kProtocol.
  Body garbage = kj::heapArray<capnp::word>(3);
  std::memset(static_cast<void*>(garbage.begin()), 0xFF, 24);
  CHECK(decode_NvramAppendReq(words(garbage), limits).code() == Code::kProtocol);
  CHECK(decode_StatusRep(words(encode_empty()), limits).ok());
}

TEST_CASE("protocol/shelf_messages: index rebuild requests are checked for shape and size") {
  const FrameLimits limits;
  // Well-formed but unacceptable: kInvalidArgument (the connection stays up).
  IndexRebuildReq oversize{1, 1, IndexRebuildPhase::kEntries, 5, {}, {}};
  oversize.fingerprints.resize(kIndexBatchMax + 1);
  oversize.locations.resize(kIndexBatchMax + 1);
  auto big = decode_IndexRebuildReq(words(encode(oversize)), limits);
  CHECK(big.code() == Code::kInvalidArgument);
  oversize.fingerprints.resize(kIndexBatchMax);
  oversize.locations.resize(kIndexBatchMax);
  CHECK(decode_IndexRebuildReq(words(encode(oversize)), limits).ok());
  for (IndexRebuildPhase phase : {IndexRebuildPhase::kBegin, IndexRebuildPhase::kFinish}) {
    const IndexRebuildReq loaded{1, 1, phase, 5, {fp_of(1)}, {{1, 0, 1}}};
    CHECK(decode_IndexRebuildReq(words(encode(loaded)), limits).code() == Code::kInvalidArgument);
  }
  // Malformed: kProtocol.
  auto mismatch =
      encode_body<schema::IndexRebuildRequest>([](schema::IndexRebuildRequest::Builder b) {
        b.setPhase(schema::IndexRebuildPhase::ENTRIES);
        b.initFingerprints(1);
        b.initLocations(2);
      });
  CHECK(decode_IndexRebuildReq(words(mismatch), limits).code() == Code::kProtocol);
  auto unknown_phase =
      encode_body<schema::IndexRebuildRequest>([](schema::IndexRebuildRequest::Builder b) {
        b.setPhase(static_cast<schema::IndexRebuildPhase>(7));
      });
  CHECK(decode_IndexRebuildReq(words(unknown_phase), limits).code() == Code::kProtocol);
  auto short_fp =
      encode_body<schema::IndexRebuildRequest>([](schema::IndexRebuildRequest::Builder b) {
        b.setPhase(schema::IndexRebuildPhase::ENTRIES);
        uint8_t bytes[31] = {};
        b.initFingerprints(1).set(0, capnp::Data::Reader(bytes, sizeof bytes));
        b.initLocations(1);
      });
  CHECK(decode_IndexRebuildReq(words(short_fp), limits).code() == Code::kProtocol);
}

ListedFragmentValue listed(uint64_t container, uint8_t index, uint32_t payload_length) {
  return ListedFragmentValue{FragmentIdValue{container, index, 1}, payload_length};
}

TEST_CASE("protocol/shelf_messages: a fragment list request and reply round-trip") {
  const FrameLimits limits;
  const FragmentListReq req{7, FragmentCursor{99, 3}, 500};
  auto decoded_req = decode_FragmentListReq(words(encode(req)), limits);
  REQUIRE(decoded_req.ok());
  CHECK(decoded_req->disk == 7);
  CHECK(decoded_req->from == FragmentCursor{99, 3});
  CHECK(decoded_req->max_entries == 500);

  FragmentListRep page;
  page.fragments = {listed(5, 0, 65536), listed(5, 9, 65536), listed(6, 2, 100)};
  page.end = false;
  page.next = FragmentCursor{6, 3};
  auto decoded = decode_FragmentListRep(words(encode(page)), limits);
  REQUIRE(decoded.ok());
  CHECK(decoded->fragments == page.fragments);
  CHECK_FALSE(decoded->end);
  CHECK(decoded->next == FragmentCursor{6, 3});

  // The last page, and an empty disk.
  FragmentListRep last;
  last.fragments = {listed(uint64_t{1} << 39, 255, 0)};
  auto decoded_last = decode_FragmentListRep(words(encode(last)), limits);
  REQUIRE(decoded_last.ok());
  CHECK(decoded_last->end);
  CHECK(decoded_last->fragments == last.fragments);
  auto empty = decode_FragmentListRep(words(encode(FragmentListRep{})), limits);
  REQUIRE(empty.ok());
  CHECK(empty->end);
  CHECK(empty->fragments.empty());
}

TEST_CASE(
    "protocol/shelf_messages: fragment list replies that could stall a listing are kProtocol") {
  const FrameLimits limits;
  auto decode = [&](const FragmentListRep& rep) {
    return decode_FragmentListRep(words(encode(rep)), limits);
  };
  FragmentListRep backwards;
  backwards.fragments = {listed(5, 2, 10), listed(5, 1, 10)};
  CHECK(decode(backwards).code() == Code::kProtocol);
  FragmentListRep twice;
  twice.fragments = {listed(5, 2, 10), listed(5, 2, 10)};
  CHECK(decode(twice).code() == Code::kProtocol);
  FragmentListRep next_behind;
  next_behind.fragments = {listed(5, 2, 10)};
  next_behind.end = false;
  next_behind.next = FragmentCursor{5, 2};
  CHECK(decode(next_behind).code() == Code::kProtocol);
  FragmentListRep no_progress;
  no_progress.end = false;
  no_progress.next = FragmentCursor{9, 0};
  CHECK(decode(no_progress).code() == Code::kProtocol);
  FragmentListRep huge_fragment;
  huge_fragment.fragments = {listed(5, 0, kFragmentPayloadMaxBytes + 1)};
  CHECK(decode(huge_fragment).code() == Code::kProtocol);
  huge_fragment.fragments = {listed(5, 0, kFragmentPayloadMaxBytes)};
  CHECK(decode(huge_fragment).ok());
  // More than one reply may hold (the encoder refuses to build it, so build the body by hand).
  auto too_many = encode_body<schema::FragmentListReply>([](schema::FragmentListReply::Builder b) {
    auto list = b.initFragments(static_cast<unsigned>(kFragmentListMax + 1));
    for (unsigned i = 0; i < list.size(); ++i) list[i].initId().setContainerId(i + 1);
    b.setEnd(true);
  });
  CHECK(decode_FragmentListRep(words(too_many), limits).code() == Code::kProtocol);
}

Fingerprint fp_filled(uint8_t value) {
  Fingerprint fp{};
  fp.fill(value);
  return fp;
}

TEST_CASE("protocol/shelf_messages: an index list request and reply round-trip") {
  const FrameLimits limits;
  const IndexListReq req{fp_filled(0x42), 1000};
  auto decoded_req = decode_IndexListReq(words(encode(req)), limits);
  REQUIRE(decoded_req.ok());
  CHECK(decoded_req->from == fp_filled(0x42));
  CHECK(decoded_req->max_entries == 1000);

  IndexListRep page;
  page.fingerprints = {fp_filled(1), fp_filled(2), fp_filled(9)};
  page.end = false;
  page.next = fp_filled(10);
  page.rebuilding = true;
  auto decoded = decode_IndexListRep(words(encode(page)), limits);
  REQUIRE(decoded.ok());
  CHECK(decoded->fingerprints == page.fingerprints);
  CHECK_FALSE(decoded->end);
  CHECK(decoded->next == fp_filled(10));
  CHECK(decoded->rebuilding);
  auto empty = decode_IndexListRep(words(encode(IndexListRep{})), limits);
  REQUIRE(empty.ok());
  CHECK(empty->end);
  CHECK(empty->fingerprints.empty());
  CHECK_FALSE(empty->rebuilding);
}

TEST_CASE("protocol/shelf_messages: index list replies that could stall a listing are kProtocol") {
  const FrameLimits limits;
  auto decode = [&](const IndexListRep& rep) {
    return decode_IndexListRep(words(encode(rep)), limits);
  };
  IndexListRep backwards;
  backwards.fingerprints = {fp_filled(5), fp_filled(4)};
  CHECK(decode(backwards).code() == Code::kProtocol);
  IndexListRep twice;
  twice.fingerprints = {fp_filled(5), fp_filled(5)};
  CHECK(decode(twice).code() == Code::kProtocol);
  IndexListRep next_behind;
  next_behind.fingerprints = {fp_filled(5)};
  next_behind.end = false;
  next_behind.next = fp_filled(5);
  CHECK(decode(next_behind).code() == Code::kProtocol);
  IndexListRep no_progress;
  no_progress.end = false;
  no_progress.next = fp_filled(9);
  CHECK(decode(no_progress).code() == Code::kProtocol);
  // A short fingerprint, and more than one reply may hold (built by hand: the encoder refuses).
  auto short_fp = encode_body<schema::IndexListReply>([](schema::IndexListReply::Builder b) {
    auto list = b.initFingerprints(1);
    const std::array<uint8_t, 31> bytes{};
    list.set(0, capnp::Data::Reader(bytes.data(), bytes.size()));
    const Fingerprint next{};
    b.setNext(capnp::Data::Reader(next.data(), next.size()));
    b.setEnd(true);
  });
  CHECK(decode_IndexListRep(words(short_fp), limits).code() == Code::kProtocol);
  auto too_many = encode_body<schema::IndexListReply>([](schema::IndexListReply::Builder b) {
    auto list = b.initFingerprints(static_cast<unsigned>(kIndexListMax + 1));
    for (unsigned i = 0; i < list.size(); ++i) {
      Fingerprint fp{};
      fp[0] = static_cast<uint8_t>(i >> 8);
      fp[1] = static_cast<uint8_t>(i);
      list.set(i, capnp::Data::Reader(fp.data(), fp.size()));
    }
    const Fingerprint next{};
    b.setNext(capnp::Data::Reader(next.data(), next.size()));
    b.setEnd(true);
  });
  CHECK(decode_IndexListRep(words(too_many), limits).code() == Code::kProtocol);
}

}  // namespace
}  // namespace splitarray::protocol
