// What `arrayctl status` prints (hostdriver/arrayctl/status_report.h) for a hand-built snapshot:
// the table and the JSON carry the exact figures (sizes human-readable in the table, ratios to
// two decimals), hosts are joined with the shelf's counters of their datastores' logs, and stale,
// unpublished and unreadable hosts say so.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "hostdriver/arrayctl/status_report.h"

namespace splitarray::hostdriver::arrayctl {
namespace {

using nlohmann::json;
using status::DatastoreStatus;
using status::HostState;
using status::HostStatus;
using std::chrono::seconds;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000 * kSecond;

HostStatus published(uint32_t id, int64_t seconds_ago) {
  HostStatus s;
  s.host = HostId(id);
  s.instance = 100 + id;
  s.label = "esx-" + std::to_string(id);
  s.state = HostState::kServing;
  s.started_at = WallTime{kNow - 3723 * kSecond};  // up 1h 02m 03s
  s.published_at = WallTime{kNow - seconds_ago * kSecond};
  s.publish_interval = seconds(2);
  return s;
}

StatusSnapshot sample_snapshot() {
  StatusSnapshot snap;
  snap.shelf_address = "127.0.0.1:20100";
  snap.taken_at = WallTime{kNow};
  snap.shelf.cluster_id = 1;
  snap.shelf.shelf_id = 2;
  snap.shelf.index = protocol::IndexStatusValue{12345, false, 0};
  snap.shelf.disks = {{0, protocol::DiskStateValue::kHealthy, kGiB, 1000, 100, 1},
                      {1, protocol::DiskStateValue::kFailed, kGiB, 1000, 0, 1},
                      {2, protocol::DiskStateValue::kRebuilding, kGiB, 1000, 500, 2}};
  snap.shelf.nvram = {{5, 4 * kMiB, 16 * kMiB, 10, 25}, {9, 0, 16 * kMiB, 1, 1}};
  snap.shelf.hosts = {
      {0, 3, 0, 0, {}}, {5, 1000, 4096, 0, {}}, {7, 100, 0, 0, {}}, {9, 1, 0, 0, {}}};

  HostStatus h7 = published(7, 1);
  DatastoreStatus d;
  d.name = "default";
  d.export_url = "nfs://127.0.0.1/default?nfsport=20490&mountport=20048";
  d.log_id = 5;
  d.inodes = 42;
  d.logical_bytes = 3 * kGiB;
  d.unique_bytes = 1536 * kMiB;
  d.stored_bytes = 512 * kMiB;
  h7.datastores.push_back(d);
  DatastoreStatus logs;
  logs.name = "logs";
  logs.logical_bytes = 10 * kMiB;
  logs.unique_bytes = 3 * kMiB;
  logs.stored_bytes = 3 * kMiB;
  h7.datastores.push_back(logs);
  h7.counters = {{"nfs.calls", 1234}, {"nfs.errors", 2}};

  snap.hosts.push_back(HostRecord{HostId(5), std::nullopt, ""});  // default's log: not a host
  snap.hosts.push_back(HostRecord{HostId(7), h7, ""});
  snap.hosts.push_back(HostRecord{HostId(9), std::nullopt, ""});
  snap.hosts.push_back(HostRecord{HostId(11), published(11, 10), ""});
  snap.hosts.push_back(HostRecord{HostId(12), std::nullopt, "host status: state: unknown"});
  snap.roots.push_back(DatastoreRoot{"default", true, 17, 3});
  return snap;
}

// The line of `text` that contains `needle`, split at whitespace.
std::vector<std::string> cells_of_line(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(needle) == std::string::npos) continue;
    std::istringstream words(line);
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
  }
  return {};
}

