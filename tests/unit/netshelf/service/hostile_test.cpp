// Wrong and hostile requests: each gets an error (never a crash, never stored garbage), and the
// shelf keeps serving the other clients. Requests the typed client cannot produce are built by
// hand with the message encoders or, for bodies that violate the schema's contract, with
// protocol::encode_body on the schema itself.
#include <doctest/doctest.h>

#include "common/crc32c.h"
#include "protocol/codec.h"
#include "shelf.capnp.h"
#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;
using protocol::MessageType;

// Raw requests through the client's RpcClient, for bodies ShelfClient would never send.
Task<Result<protocol::Frame>> raw_call(ShelfClient& client, MessageType type, protocol::Body body,
                                       std::vector<uint8_t> payload) {
  co_return co_await client.rpc().call(type, std::move(body), std::move(payload));
}

Task<Result<protocol::Frame>> raw_fragment_write(ShelfClient& client,
                                                 const protocol::FragmentWriteReq& req,
                                                 std::vector<uint8_t> fragment) {
  co_return co_await raw_call(client, MessageType::kFragmentWrite, protocol::encode(req),
                              std::move(fragment));
}

// An IndexInsertRequest body with `fps` fingerprints of `fp_bytes` bytes and `locations`
// locations: both counts and the fingerprint size are the caller's to get wrong.
protocol::Body insert_body(unsigned fps, size_t fp_bytes, unsigned locations) {
  return protocol::encode_body<protocol::schema::IndexInsertRequest>(
      [&](protocol::schema::IndexInsertRequest::Builder b) {
        b.setHostId(1);
        b.setEpoch(1);
        auto list = b.initFingerprints(fps);
        for (unsigned i = 0; i < fps; ++i) {
          std::vector<uint8_t> fp(fp_bytes, static_cast<uint8_t>(i + 1));
          list.set(i, capnp::Data::Reader(fp.data(), fp.size()));
        }
        auto locs = b.initLocations(locations);
        for (unsigned i = 0; i < locations; ++i) {
          locs[i].setContainerId(900 + i);
          locs[i].setLength(4096);
        }
      });
}

protocol::Body lookup_body(size_t fp_bytes) {
  return protocol::encode_body<protocol::schema::IndexLookupRequest>(
      [&](protocol::schema::IndexLookupRequest::Builder b) {
        std::vector<uint8_t> fp(fp_bytes, 0x42);
        b.initFingerprints(1).set(0, capnp::Data::Reader(fp.data(), fp.size()));
      });
}

