// StatusPublisher (hostdriver/status/status_publisher.h) against a REAL shelf served in-process
// (the block store tests' fixture): the record appears in hosts/<id>/status, each tick overwrites
// it with a newer version, stop() leaves "stopped"; a restarted host with a higher epoch takes the
// record over and fences the old incarnation; an unreachable shelf costs failed ticks, never a
// crash or a hang. Then arrayctl's collection reads it all back, including a host the shelf only
// knows by its NVRAM log.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "hostdriver/arrayctl/status_collect.h"
#include "hostdriver/status/status_publisher.h"
#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::status {
namespace {

using blockstore::bs_test::Fixture;
using blockstore::bs_test::Session;
using blockstore::bs_test::wait_until;
using blockstore::bs_test::why;
using std::chrono::milliseconds;

constexpr Duration kTestInterval = milliseconds(20);

// What the host would report: its figures grow with every snapshot taken.
struct FakeHost {
  uint64_t snapshots = 0;
  HostStatus operator()() {
    ++snapshots;
    HostStatus s;
    s.label = "esx-7";
    s.state = HostState::kServing;
    DatastoreStatus d;
    d.name = "default";
    d.export_url = "nfs://127.0.0.1/default?nfsport=20490&mountport=20048";
    d.log_id = 5;
    d.inodes = 3;
    d.logical_bytes = snapshots * 4096;
    d.unique_bytes = 4096;
    d.stored_bytes = 1024;
    s.datastores.push_back(d);
    s.counters["nfs.calls"] = snapshots;
    return s;
  }
};

StatusPublisherConfig test_config(const Address& shelf, HostId host, Epoch epoch) {
  StatusPublisherConfig config;
  config.shelf = shelf;
  config.host = host;
  config.epoch = epoch;
  config.interval = kTestInterval;
  return config;
}

struct Record {
  HostStatus status;
  uint64_t version = 0;
};

// The decoded record of `host` and the register's version (the test fails if there is none).
Task<Record> read_record(protocol::ShelfClient& shelf, HostId host) {
  auto got = co_await shelf.register_get(host_status_register(host));
  REQUIRE_MESSAGE(got.ok(), why(got));
  REQUIRE(got->exists);
  auto decoded = decode_host_status(got->value);
  REQUIRE_MESSAGE(decoded.ok(), why(decoded));
  Record record;
  record.status = std::move(decoded).value();
  record.version = got->version;
  co_return record;
}

Task<bool> wait_published(Env& env, const StatusPublisher& publisher, uint64_t count) {
  const std::function<bool()> done = [&publisher, count] {
    return publisher.stats().published >= count;
  };
  co_return co_await wait_until(env, done);
}

TEST_CASE("hostdriver/status: the publisher writes, refreshes and retires the host's record") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    FakeHost host;
    StatusPublisher publisher(s.env(), test_config(s.address(), HostId(7), Epoch(1)),
                              [&host] { return host(); });
    publisher.start();
    const bool published_once = co_await wait_published(s.env(), publisher, 1);
    REQUIRE(published_once);
    protocol::ShelfClient* admin = co_await s.admin();
    const Record first = co_await read_record(*admin, HostId(7));
    CHECK(first.status.host == HostId(7));
    CHECK(first.status.state == HostState::kServing);
    CHECK(first.status.label == "esx-7");
    CHECK(first.status.instance == publisher.instance());
    CHECK(first.status.publish_interval == kTestInterval);
    CHECK(first.status.started_at.nanos > 0);
    CHECK(first.status.published_at >= first.status.started_at);
    REQUIRE(first.status.datastores.size() == 1);
    CHECK(first.status.datastores[0].export_url ==
          "nfs://127.0.0.1/default?nfsport=20490&mountport=20048");

    // Later ticks overwrite it: a newer version with newer figures.
    const uint64_t published = publisher.stats().published;
    const bool published_more = co_await wait_published(s.env(), publisher, published + 2);
    REQUIRE(published_more);
    const Record later = co_await read_record(*admin, HostId(7));
    CHECK(later.version > first.version);
    CHECK(later.status.counters.at("nfs.calls") > first.status.counters.at("nfs.calls"));
    CHECK(later.status.datastores[0].logical_bytes > first.status.datastores[0].logical_bytes);
    CHECK(later.status.published_at > first.status.published_at);
    CHECK(publisher.stats().last_version >= later.version);

    // The host is listed in the directory, so arrayctl finds it though the shelf never saw id 7.
    CHECK(publisher.stats().listed);
    auto directory = co_await admin->register_get(host_directory_register());
    REQUIRE(directory.ok());
    auto ids = decode_host_directory(directory->value);
    REQUIRE(ids.ok());
    CHECK(*ids == std::vector<HostId>{HostId(7)});

    co_await publisher.stop();
    const Record last = co_await read_record(*admin, HostId(7));
    CHECK(last.status.state == HostState::kStopped);
    CHECK(last.version > later.version);
    CHECK(last.version == publisher.stats().last_version);
    CHECK(publisher.stats().failures == 0);
    CHECK(publisher.stats().conflicts == 0);
    CHECK(publisher.stats().last_error.empty());
    co_await publisher.stop();  // idempotent
  });
}