// The host rows of the table: lines of the Hosts section.
std::string section(const std::string& table, const std::string& title) {
  const size_t start = table.find("\n" + title + "\n");
  REQUIRE(start != std::string::npos);
  const size_t end = table.find("\n\n", start + 1);
  return table.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST_CASE("arrayctl/status: sizes, ratios and durations are formatted for people") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(16 * kMiB) == "16.0 MiB");
  CHECK(human_bytes(kGiB - 1) == "1.0 GiB");  // not "1024.0 MiB"
  CHECK(human_bytes(1536 * kGiB) == "1.5 TiB");
  CHECK(human_bytes(UINT64_MAX) == "16.0 EiB");
  CHECK(ratio_text(2.0) == "2.00x");
  CHECK(ratio_text(10.0 / 3.0) == "3.33x");
  CHECK(ratio_text(1.0) == "1.00x");
  CHECK(duration_text(Duration::zero()) == "0s");
  CHECK(duration_text(seconds(59)) == "59s");
  CHECK(duration_text(seconds(123)) == "2m 03s");
  CHECK(duration_text(seconds(3723)) == "1h 02m");
  CHECK(duration_text(seconds(3 * 86400 + 4 * 3600)) == "3d 04h");
  CHECK(duration_text(seconds(-5)) == "0s");
  CHECK(disk_state_name(protocol::DiskStateValue::kRebuilding) == "rebuilding");
}

TEST_CASE("arrayctl/status: the table shows the shelf, disks, NVRAM, hosts and datastores") {
  const std::string table = render_table(sample_snapshot());
  INFO(table);
  CHECK(table.find("Shelf 127.0.0.1:20100\n") == 0);
  CHECK(table.find("cluster 1, shelf 2, 3 disks (1 healthy), 3.0 GiB raw") != std::string::npos);
  CHECK(table.find("index: 12345 entries, not rebuilding") != std::string::npos);
  CHECK(table.find("unattributed requests: 3") != std::string::npos);

  const std::string disks = section(table, "Disks");
  CHECK(cells_of_line(disks, "healthy") ==
        std::vector<std::string>{"0", "healthy", "1.0", "GiB", "100", "1000", "10.0%"});
  CHECK(cells_of_line(disks, "failed") ==
        std::vector<std::string>{"1", "failed", "1.0", "GiB", "0", "1000", "0.0%"});
  CHECK(cells_of_line(disks, "rebuilding") ==
        std::vector<std::string>{"2", "rebuilding", "1.0", "GiB", "500", "1000", "50.0%"});

  const std::string nvram = section(table, "NVRAM");
  CHECK(cells_of_line(nvram, "default@host") == std::vector<std::string>{"5", "default@host", "7",
                                                                         "4.0", "MiB", "16.0",
                                                                         "MiB", "25.0%", "15"});

  const std::string hosts = section(table, "Hosts");
  // Host 7 counts its own requests and its datastore's log (5); log 5 is no host row of its own.
  CHECK(cells_of_line(hosts, "esx-7") ==
        std::vector<std::string>{"7", "esx-7", "serving", "1s", "ago", "1h", "02m", "1100",
                                 "nfs.calls=1234", "nfs.errors=2",
                                 "nfs://127.0.0.1/default?nfsport=20490&mountport=20048"});
  CHECK(cells_of_line(hosts, "  5 ").empty());
  CHECK(cells_of_line(hosts, "not published") ==
        std::vector<std::string>{"9", "-", "not", "published", "-", "-", "1", "-", "-"});
  CHECK(hosts.find("stale (last seen 10s ago)") != std::string::npos);
  CHECK(cells_of_line(hosts, "unreadable").at(0) == "12");

  const std::string datastores = section(table, "Datastores");
  CHECK(cells_of_line(datastores, "default") ==
        std::vector<std::string>{"default", "7", "42", "3.0", "GiB", "1.5", "GiB", "512.0", "MiB",
                                 "2.00x", "3.00x", "6.00x"});
  CHECK(cells_of_line(datastores, "logs") ==
        std::vector<std::string>{"logs", "7", "0", "10.0", "MiB", "3.0", "MiB", "3.0", "MiB",
                                 "3.33x", "1.00x", "3.33x"});
  CHECK(table.find("host 12: host status: state: unknown") != std::string::npos);
}