TEST_CASE("netshelf/service: an unknown disk is kNotFound for reads, writes and admin") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const auto id = fragment_id(1, 0);
    const std::vector<uint8_t> fragment = make_fragment(id, pattern_bytes(100, 1));
    auto write = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(9), id, fragment);
    CHECK_MESSAGE(failed_with(write, Code::kNotFound), why(write));
    auto read = co_await client->fragment_read(DiskIndex(kTestDisks), id, 0, 0);
    CHECK_MESSAGE(failed_with(read, Code::kNotFound), why(read));
    auto del = co_await client->fragment_delete(HostId(1), Epoch(1), DiskIndex(65535), id);
    CHECK_MESSAGE(failed_with(del, Code::kNotFound), why(del));
    auto fail =
        co_await client->disk_admin(Epoch(1), DiskIndex(9), protocol::DiskActionValue::kFail);
    CHECK_MESSAGE(failed_with(fail, Code::kNotFound), why(fail));
    auto replace =
        co_await client->disk_admin(Epoch(1), DiskIndex(9), protocol::DiskActionValue::kReplace);
    CHECK_MESSAGE(failed_with(replace, Code::kNotFound), why(replace));
    // The same connection still works, and the known disks are all healthy.
    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    REQUIRE(status->disks.size() == kTestDisks);
    for (const auto& disk : status->disks) {
      CHECK(disk.state == protocol::DiskStateValue::kHealthy);
      CHECK(disk.slots_used == 0);
    }
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: a message type the shelf does not serve is kInvalidArgument") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    auto echo = co_await raw_call(*client, MessageType::kEcho, protocol::encode_empty(), {});
    CHECK_MESSAGE(failed_with(echo, Code::kInvalidArgument), why(echo));
    // Not a protocol error: the connection stays open and keeps serving.
    auto status = co_await client->status();
    CHECK_MESSAGE(status.ok(), why(status));
    CHECK(s.server.stats().protocol_errors == 0);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: NVRAM record lengths that do not carve the payload are rejected") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    struct Case {
      const char* name;
      std::vector<uint32_t> lengths;
      size_t payload_bytes;
    };
    const std::vector<Case> cases = {
        {"lengths exceed the payload", {10, 10}, 15}, {"payload beyond the records", {10, 10}, 25},
        {"one huge length", {0xFFFFFFFFu}, 64},       {"lengths wrap around", {0xFFFFFFFFu, 2}, 1},
        {"no lengths, some payload", {}, 8},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      const protocol::NvramAppendReq req{1, 1, c.lengths};
      auto reply = co_await raw_call(*client, MessageType::kNvramAppend, protocol::encode(req),
                                     pattern_bytes(c.payload_bytes, 1));
      CHECK_MESSAGE(failed_with(reply, Code::kInvalidArgument), why(reply));
    }
    // A batch bigger than one append may carry (a quarter of the host's ring) is refused whole.
    const std::vector<std::vector<uint8_t>> huge = {pattern_bytes(100 * 1024, 2)};
    auto oversize = co_await client->nvram_append(HostId(1), Epoch(1), huge);
    CHECK_MESSAGE(failed_with(oversize, Code::kInvalidArgument), why(oversize));
    // Nothing was appended; a well-formed append then starts at sequence 1.
    auto read = co_await client->nvram_read(HostId(1), 1, 0);
    REQUIRE_MESSAGE(read.ok(), why(read));
    CHECK(read->records.empty());
    const std::vector<std::vector<uint8_t>> good = {pattern_bytes(10, 3), pattern_bytes(10, 4)};
    auto appended = co_await client->nvram_append(HostId(1), Epoch(1), good);
    REQUIRE_MESSAGE(appended.ok(), why(appended));
    CHECK(appended->first_sequence == 1);
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: bad fragments are refused and nothing is stored") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    const auto id = fragment_id(42, 3);
    const std::vector<uint8_t> fragment = make_fragment(id, pattern_bytes(5000, 1));
    const protocol::FragmentWriteReq base{1, 1, 0, id, crc32c(fragment)};

    // The bytes do not match the CRC the host claims for them.
    protocol::FragmentWriteReq wrong_crc = base;
    wrong_crc.crc32c ^= 1;
    auto crc = co_await raw_fragment_write(*client, wrong_crc, fragment);
    CHECK_MESSAGE(failed_with(crc, Code::kCorruption), why(crc));

    // The host's claim matches, but the fragment's own CRC does not (rotted before sending).
    std::vector<uint8_t> rotted = fragment;
    rotted[protocol::kFragmentHeaderSize + 100] ^= 0x10;
    protocol::FragmentWriteReq rotted_req = base;
    rotted_req.crc32c = crc32c(rotted);
    auto rot = co_await raw_fragment_write(*client, rotted_req, rotted);
    CHECK_MESSAGE(failed_with(rot, Code::kCorruption), why(rot));

    // The header names another fragment than the request (a misdirected write).
    const auto other_id = fragment_id(42, 4);
    auto misdirected =
        co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), other_id, fragment);
    CHECK_MESSAGE(failed_with(misdirected, Code::kInvalidArgument), why(misdirected));
    const auto other_generation = fragment_id(42, 3, 2);
    auto wrong_generation = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0),
                                                            other_generation, fragment);
    CHECK_MESSAGE(failed_with(wrong_generation, Code::kInvalidArgument), why(wrong_generation));

    // Bigger than a slot.
    const std::vector<uint8_t> oversize =
        make_fragment(id, pattern_bytes(kTestSlotPayloadBytes + 1, 2));
    auto big = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id, oversize);
    CHECK_FALSE_MESSAGE(big.ok(), "a fragment over the slot size was accepted");

    // No header at all: shorter than one.
    const std::vector<uint8_t> headerless = pattern_bytes(30, 3);
    auto bare = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id, headerless);
    CHECK_MESSAGE(
        (failed_with(bare, Code::kInvalidArgument) || failed_with(bare, Code::kCorruption)),
        why(bare));
    // A header-sized run of garbage.
    const std::vector<uint8_t> garbage = pattern_bytes(protocol::kFragmentHeaderSize + 500, 4);
    auto junk = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id, garbage);
    CHECK_MESSAGE(failed_with(junk, Code::kCorruption), why(junk));

    // None of them left anything behind, and the good fragment is then stored normally.
    auto read = co_await client->fragment_read(DiskIndex(0), id, 0, 0);
    CHECK_MESSAGE(failed_with(read, Code::kNotFound), why(read));
    auto other = co_await client->fragment_read(DiskIndex(0), other_id, 0, 0);
    CHECK_MESSAGE(failed_with(other, Code::kNotFound), why(other));
    auto status = co_await client->status();
    REQUIRE_MESSAGE(status.ok(), why(status));
    CHECK(status->disks.at(0).slots_used == 0);
    auto good = co_await client->fragment_write(HostId(1), Epoch(1), DiskIndex(0), id, fragment);
    REQUIRE_MESSAGE(good.ok(), why(good));
    auto back = co_await client->fragment_read(DiskIndex(0), id, 0, 0);
    REQUIRE_MESSAGE(back.ok(), why(back));
    CHECK(*back == fragment);
    co_await client->close();
  });
}

