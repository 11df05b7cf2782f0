// tests/e2e/nfs_apps/nfs_servers.cpp
#include "tests/e2e/nfs_apps/nfs_servers.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/units.h"
#include "tests/e2e/nfs_apps/bounded_run.h"

namespace splitarray::testing {
namespace {

// A shelf big enough for every test's data (fio writes 128 MiB); the images are sparse files.
constexpr int kDisks = 12;  // RS(8,2) stripes need 10 distinct disks
constexpr uint64_t kDiskBytes = 512 * kMiB;
constexpr uint64_t kNvramBytes = 64 * kMiB;
const std::string kDatastore = "default";
const std::string kExportPath = "/default";

constexpr auto kShelfStartLimit = seconds(30);
constexpr auto kServeLimit = seconds(120);  // start, take the datastore over, recover, serve
constexpr auto kStopLimit = seconds(60);
constexpr auto kFsckLimit = seconds(300);
constexpr auto kMountLimit = seconds(30);

std::string first_url_line(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("nfs://", 0) == 0) return line;
  }
  return "";
}

// The value of `key` in the URL's query ("...?nfsport=N&mountport=M").
uint16_t url_port(const std::string& url, const std::string& key) {
  const size_t at = url.find(key + "=");
  REQUIRE_MESSAGE(at != std::string::npos, "no " << key << " in " << url);
  return static_cast<uint16_t>(std::stoul(url.substr(at + key.size() + 1)));
}

// Waits until the child exited; false (the child still runs) after `limit`.
bool wait_exit(ChildProcess& child, seconds limit) {
  return wait_until([&child] { return child.exited(); }, limit);
}

class HostDriverServer final : public ExportServer {
 public:
  explicit HostDriverServer(std::string dir) : dir_(std::move(dir)) {
    shelf_port_ = free_port();
    const std::string config = write_shelf_config();
    const Ran formatted = run_bounded({NETSHELF_BINARY, "format", "--config", config},
                                      dir_ + "/netshelf-format.log", seconds(120));
    REQUIRE_MESSAGE(formatted.ok(), "netshelf format: " << describe(formatted));
    shelf_ = std::make_unique<ChildProcess>(
        NETSHELF_BINARY, std::vector<std::string>{"--config", config}, dir_ + "/netshelf.log");
    const uint16_t port = shelf_port_;
    REQUIRE_MESSAGE(wait_until([port] { return port_accepts(port); }, kShelfStartLimit),
                    "netshelf did not listen on " << shelf_address() << ":\n"
                                                  << last_lines(slurp(dir_ + "/netshelf.log"), 40));
    const Ran datastore = run_bounded({SAFS_BINARY, "format", "--shelf", shelf_address()},
                                      dir_ + "/safs-format.log", seconds(120));
    REQUIRE_MESSAGE(datastore.ok(), "safs format: " << describe(datastore));
  }

  ~HostDriverServer() override {
    driver_.reset();  // SIGKILL if still running
    shelf_->signal(SIGTERM);
    if (!wait_exit(*shelf_, kStopLimit)) shelf_->signal(SIGKILL);
  }

  std::string name() const override { return "hostdriver"; }

  std::string start() override {
    REQUIRE(driver_ == nullptr);
    const std::string log = dir_ + "/hostdriver-" + std::to_string(++starts_) + ".log";
    // The first start lets the OS pick the ports (0); restarts reuse them, so a mounted client
    // reconnects to the same address.
    driver_ = std::make_unique<ChildProcess>(
        HOSTDRIVER_BINARY,
        std::vector<std::string>{"--shelf", shelf_address(), "--datastore", kDatastore, "--listen",
                                 "127.0.0.1", "--nfs-port", std::to_string(nfs_port_),
                                 "--mount-port", std::to_string(mount_port_), "--export",
                                 kExportPath, "--clients", "127.0.0.1", "--no-root-squash"},
        log);
    log_ = log;
    std::string url;
    bool exited = false;
    const bool serving = wait_until(
        [&] {
          url = first_url_line(slurp(log));
          exited = url.empty() && driver_->exited();
          return !url.empty() || exited;
        },
        kServeLimit);
    if (exited) driver_.reset();
    REQUIRE_MESSAGE(serving, "hostdriver did not serve within " << kServeLimit.count() << " s:\n"
                                                                << last_lines(slurp(log), 40));
    REQUIRE_MESSAGE(!exited, "hostdriver exited instead of serving:\n"
                                 << last_lines(slurp(log), 40));
    nfs_port_ = url_port(url, "nfsport");
    mount_port_ = url_port(url, "mountport");
    return url;
  }

