// Rebuilding the fingerprint index from container footers through the admin request, as an
// operator drives it over the protocol: a lost or corrupt index comes back with every footer's
// locations; first writer wins across duplicate footers, retried batches and live inserts; a
// rebuild begun and not finished is reported by status after a restart; stale epochs, oversize
// batches and phases out of order are refused while the shelf keeps serving.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "protocol/codec.h"
#include "tests/support/faulty_storage.h"
#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::ChunkLocation;
using protocol::Fingerprint;
using protocol::IndexStatusValue;
using protocol::MessageType;

// The (fp, location) entries container footers list.
struct Footer {
  std::vector<Fingerprint> fps;
  std::vector<ChunkLocation> locations;
};

// Distinct for every i < 2^32 (fixture's fingerprint() has only 256).
Fingerprint numbered_fp(uint32_t i) {
  Fingerprint fp = fingerprint(static_cast<uint8_t>(i));
  fp[8] = static_cast<uint8_t>(i >> 24);
  fp[9] = static_cast<uint8_t>(i >> 16);
  fp[10] = static_cast<uint8_t>(i >> 8);
  fp[11] = static_cast<uint8_t>(i);
  return fp;
}

// Container ids from `container` on, 2048 chunks of 4 KiB (8 MiB) each.
Footer footer(uint64_t container, uint32_t first_fp, uint32_t count) {
  Footer out;
  for (uint32_t i = 0; i < count; ++i) {
    out.fps.push_back(numbered_fp(first_fp + i));
    out.locations.push_back(ChunkLocation{container + i / 2048, (i % 2048) * 4096, 4096});
  }
  return out;
}

Footer concat(const Footer& a, const Footer& b) {
  Footer out = a;
  out.fps.insert(out.fps.end(), b.fps.begin(), b.fps.end());
  out.locations.insert(out.locations.end(), b.locations.begin(), b.locations.end());
  return out;
}

Task<IndexStatusValue> index_status(ShelfClient& client) {
  auto status = co_await client.status();
  REQUIRE_MESSAGE(status.ok(), why(status));
  co_return status->index;
}

// Every fp of `expected` is found at its location (or, with found == false, none is found).
Task<void> check_lookup(ShelfClient& client, const Footer& expected, bool found = true) {
  auto reply = co_await client.index_lookup(expected.fps);
  REQUIRE_MESSAGE(reply.ok(), why(reply));
  REQUIRE(reply->found.size() == expected.fps.size());
  for (size_t i = 0; i < expected.fps.size(); ++i) {
    CAPTURE(i);
    CHECK(reply->found[i] == found);
    if (found && reply->found[i]) CHECK(reply->locations[i] == expected.locations[i]);
  }
}

Task<void> insert(ShelfClient& client, const Footer& entries, Epoch epoch = Epoch(1)) {
  auto inserted = co_await client.index_insert(HostId(1), epoch, entries.fps, entries.locations);
  REQUIRE_MESSAGE(inserted.ok(), why(inserted));
}

// The admin tool's whole run: begin, one entries request per footer, finish.
Task<void> rebuild(ShelfClient& admin, const std::vector<Footer>& footers) {
  auto begun = co_await admin.index_rebuild_begin(HostId(9), Epoch(1));
  REQUIRE_MESSAGE(begun.ok(), why(begun));
  for (const Footer& f : footers) {
    auto sent = co_await admin.index_rebuild_entries(HostId(9), Epoch(1), begun->rebuild_id, f.fps,
                                                     f.locations);
    REQUIRE_MESSAGE(sent.ok(), why(sent));
  }
  auto finished = co_await admin.index_rebuild_finish(HostId(9), Epoch(1), begun->rebuild_id);
  REQUIRE_MESSAGE(finished.ok(), why(finished));
}

Task<void> expect_open_fails(Env& env, ShelfConfig config, Code code) {
  auto opened = co_await Shelf::open(env, std::move(config));
  if (opened.ok()) {
    co_await opened.value()->close();
    FAIL("the shelf opened over a corrupt index");
  }
  CHECK_MESSAGE(opened.code() == code, opened.error().to_string());
  CHECK_MESSAGE(opened.error().message.find("rebuild") != std::string::npos,
                opened.error().to_string());
}