TEST_CASE("arrayctl/status: the JSON carries the same figures as numbers") {
  const json root = json::parse(render_json(sample_snapshot()));
  CHECK(root["shelf"]["address"] == "127.0.0.1:20100");
  CHECK(root["shelf"]["cluster_id"] == 1);
  CHECK(root["shelf"]["index_entries"] == 12345);
  CHECK(root["shelf"]["index_rebuilding"] == false);
  CHECK(root["shelf"]["unattributed_requests"] == 3);

  REQUIRE(root["disks"].size() == 3);
  CHECK(root["disks"][0]["state"] == "healthy");
  CHECK(root["disks"][1]["state"] == "failed");
  CHECK(root["disks"][2]["state"] == "rebuilding");
  CHECK(root["disks"][0]["capacity_bytes"] == kGiB);
  CHECK(root["disks"][0]["used_percent"] == 10.0);
  CHECK(root["disks"][2]["generation"] == 2);

  REQUIRE(root["nvram"].size() == 2);
  CHECK(root["nvram"][0]["log_id"] == 5);
  CHECK(root["nvram"][0]["owner"] == "default@host 7");
  CHECK(root["nvram"][0]["used_bytes"] == 4 * kMiB);
  CHECK(root["nvram"][0]["used_percent"] == 25.0);
  CHECK(root["nvram"][1]["owner"] == "");

  REQUIRE(root["hosts"].size() == 4);  // 7, 9, 11, 12: log 5 belongs to host 7
  const json& h7 = root["hosts"][0];
  CHECK(h7["id"] == 7);
  CHECK(h7["state"] == "serving");
  CHECK(h7["stale"] == false);
  CHECK(h7["published"] == true);
  CHECK(h7["label"] == "esx-7");
  CHECK(h7["shelf_requests"] == 1100);
  CHECK(h7["shelf_bytes_in"] == 4096);
  CHECK(h7["last_seen_seconds"] == 1);
  CHECK(h7["publish_interval_ms"] == 2000);
  CHECK(h7["counters"]["nfs.calls"] == 1234);
  CHECK(h7["exports"].size() == 1);
  CHECK(root["hosts"][1]["state"] == "not_published");
  CHECK(root["hosts"][1]["published"] == false);
  CHECK(root["hosts"][2]["state"] == "stale");
  CHECK(root["hosts"][2]["reported_state"] == "serving");
  CHECK(root["hosts"][2]["last_seen_seconds"] == 10);
  CHECK(root["hosts"][3]["state"] == "unreadable");
  CHECK(root["hosts"][3]["error"] == "host status: state: unknown");

  REQUIRE(root["datastores"].size() == 2);
  const json& d = root["datastores"][0];
  CHECK(d["name"] == "default");
  CHECK(d["host"] == 7);
  CHECK(d["files"] == 42);
  CHECK(d["logical_bytes"] == 3 * kGiB);
  CHECK(d["unique_bytes"] == 1536 * kMiB);
  CHECK(d["stored_bytes"] == 512 * kMiB);
  CHECK(d["dedup_ratio"] == 2.0);
  CHECK(d["compression_ratio"] == 3.0);
  CHECK(d["reduction_ratio"] == 6.0);
  CHECK(d["root"]["version"] == 17);
  CHECK(d["root"]["epoch"] == 3);
  CHECK(root["datastores"][1]["dedup_ratio"] == 3.33);  // rounded to two decimals
  CHECK(!root["datastores"][1].contains("root"));
}

TEST_CASE("arrayctl/status: an empty cluster says so instead of printing empty tables") {
  StatusSnapshot snap;
  snap.shelf_address = "127.0.0.1:1";
  snap.shelf.disks = {{0, protocol::DiskStateValue::kHealthy, kGiB, 10, 0, 1}};
  snap.warnings.push_back("host directory: kTimeout");
  const std::string table = render_table(snap);
  CHECK(table.find("(no log is in use)") != std::string::npos);
  CHECK(table.find("(no host has published a status record)") != std::string::npos);
  CHECK(table.find("(no host reports a datastore)") != std::string::npos);
  CHECK(table.find("warning: host directory: kTimeout") != std::string::npos);
  const json root = json::parse(render_json(snap));
  CHECK(root["hosts"].empty());
  CHECK(root["datastores"].empty());
  CHECK(root["warnings"][0] == "host directory: kTimeout");
}

TEST_CASE("arrayctl/status: a host that stopped cleanly shows as stopped, however old") {
  StatusSnapshot snap = sample_snapshot();
  HostStatus gone = published(11, 86400);
  gone.state = HostState::kStopped;
  snap.hosts[3].status = gone;
  CHECK(host_state_text(snap.hosts[3], snap.taken_at) == "stopped");
  const json root = json::parse(render_json(snap));
  CHECK(root["hosts"][2]["state"] == "stopped");
  CHECK(root["hosts"][2]["stale"] == false);
}

}  // namespace
}  // namespace splitarray::hostdriver::arrayctl