  void stop() override {
    REQUIRE(driver_ != nullptr);
    driver_->signal(SIGTERM);
    const bool exited = wait_exit(*driver_, kStopLimit);
    if (!exited) driver_->signal(SIGKILL);
    driver_.reset();
    REQUIRE_MESSAGE(exited, "hostdriver ignored SIGTERM for " << kStopLimit.count() << " s:\n"
                                                              << last_lines(slurp(log_), 40));
    const std::string output = slurp(log_);
    REQUIRE_MESSAGE(output.find("hostdriver stopped") != std::string::npos,
                    "hostdriver did not stop cleanly:\n"
                        << last_lines(output, 40));
    // A workload of ordinary applications gives a server no reason to log an error or to fail
    // a checkpoint (a failed checkpoint at close still ends in "hostdriver stopped").
    CHECK_MESSAGE(output.find("lvl=error") == std::string::npos, "hostdriver logged errors:\n"
                                                                     << last_lines(output, 40));
    CHECK_MESSAGE(output.find("checkpoint_failed") == std::string::npos,
                  "hostdriver failed a checkpoint:\n"
                      << last_lines(output, 40));
  }

  void crash() override {
    REQUIRE(driver_ != nullptr);
    driver_->signal(SIGKILL);
    CHECK(driver_->wait() == 128 + SIGKILL);
    driver_.reset();
  }

  void check_stored_data() override {
    REQUIRE(driver_ == nullptr);
    const Ran fsck = run_bounded({SAFS_BINARY, "fsck", "--shelf", shelf_address()},
                                 dir_ + "/safs-fsck.log", kFsckLimit);
    CHECK_MESSAGE(fsck.ok(), "safs fsck after the workload: " << describe(fsck));
  }

  std::string log_tail() const override {
    return log_.empty() ? "(not started)" : last_lines(slurp(log_), 20);
  }

  std::vector<std::string> client_prefix() const override { return {}; }

 private:
  std::string shelf_address() const { return "127.0.0.1:" + std::to_string(shelf_port_); }

  std::string write_shelf_config() const {
    std::ostringstream disks;
    for (int d = 0; d < kDisks; ++d) {
      disks << (d > 0 ? ", " : "") << R"({"path": ")" << dir_ << "/disk" << d
            << R"(.img", "size_bytes": )" << kDiskBytes << "}";
    }
    const std::string path = dir_ + "/shelf.json";
    std::ofstream(path) << R"({"cluster_id": 1, "shelf_id": 1, "listen": ")" << shelf_address()
                        << R"(", "disks": [)" << disks.str() << R"(], "nvram": {"path": ")" << dir_
                        << R"(/nvram.img", "size_bytes": )" << kNvramBytes
                        << R"(, "hosts_max": 4}, "index_dir": ")" << dir_
                        << R"(/index", "registers_path": ")" << dir_
                        << R"(/registers.log", "log_level": "warn"})";
    return path;
  }

  std::string dir_;
  uint16_t shelf_port_ = 0;
  uint16_t nfs_port_ = 0;
  uint16_t mount_port_ = 0;
  int starts_ = 0;
  std::string log_;
  std::unique_ptr<ChildProcess> shelf_;
  std::unique_ptr<ChildProcess> driver_;
};

class GaneshaServer final : public ExportServer {
 public:
  explicit GaneshaServer(const std::string& dir)
      : dir_(dir), netns_("sa-apps-" + std::to_string(::getpid())) {}

  ~GaneshaServer() override {
    const Ran stopped = script("stop");
    if (!stopped.ok()) MESSAGE("ganesha_netns.sh stop: " << describe(stopped));
  }

  std::string name() const override { return "ganesha"; }