TEST_CASE("netshelf/service: index rebuild re-inserts container footers into a lost index") {
  Fixture f;
  const Footer c1 = footer(500, 0, 20), c2 = footer(501, 100, 30);
  const Footer both = concat(c1, c2);
  f.serve([&](Served& s) -> Task<void> {
    auto host = co_await f.connect(s.address);
    co_await insert(*host, c1);
    co_await insert(*host, c2);
    co_await check_lookup(*host, both);
    co_await host->close();
  });

  // The index directory is lost while the shelf is down.
  std::filesystem::rename(f.config.index_dir, f.dir.path + "/index.lost");

  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    // The shelf serves, says its index needs a rebuild, and finds nothing yet.
    IndexStatusValue index = co_await index_status(*admin);
    CHECK(index.rebuilding);
    CHECK(index.rebuild_id == 0);
    CHECK(index.entries == 0);
    co_await check_lookup(*admin, both, false);

    auto begun = co_await admin->index_rebuild_begin(HostId(9), Epoch(1));
    REQUIRE_MESSAGE(begun.ok(), why(begun));
    CHECK(begun->rebuild_id > 0);
    CHECK(begun->entries == 0);
    index = co_await index_status(*admin);
    CHECK(index.rebuilding);
    CHECK(index.rebuild_id == begun->rebuild_id);
    const uint64_t id = begun->rebuild_id;
    auto first =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, c1.fps, c1.locations);
    REQUIRE_MESSAGE(first.ok(), why(first));
    CHECK(first->rebuild_id == id);
    CHECK(first->inserted == 20);
    CHECK(first->already_present == 0);
    CHECK(first->entries == 20);
    auto second =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, c2.fps, c2.locations);
    REQUIRE_MESSAGE(second.ok(), why(second));
    CHECK(second->inserted == 30);
    CHECK(second->entries == 50);
    const IndexStatusValue before_finish = co_await index_status(*admin);
    CHECK(before_finish.rebuilding);  // not complete until the finish

    auto finished = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), id);
    REQUIRE_MESSAGE(finished.ok(), why(finished));
    CHECK(finished->entries == 50);
    index = co_await index_status(*admin);
    CHECK_FALSE(index.rebuilding);
    CHECK(index.rebuild_id == 0);
    CHECK(index.entries == 50);
    co_await check_lookup(*admin, both);
    co_await admin->close();
  });

  f.serve([&](Served& s) -> Task<void> {
    auto host = co_await f.connect(s.address);
    const IndexStatusValue restarted = co_await index_status(*host);
    CHECK_FALSE(restarted.rebuilding);
    co_await check_lookup(*host, both);
    co_await host->close();
  });
}

TEST_CASE("netshelf/service: a corrupt index stops the shelf, moved away it is rebuilt online") {
  Fixture f;
  const Footer c1 = footer(700, 0, 40);
  f.serve([&](Served& s) -> Task<void> {
    auto host = co_await f.connect(s.address);
    co_await insert(*host, c1);
    co_await host->close();
  });
  // Bit rot in the snapshot's partition table (after its 64-byte header).
  testing::flip_bit_on_disk(f.config.index_dir + "/index.snap", 64 + 1000, 2);
  testing::run_task(f.io, expect_open_fails(f.env(), f.config, Code::kCorruption));

  // The operator's fix: move the directory away and start the shelf; it comes up, serving,
  // with an empty index marked rebuilding.
  std::filesystem::rename(f.config.index_dir, f.dir.path + "/index.corrupt");
  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    const IndexStatusValue marked = co_await index_status(*admin);
    CHECK(marked.rebuilding);
    const std::vector<Footer> footers = {c1};
    co_await rebuild(*admin, footers);
    const IndexStatusValue rebuilt = co_await index_status(*admin);
    CHECK_FALSE(rebuilt.rebuilding);
    co_await check_lookup(*admin, c1);
    co_await admin->close();
  });
}