TEST_CASE("hostdriver/status: a restarted host takes its record over and fences the old one") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    FakeHost old_host;
    FakeHost new_host;
    StatusPublisher old_publisher(s.env(), test_config(s.address(), HostId(7), Epoch(1)),
                                  [&old_host] { return old_host(); });
    old_publisher.start();
    const bool old_published = co_await wait_published(s.env(), old_publisher, 2);
    REQUIRE(old_published);
    // The new incarnation finds the old record and swaps over it with a higher epoch.
    StatusPublisher new_publisher(s.env(), test_config(s.address(), HostId(7), Epoch(2)),
                                  [&new_host] { return new_host(); });
    new_publisher.start();
    const bool new_published = co_await wait_published(s.env(), new_publisher, 2);
    REQUIRE(new_published);
    const std::function<bool()> fenced = [&old_publisher] { return old_publisher.stats().fenced; };
    const bool old_fenced = co_await wait_until(s.env(), fenced);
    REQUIRE(old_fenced);
    co_await old_publisher.stop();  // fenced: does not write "stopped" over the new record
    protocol::ShelfClient* admin = co_await s.admin();
    const Record record = co_await read_record(*admin, HostId(7));
    CHECK(record.status.instance == new_publisher.instance());
    CHECK(record.status.state == HostState::kServing);
    CHECK(new_publisher.stats().failures == 0);
    co_await new_publisher.stop();
    const Record last = co_await read_record(*admin, HostId(7));
    CHECK(last.status.instance == new_publisher.instance());
    CHECK(last.status.state == HostState::kStopped);
    CHECK(last.version > record.version);
  });
}

Task<void> publish_to_nowhere(Env& env) {
  // A port nobody listens on: take a free one and close it again.
  auto listener = env.network.listen(Address{"127.0.0.1", 0});
  REQUIRE(listener.ok());
  const Address nowhere = (*listener)->local_address();
  (*listener)->close();
  FakeHost host;
  StatusPublisher publisher(env, test_config(nowhere, HostId(3), Epoch(1)),
                            [&host] { return host(); });
  publisher.start();
  const std::function<bool()> failed_twice = [&publisher] {
    return publisher.stats().failures >= 2;
  };
  const bool failed = co_await wait_until(env, failed_twice);
  co_await publisher.stop();  // the last record cannot be written either: logged, not fatal
  CHECK(failed);
  CHECK(publisher.stats().published == 0);
  CHECK(!publisher.stats().last_error.empty());
  CHECK(host.snapshots >= 3);  // every tick took a snapshot and tried again
}

TEST_CASE("hostdriver/status: an unreachable shelf costs failed ticks, never the host") {
  asio::io_context io;
  AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                      .log_level = LogLevel::kOff,
                                      .component = "status-test",
                                      .seed = 7});
  splitarray::testing::run_task(io, publish_to_nowhere(asio_env.env()));
}

TEST_CASE("arrayctl/status: collection finds published hosts and the shelf's own hosts") {
  Fixture f;
  f.serve([&](Session& s) -> Task<void> {
    // Host 3 only talks to the shelf (a block store on log 3); host 7 only publishes.
    blockstore::BlockStore* store = co_await s.open(s.config(HostId(3), Epoch(1)));
    const std::vector<uint8_t> data(8192, 1);
    co_await blockstore::bs_test::write_ok(*store, InodeId(1), 0, data);
    FakeHost host;
    StatusPublisher publisher(s.env(), test_config(s.address(), HostId(7), Epoch(1)),
                              [&host] { return host(); });
    publisher.start();
    const bool ok6 = co_await wait_published(s.env(), publisher, 1);
    REQUIRE(ok6);
    const std::function<bool()> listed = [&publisher] { return publisher.stats().listed; };
    const bool ok7 = co_await wait_until(s.env(), listed);
    REQUIRE(ok7);

    protocol::ShelfClient* admin = co_await s.admin();
    const std::string where = s.address().to_string();
    auto collected = co_await arrayctl::collect_status(s.env(), *admin, where);
    REQUIRE_MESSAGE(collected.ok(), why(collected));
    const arrayctl::StatusSnapshot& snap = *collected;
    CHECK(snap.shelf.disks.size() == blockstore::bs_test::kTestDisks);
    CHECK(snap.warnings.empty());
    REQUIRE(snap.hosts.size() == 2);
    CHECK(snap.hosts[0].id == HostId(3));
    CHECK(!snap.hosts[0].status.has_value());
    CHECK(snap.hosts[0].error.empty());
    CHECK(snap.hosts[1].id == HostId(7));
    REQUIRE(snap.hosts[1].status.has_value());
    CHECK(snap.hosts[1].status->label == "esx-7");
    REQUIRE(snap.roots.size() == 1);
    CHECK(snap.roots[0].datastore == "default");
    CHECK(!snap.roots[0].exists);  // no file system was formatted here
    CHECK(snap.taken_at >= snap.hosts[1].status->published_at);

    const std::string table = arrayctl::render_table(snap);
    INFO(table);
    CHECK(table.find("esx-7") != std::string::npos);
    CHECK(table.find("not published") != std::string::npos);  // host 3
    CHECK(table.find("12 disks (12 healthy)") != std::string::npos);
    co_await publisher.stop();
  });
}

}  // namespace
}  // namespace splitarray::hostdriver::status