  std::string start() override {
    const Ran started = script("start");
    REQUIRE_MESSAGE(started.ok(), "ganesha_netns.sh start: " << describe(started));
    const std::string url = first_url_line(started.output);
    REQUIRE_MESSAGE(!url.empty(), "ganesha_netns.sh printed no URL:\n" << started.output);
    return url;
  }

  void stop() override {
    const Ran stopped = script("stop");
    REQUIRE_MESSAGE(stopped.ok(), "ganesha_netns.sh stop: " << describe(stopped));
  }

  void crash() override {
    const Ran crashed = script("crash");
    REQUIRE_MESSAGE(crashed.ok(), "ganesha_netns.sh crash: " << describe(crashed));
  }

  void check_stored_data() override {}  // ganesha's VFS export is a plain directory

  std::string log_tail() const override {
    return last_lines(slurp(dir_ + "/ganesha/ganesha.log"), 20);
  }

  std::vector<std::string> client_prefix() const override {
    return {"nsenter", "--net=/run/netns/" + netns_};
  }

 private:
  Ran script(const std::string& command) {
    return run_bounded({"env", "GANESHA_NETNS=" + netns_, GANESHA_NETNS_SCRIPT, "--state",
                        dir_ + "/ganesha", command},
                       dir_ + "/ganesha-" + command + ".log", seconds(120));
  }

  std::string dir_;
  std::string netns_;
};

}  // namespace

std::unique_ptr<ExportServer> make_export_server(const std::string& dir) {
  const char* chosen = std::getenv("SPLITARRAY_NFS_APPS_SERVER");
  const std::string server = chosen != nullptr ? chosen : "hostdriver";
  REQUIRE_MESSAGE((server == "hostdriver" || server == "ganesha"),
                  "SPLITARRAY_NFS_APPS_SERVER must be hostdriver or ganesha, not " << server);
  if (server == "ganesha") return std::make_unique<GaneshaServer>(dir);
  return std::make_unique<HostDriverServer>(dir);
}

FuseMount::FuseMount(const ExportServer& server, const std::string& url, std::string mountpoint,
                     std::string log_path)
    : mountpoint_(std::move(mountpoint)), log_path_(std::move(log_path)) {
  std::filesystem::create_directories(mountpoint_);
  std::vector<std::string> args = server.client_prefix();
  args.insert(args.end(), {NFS_FUSE_BINARY, url, mountpoint_, "-f"});
  bridge_ = std::make_unique<ChildProcess>("/usr/bin/env", args, log_path_);
  bool exited = false;
  const std::string& path = mountpoint_;
  const bool mounted = wait_until(
      [&] {
        exited = bridge_->exited();
        return exited || is_mounted(path);
      },
      kMountLimit);
  if (exited) bridge_.reset();
  REQUIRE_MESSAGE((mounted && !exited), "nfs_fuse did not mount " << url << " on " << mountpoint_
                                                                  << ":\n"
                                                                  << slurp(log_path_));
}

FuseMount::~FuseMount() {
  if (bridge_ != nullptr) release(/*lazy_if_busy=*/true);
}

void FuseMount::unmount() {
  REQUIRE(bridge_ != nullptr);
  const bool clean = release(/*lazy_if_busy=*/true);
  CHECK_MESSAGE(clean, "unmounting " << mountpoint_ << " was not clean; nfs_fuse's log:\n"
                                     << last_lines(slurp(log_path_), 40));
}

bool FuseMount::release(bool lazy_if_busy) {
  const Ran unmounted =
      run_bounded({"fusermount3", "-u", mountpoint_}, log_path_ + ".unmount", seconds(30));
  if (!unmounted.ok() && lazy_if_busy) {
    MESSAGE("fusermount3 -u " << mountpoint_ << ": " << describe(unmounted) << "; detaching");
    run_bounded({"fusermount3", "-uz", mountpoint_}, log_path_ + ".unmount-lazy", seconds(30));
  }
  const bool exited = wait_exit(*bridge_, seconds(30));
  if (!exited) bridge_->signal(SIGKILL);  // a bridge stuck in a call to a dead server
  bridge_.reset();
  return unmounted.ok() && exited;
}

}  // namespace splitarray::testing