TEST_CASE("netshelf/service: index rebuild: first writer wins across footers, retries and hosts") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    auto host = co_await f.connect(s.address);
    auto begun = co_await admin->index_rebuild_begin(HostId(9), Epoch(1));
    REQUIRE_MESSAGE(begun.ok(), why(begun));
    const uint64_t id = begun->rebuild_id;
    // A host stores a new container while the rebuild runs: its insert is first for fp 0.
    const Footer live{{numbered_fp(0)}, {ChunkLocation{900, 0, 512}}};
    co_await insert(*host, live);
    // Container 800's footer lists fps 0..2; container 801 (a copy-forward) lists 1..3.
    const Footer c800 = footer(800, 0, 3);
    const Footer c801{{numbered_fp(1), numbered_fp(2), numbered_fp(3)},
                      {ChunkLocation{801, 0, 4096}, ChunkLocation{801, 4096, 4096},
                       ChunkLocation{801, 8192, 4096}}};
    auto a =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, c800.fps, c800.locations);
    REQUIRE_MESSAGE(a.ok(), why(a));
    CHECK(a->inserted == 2);
    CHECK(a->already_present == 1);
    auto b =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, c801.fps, c801.locations);
    REQUIRE_MESSAGE(b.ok(), why(b));
    CHECK(b->inserted == 1);
    CHECK(b->already_present == 2);
    // A retried batch changes nothing.
    auto retry =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, c800.fps, c800.locations);
    REQUIRE_MESSAGE(retry.ok(), why(retry));
    CHECK(retry->inserted == 0);
    CHECK(retry->already_present == 3);
    auto finished = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), id);
    REQUIRE_MESSAGE(finished.ok(), why(finished));
    CHECK(finished->entries == 4);

    const Footer expected{
        {numbered_fp(0), numbered_fp(1), numbered_fp(2), numbered_fp(3)},
        {live.locations[0], c800.locations[1], c800.locations[2], c801.locations[2]}};
    co_await check_lookup(*host, expected);
    co_await admin->close();
    co_await host->close();
  });
}

TEST_CASE("netshelf/service: an index rebuild begun and not finished is reported after restart") {
  Fixture f;
  const Footer c1 = footer(600, 0, 20);
  uint64_t first_id = 0;
  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    co_await insert(*admin, c1);
    auto begun = co_await admin->index_rebuild_begin(HostId(9), Epoch(1));
    REQUIRE_MESSAGE(begun.ok(), why(begun));
    first_id = begun->rebuild_id;
    // The admin tool dies after half of the footer.
    const Footer half{{c1.fps.begin(), c1.fps.begin() + 10},
                      {c1.locations.begin(), c1.locations.begin() + 10}};
    auto sent = co_await admin->index_rebuild_entries(HostId(9), Epoch(1), first_id, half.fps,
                                                      half.locations);
    REQUIRE_MESSAGE(sent.ok(), why(sent));
    co_await admin->close();
  });

  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    // Never a partial index that looks complete: status says rebuilding, and which one.
    IndexStatusValue index = co_await index_status(*admin);
    CHECK(index.rebuilding);
    CHECK(index.rebuild_id == first_id);
    CHECK(index.entries == 10);
    // The operator runs the rebuild again; the abandoned one can no longer finish.
    const std::vector<Footer> footers = {c1};
    co_await rebuild(*admin, footers);
    auto late = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), first_id);
    CHECK_MESSAGE(failed_with(late, Code::kInvalidArgument), why(late));  // nothing in progress
    index = co_await index_status(*admin);
    CHECK_FALSE(index.rebuilding);
    CHECK(index.entries == 20);
    co_await admin->close();
  });

  f.serve([&](Served& s) -> Task<void> {
    auto host = co_await f.connect(s.address);
    const IndexStatusValue restarted = co_await index_status(*host);
    CHECK_FALSE(restarted.rebuilding);
    co_await check_lookup(*host, c1);
    co_await host->close();
  });
}

TEST_CASE("netshelf/service: index rebuild requests with a stale epoch are kStale") {
  Fixture f;
  const Footer c1 = footer(610, 0, 20);
  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    // Host 1 writes with epoch 5: its fence.
    const std::vector<std::vector<uint8_t>> records = {pattern_bytes(64, 1)};
    auto owned = co_await admin->nvram_append(HostId(1), Epoch(5), records);
    REQUIRE_MESSAGE(owned.ok(), why(owned));
    co_await insert(*admin, c1, Epoch(5));

    auto stale_begin = co_await admin->index_rebuild_begin(HostId(1), Epoch(4));
    CHECK_MESSAGE(failed_with(stale_begin, Code::kStale), why(stale_begin));
    IndexStatusValue index = co_await index_status(*admin);
    CHECK_FALSE(index.rebuilding);  // nothing was dropped
    CHECK(index.entries == 20);
    co_await check_lookup(*admin, c1);

    auto begun = co_await admin->index_rebuild_begin(HostId(1), Epoch(5));
    REQUIRE_MESSAGE(begun.ok(), why(begun));
    const uint64_t id = begun->rebuild_id;
    auto stale_entries =
        co_await admin->index_rebuild_entries(HostId(1), Epoch(4), id, c1.fps, c1.locations);
    CHECK_MESSAGE(failed_with(stale_entries, Code::kStale), why(stale_entries));
    auto stale_finish = co_await admin->index_rebuild_finish(HostId(1), Epoch(4), id);
    CHECK_MESSAGE(failed_with(stale_finish, Code::kStale), why(stale_finish));
    index = co_await index_status(*admin);
    CHECK(index.rebuilding);
    CHECK(index.entries == 0);

    auto sent =
        co_await admin->index_rebuild_entries(HostId(1), Epoch(5), id, c1.fps, c1.locations);
    REQUIRE_MESSAGE(sent.ok(), why(sent));
    auto finished = co_await admin->index_rebuild_finish(HostId(1), Epoch(5), id);
    REQUIRE_MESSAGE(finished.ok(), why(finished));
    co_await check_lookup(*admin, c1);
    co_await admin->close();
  });
}

