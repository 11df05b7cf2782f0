// The host status record (hostdriver/status/host_status.h): it round-trips through its JSON, a
// record at every limit fits a shelf register, one beyond a limit is refused, the decoder turns
// every malformed input into kProtocol without throwing, and staleness follows the host's own
// interval.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/prng.h"
#include "hostdriver/status/fs_figures.h"
#include "hostdriver/status/host_status.h"
#include "tests/unit/hostdriver/blockstore/block_store_fixture.h"

namespace splitarray::hostdriver::status {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kSecond = 1'000'000'000;

HostStatus sample_status() {
  HostStatus status;
  status.host = HostId(7);
  status.instance = 0xDEADBEEF12345678ULL;
  status.label = "esx-07";
  status.state = HostState::kServing;
  status.started_at = WallTime{1'700'000'000 * kSecond};
  status.published_at = WallTime{1'700'000'123 * kSecond + 456};
  status.publish_interval = seconds(2);
  DatastoreStatus d;
  d.name = "default";
  d.export_url = "nfs://127.0.0.1/default?nfsport=20490&mountport=20048";
  d.log_id = 5;
  d.inodes = 42;
  d.checkpoints = 3;
  d.operations = 1000;
  d.logical_bytes = 3 * kGiB;
  d.unique_bytes = 1536 * kMiB;
  d.stored_bytes = 512 * kMiB;
  d.blocks_written = 786432;
  d.zero_blocks = 10;
  d.dedup_hits = 393216;
  d.chunks_stored = 393216;
  d.containers_destaged = 64;
  d.reads = 99;
  d.read_cache_hits = 90;
  d.degraded_reads = 1;
  d.repairs = 1;
  d.unrecoverable_blocks = 0;
  status.datastores.push_back(d);
  status.counters["nfs.calls"] = 1234;
  status.counters["nfs.errors"] = 2;
  return status;
}

using blockstore::bs_test::why;

std::vector<uint8_t> bytes_of(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::string text_of(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// Decodes `text`; the decoder must answer kProtocol (and, like every call here, not throw).
void check_rejected(std::string_view text, const char* why) {
  Result<HostStatus> decoded = decode_host_status(bytes_of(text));
  CHECK_MESSAGE(!decoded.ok(), why);
  if (!decoded.ok()) CHECK_MESSAGE(decoded.code() == Code::kProtocol, why);
}

TEST_CASE("hostdriver/status: a host status record survives encode and decode") {
  const HostStatus status = sample_status();
  Result<std::vector<uint8_t>> encoded = encode_host_status(status);
  REQUIRE(encoded.ok());
  CHECK(encoded->size() <= kHostStatusBytesMax);
  Result<HostStatus> decoded = decode_host_status(*encoded);
  REQUIRE_MESSAGE(decoded.ok(), why(decoded));
  CHECK(*decoded == status);

  // The register holds readable JSON with stable keys and numbers as numbers.
  const json root = json::parse(text_of(*encoded));
  CHECK(root["format"] == kHostStatusFormat);
  CHECK(root["host"] == 7);
  CHECK(root["state"] == "serving");
  CHECK(root["published_at_ns"] == 1'700'000'123 * kSecond + 456);
  CHECK(root["datastores"][0]["export"] == status.datastores[0].export_url);
  CHECK(root["datastores"][0]["logical_bytes"] == 3 * kGiB);
  CHECK(root["counters"]["nfs.calls"] == 1234);
}

TEST_CASE("hostdriver/status: every host state round-trips by name") {
  for (HostState state : {HostState::kStarting, HostState::kServing, HostState::kStopping,
                          HostState::kStopped, HostState::kFenced}) {
    HostStatus status = sample_status();
    status.state = state;
    Result<HostStatus> decoded = decode_host_status(encode_host_status(status).value());
    REQUIRE(decoded.ok());
    CHECK(decoded->state == state);
    Result<HostState> parsed = parse_host_state(host_state_name(state));
    REQUIRE(parsed.ok());
    CHECK(*parsed == state);
  }
  CHECK(host_state_name(HostState::kStopped) == "stopped");
  CHECK(host_state_name(HostState::kFenced) == "fenced");
  CHECK(parse_host_state("running").code() == Code::kProtocol);
}

TEST_CASE("hostdriver/status: a record at every limit fits a shelf register") {
  HostStatus status = sample_status();
  status.label = std::string(kLabelBytesMax, 'h');
  status.datastores.clear();
  for (size_t i = 0; i < kDatastoresPerHostMax; ++i) {
    DatastoreStatus d = sample_status().datastores[0];
    d.name = std::string(kLabelBytesMax - 3, 'd') + std::to_string(100 + i);
    d.export_url = std::string(kExportUrlBytesMax, 'u');
    d.logical_bytes = UINT64_MAX;  // the widest numbers, too
    d.unrecoverable_blocks = UINT64_MAX;
    status.datastores.push_back(d);
  }
  status.counters.clear();
  for (size_t i = 0; i < kCountersMax; ++i) {
    status.counters[std::string(kCounterNameBytesMax - 4, 'c') + std::to_string(1000 + i)] =
        UINT64_MAX;
  }
  Result<std::vector<uint8_t>> encoded = encode_host_status(status);
  REQUIRE_MESSAGE(encoded.ok(), why(encoded));
  CHECK(encoded->size() <= protocol::kRegisterValueBytesMaxWire);
  Result<HostStatus> decoded = decode_host_status(*encoded);
  REQUIRE(decoded.ok());
  CHECK(*decoded == status);
}

TEST_CASE("hostdriver/status: a record beyond a limit is refused, not truncated") {
  auto refused = [](const HostStatus& status) {
    Result<std::vector<uint8_t>> encoded = encode_host_status(status);
    return !encoded.ok() && encoded.code() == Code::kInvalidArgument;
  };
  HostStatus status = sample_status();
  status.label = std::string(kLabelBytesMax + 1, 'h');
  CHECK(refused(status));
  status = sample_status();
  status.datastores.assign(kDatastoresPerHostMax + 1, sample_status().datastores[0]);
  CHECK(refused(status));
  status = sample_status();
  status.datastores[0].export_url = std::string(kExportUrlBytesMax + 1, 'u');
  CHECK(refused(status));
  status = sample_status();
  for (size_t i = 0; i <= kCountersMax; ++i) status.counters["c" + std::to_string(i)] = i;
  CHECK(refused(status));
  status = sample_status();
  status.counters[std::string(kCounterNameBytesMax + 1, 'c')] = 1;
  CHECK(refused(status));
  status = sample_status();
  status.counters[""] = 1;
  CHECK(refused(status));
  // Control characters escape to six bytes each: the size check still holds the line.
  status = sample_status();
  status.datastores[0].name = std::string(kLabelBytesMax, '\x01');
  status.datastores[0].export_url = std::string(kExportUrlBytesMax, '\x01');
  status.datastores.assign(kDatastoresPerHostMax, status.datastores[0]);
  CHECK(refused(status));
}

TEST_CASE("hostdriver/status: the decoder answers kProtocol to malformed records") {
  check_rejected("", "empty");
  check_rejected("not json", "garbage");
  check_rejected("[1, 2, 3]", "an array");
  check_rejected("\"serving\"", "a string");
  check_rejected(R"({"format": 1, "state": "serving", "published_at_ns": 1})", "no host");
  check_rejected(R"({"format": 1, "host": 7, "published_at_ns": 1})", "no state");
  check_rejected(R"({"format": 1, "host": 7, "state": "serving"})", "no published_at");
  check_rejected(R"({"host": 7, "state": "serving", "published_at_ns": 1})", "no format");
  const std::string head = R"({"format": 1, "host": 7, "state": "serving", "published_at_ns": 1)";
  check_rejected(head + R"(, "format": 2})", "a later format");
  check_rejected(R"({"format": 2, "host": 7, "state": "serving", "published_at_ns": 1})",
                 "unknown format");
  check_rejected(R"({"format": 1, "host": "7", "state": "serving", "published_at_ns": 1})",
                 "host as a string");
  check_rejected(R"({"format": 1, "host": -7, "state": "serving", "published_at_ns": 1})",
                 "negative host");
  check_rejected(R"({"format": 1, "host": 4294967296, "state": "serving", "published_at_ns": 1})",
                 "host beyond 32 bits");
  check_rejected(R"({"format": 1, "host": 7.5, "state": "serving", "published_at_ns": 1})",
                 "fractional host");
  check_rejected(R"({"format": 1, "host": 7, "state": "running", "published_at_ns": 1})",
                 "unknown state");
  check_rejected(R"({"format": 1, "host": 7, "state": 1, "published_at_ns": 1})", "state number");
  check_rejected(R"({"format": 1, "host": 7, "state": "serving", "published_at_ns": "1"})",
                 "time as a string");
  check_rejected(
      R"({"format": 1, "host": 7, "state": "serving", "published_at_ns": 18446744073709551615})",
      "time beyond int64");
  check_rejected(head + R"(, "publish_interval_ns": -1})", "negative interval");
  check_rejected(head + R"(, "label": ["a"]})", "label as an array");
  check_rejected(head + R"(, "label": ")" + std::string(kLabelBytesMax + 1, 'x') + R"("})",
                 "label too long");
  check_rejected(head + R"(, "datastores": {}})", "datastores as an object");
  check_rejected(head + R"(, "datastores": [1]})", "a datastore as a number");
  check_rejected(head + R"(, "datastores": [{"export": "nfs://x/y"}]})",
                 "a datastore without name");
  check_rejected(head + R"(, "datastores": [{"name": "d", "inodes": -1}]})", "negative figure");
  check_rejected(head + R"(, "datastores": [{"name": "d", "reads": "9"}]})", "figure as a string");
  check_rejected(head + R"(, "datastores": [{"name": "d", "log_id": 4294967296}]})", "log id");
  check_rejected(head + R"(, "counters": [1]})", "counters as an array");
  check_rejected(head + R"(, "counters": {"nfs.calls": -1}})", "negative counter");
  check_rejected(head + R"(, "counters": {"nfs.calls": 1.5}})", "fractional counter");
  check_rejected(head + R"(, "counters": {"": 1}})", "unnamed counter");
  check_rejected(head + ", \"label\": \"\xff\xfe\"}", "invalid UTF-8");
  check_rejected(head + "}" + std::string(kHostStatusBytesMax, ' '), "oversized (valid JSON)");
  check_rejected(std::string(100000, '[') + std::string(100000, ']'), "oversized nesting");
  check_rejected(std::string(30000, '[') + std::string(30000, ']'), "deep nesting");
  // Too many datastores or counters, each one fine.
  std::string many = head + R"(, "datastores": [)";
  for (size_t i = 0; i <= kDatastoresPerHostMax; ++i)
    many += (i ? "," : "") + std::string("{\"name\":\"d\"}");
  check_rejected(many + "]}", "too many datastores");
}

TEST_CASE("hostdriver/status: every prefix and every byte flip of a record decodes or fails") {
  const std::vector<uint8_t> good = encode_host_status(sample_status()).value();
  for (size_t length = 0; length < good.size(); ++length) {
    Result<HostStatus> decoded = decode_host_status(std::span(good).first(length));
    REQUIRE_MESSAGE(!decoded.ok(), "prefix " << length);
    CHECK(decoded.code() == Code::kProtocol);
  }
  Prng rng(20261121);
  size_t rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bad = good;
    bad[rng.below(bad.size())] = static_cast<uint8_t>(rng.below(256));
    Result<HostStatus> decoded = decode_host_status(bad);
    if (!decoded.ok()) {
      CHECK(decoded.code() == Code::kProtocol);
      ++rejected;
    }
  }
  CHECK(rejected > 0);  // the flips did reach the validation, not only string contents
}

TEST_CASE("hostdriver/status: keys the decoder does not know are ignored") {
  // A newer host may add fields; an older arrayctl still reads the rest.
  const std::string text =
      R"({"format": 1, "host": 3, "state": "stopping", "published_at_ns": 5, "gpu": {"x": [1]},
          "datastores": [{"name": "d", "inodes": 4, "future_figure": 1.5}]})";
  Result<HostStatus> decoded = decode_host_status(bytes_of(text));
  REQUIRE_MESSAGE(decoded.ok(), why(decoded));
  CHECK(decoded->host == HostId(3));
  CHECK(decoded->state == HostState::kStopping);
  REQUIRE(decoded->datastores.size() == 1);
  CHECK(decoded->datastores[0].inodes == 4);
  CHECK(decoded->counters.empty());
}

TEST_CASE("hostdriver/status: a host is stale after three of its intervals without a record") {
  HostStatus status = sample_status();
  status.published_at = WallTime{100 * kSecond};
  status.publish_interval = seconds(2);
  CHECK(!is_stale(status, WallTime{100 * kSecond}));
  CHECK(!is_stale(status, WallTime{106 * kSecond}));  // exactly 3 intervals: not yet
  CHECK(is_stale(status, WallTime{106 * kSecond + 1}));
  CHECK(age(status, WallTime{110 * kSecond}) == seconds(10));
  // The writer's clock ahead of the reader's: age 0, not negative.
  CHECK(age(status, WallTime{99 * kSecond}) == Duration::zero());
  CHECK(!is_stale(status, WallTime{99 * kSecond}));
  // A longer interval stretches the threshold; none recorded means the default.
  status.publish_interval = seconds(10);
  CHECK(!is_stale(status, WallTime{129 * kSecond}));
  CHECK(is_stale(status, WallTime{131 * kSecond}));
  status.publish_interval = Duration::zero();
  static_assert(kPublishIntervalDefault == seconds(2));
  CHECK(!is_stale(status, WallTime{106 * kSecond}));
  CHECK(is_stale(status, WallTime{106 * kSecond + 1}));
  // A host that stopped cleanly said goodbye: it is stopped, not stale.
  status.state = HostState::kStopped;
  CHECK(!is_stale(status, WallTime{1000 * kSecond}));
}

TEST_CASE("hostdriver/status: ratios divide the byte counts, 1.00 before anything is stored") {
  DatastoreStatus d = sample_status().datastores[0];  // 3 GiB, 1.5 GiB, 512 MiB
  CHECK(d.dedup_ratio() == doctest::Approx(2.0));
  CHECK(d.compression_ratio() == doctest::Approx(3.0));
  CHECK(d.reduction_ratio() == doctest::Approx(6.0));
  const DatastoreStatus empty;
  CHECK(empty.dedup_ratio() == 1.0);
  CHECK(empty.compression_ratio() == 1.0);
  CHECK(empty.reduction_ratio() == 1.0);
}

TEST_CASE("hostdriver/status: a datastore's figures come from its file system's stats") {
  fs::FsStats fs;
  fs.inodes = 12;
  fs.checkpoints = 4;
  fs.operations = 77;
  // The ratios come from the datastore's figures since format, not from the block store's
  // per-process counters (which a restart resets).
  fs.figures = {.written_bytes = 8 * kMiB, .unique_bytes = 4 * kMiB, .stored_bytes = kMiB};
  fs.store.logical_bytes = 3;
  fs.store.unique_bytes = 2;
  fs.store.stored_bytes = 1;
  fs.store.dedup_hits = 1024;
  fs.store.containers_destaged = 2;
  fs.store.degraded_reads = 3;
  const DatastoreStatus d = datastore_status("vms", "nfs://h/vms", 9, fs);
  CHECK(d.name == "vms");
  CHECK(d.export_url == "nfs://h/vms");
  CHECK(d.log_id == 9);
  CHECK(d.inodes == 12);
  CHECK(d.checkpoints == 4);
  CHECK(d.operations == 77);
  CHECK(d.logical_bytes == 8 * kMiB);
  CHECK(d.dedup_hits == 1024);
  CHECK(d.containers_destaged == 2);
  CHECK(d.degraded_reads == 3);
  CHECK(d.unique_bytes == 4 * kMiB);
  CHECK(d.stored_bytes == kMiB);
  CHECK(d.dedup_ratio() == doctest::Approx(2.0));
  CHECK(d.compression_ratio() == doctest::Approx(4.0));
}

TEST_CASE("hostdriver/status: register names and the host directory") {
  CHECK(host_status_register(HostId(7)) == "hosts/7/status");
  CHECK(host_directory_register() == "hosts/directory");
  const std::vector<HostId> hosts{HostId(1), HostId(7), HostId(4000000000u)};
  Result<std::vector<uint8_t>> encoded = encode_host_directory(hosts);
  REQUIRE(encoded.ok());
  Result<std::vector<HostId>> decoded = decode_host_directory(*encoded);
  REQUIRE(decoded.ok());
  CHECK(*decoded == hosts);
  // Unsorted or repeated ids from another writer come back sorted and unique.
  decoded = decode_host_directory(bytes_of(R"({"format": 1, "hosts": [9, 2, 9]})"));
  REQUIRE(decoded.ok());
  CHECK(*decoded == std::vector<HostId>{HostId(2), HostId(9)});
  const std::vector<HostId> too_many(kHostDirectoryMax + 1, HostId(1));
  CHECK(encode_host_directory(too_many).code() == Code::kInvalidArgument);
  CHECK(decode_host_directory(bytes_of(R"({"format": 1, "hosts": ["a"]})")).code() ==
        Code::kProtocol);
  CHECK(decode_host_directory(bytes_of(R"({"format": 1})")).code() == Code::kProtocol);
  CHECK(decode_host_directory(bytes_of("{")).code() == Code::kProtocol);
}

}  // namespace
}  // namespace splitarray::hostdriver::status