TEST_CASE(
    "netshelf/service: a malformed index batch gets kProtocol and closes only its connection") {
  struct Case {
    const char* name;
    MessageType type;
    protocol::Body body;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"insert: more fps than locations", MessageType::kIndexInsert, insert_body(2, 32, 1)});
  cases.push_back(
      {"insert: fewer fps than locations", MessageType::kIndexInsert, insert_body(1, 32, 3)});
  cases.push_back(
      {"insert: 31-byte fingerprints", MessageType::kIndexInsert, insert_body(2, 31, 2)});
  cases.push_back(
      {"insert: 33-byte fingerprints", MessageType::kIndexInsert, insert_body(1, 33, 1)});
  cases.push_back({"lookup: 31-byte fingerprint", MessageType::kIndexLookup, lookup_body(31)});

  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto good = co_await f.connect(s.address);
    const Fingerprint fp = fingerprint(9);
    const ChunkLocation loc{77, 0, 4096};
    std::vector<Fingerprint> fps = {fp};
    std::vector<ChunkLocation> locs = {loc};
    for (Case& c : cases) {
      CAPTURE(c.name);
      auto bad = co_await f.connect(s.address);
      auto reply = co_await raw_call(*bad, c.type, std::move(c.body), {});
      CHECK_MESSAGE(failed_with(reply, Code::kProtocol), why(reply));
      // The shelf stops reading from the offender: its next request never succeeds.
      auto next = co_await bad->status();
      CHECK_FALSE(next.ok());
      co_await bad->close();
      // The other client is served as before.
      auto lookup = co_await good->index_lookup(fps);
      REQUIRE_MESSAGE(lookup.ok(), why(lookup));
      CHECK(lookup->found == std::vector<bool>{false});
    }
    CHECK(s.server.stats().protocol_errors == cases.size());
    // Nothing from the malformed batches reached the index; a good insert still works.
    auto inserted = co_await good->index_insert(HostId(1), Epoch(1), fps, locs);
    REQUIRE_MESSAGE(inserted.ok(), why(inserted));
    CHECK(inserted->inserted == std::vector<bool>{true});
    co_await good->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