TEST_CASE("netshelf/service: index rebuild refuses oversize batches and phases out of order") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto admin = co_await f.connect(s.address);
    const Footer small = footer(620, 0, 5);
    // Entries and finish before any begin.
    auto early =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), 1, small.fps, small.locations);
    CHECK_MESSAGE(failed_with(early, Code::kInvalidArgument), why(early));
    auto early_finish = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), 1);
    CHECK_MESSAGE(failed_with(early_finish, Code::kInvalidArgument), why(early_finish));
    const IndexStatusValue untouched = co_await index_status(*admin);
    CHECK_FALSE(untouched.rebuilding);

    auto begun = co_await admin->index_rebuild_begin(HostId(9), Epoch(1));
    REQUIRE_MESSAGE(begun.ok(), why(begun));
    const uint64_t id = begun->rebuild_id;
    // One entry over the batch limit: refused whole, with a message naming the limit.
    const Footer oversize = footer(621, 1000, protocol::kIndexBatchMax + 1);
    auto big = co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, oversize.fps,
                                                     oversize.locations);
    CHECK_MESSAGE(failed_with(big, Code::kInvalidArgument), why(big));
    if (!big.ok()) CHECK(big.error().message.find("8192") != std::string::npos);
    const IndexStatusValue refused = co_await index_status(*admin);
    CHECK(refused.entries == 0);
    // A batch at the limit is fine.
    const Footer full = footer(622, 20000, protocol::kIndexBatchMax);
    auto at_limit =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, full.fps, full.locations);
    REQUIRE_MESSAGE(at_limit.ok(), why(at_limit));
    CHECK(at_limit->inserted == protocol::kIndexBatchMax);
    // An id that was never handed out.
    auto unknown = co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id + 1, small.fps,
                                                         small.locations);
    CHECK_MESSAGE(failed_with(unknown, Code::kInvalidArgument), why(unknown));
    // A begin that carries entries (the typed client cannot send one).
    protocol::IndexRebuildReq loaded;
    loaded.host_id = 9;
    loaded.epoch = 1;
    loaded.phase = protocol::IndexRebuildPhase::kBegin;
    loaded.fingerprints = small.fps;
    loaded.locations = small.locations;
    auto raw = co_await admin->rpc().call(MessageType::kIndexRebuild, protocol::encode(loaded), {});
    CHECK_MESSAGE(failed_with(raw, Code::kInvalidArgument), why(raw));
    const IndexStatusValue same = co_await index_status(*admin);
    CHECK(same.rebuild_id == id);  // that was no restart

    auto finished = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), id);
    REQUIRE_MESSAGE(finished.ok(), why(finished));
    auto twice = co_await admin->index_rebuild_finish(HostId(9), Epoch(1), id);
    CHECK_MESSAGE(failed_with(twice, Code::kInvalidArgument), why(twice));
    auto after =
        co_await admin->index_rebuild_entries(HostId(9), Epoch(1), id, small.fps, small.locations);
    CHECK_MESSAGE(failed_with(after, Code::kInvalidArgument), why(after));

    // None of it was a protocol error: the same connection still serves, the index is intact.
    CHECK(s.server.stats().protocol_errors == 0);
    IndexStatusValue index = co_await index_status(*admin);
    CHECK_FALSE(index.rebuilding);
    CHECK(index.entries == protocol::kIndexBatchMax);
    co_await check_lookup(*admin, full);
    co_await admin->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
