// arrayctl: administer the array from the command line (DESIGN.md §1, §8, §9).
//   arrayctl status [--shelf HOST:PORT] [--json]
// The shelf defaults to $SPLITARRAY_SHELF, else 127.0.0.1:20100 (the local cluster scripts/run
// starts). Exit: 0 done, 1 the shelf could not be reached or answered an error, 2 usage.
#include <utility>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/env_asio/asio_env.h"
#include "hostdriver/arrayctl/status_collect.h"
#include "hostdriver/arrayctl/status_report.h"
#include "protocol/shelf_client.h"

namespace splitarray::hostdriver::arrayctl {
namespace {

constexpr const char* kDefaultShelf = "127.0.0.1:20100";
constexpr const char* kShelfEnvVar = "SPLITARRAY_SHELF";
constexpr Duration kRequestTimeout = std::chrono::seconds(10);

constexpr const char* kUsage =
    "usage: arrayctl <command> [options]\n"
    "commands:\n"
    "  status [--shelf HOST:PORT] [--json]   the shelf, disks, NVRAM, hosts and datastores\n"
    "the shelf defaults to $SPLITARRAY_SHELF, else 127.0.0.1:20100\n";

struct Args {
  std::string command;
  Address shelf;
  bool json = false;
};

int usage(const char* message) {
  std::fprintf(stderr, "arrayctl: %s\n%s", message, kUsage);
  return 2;
}

// Returns an error message, or nullptr when the arguments are good.
const char* parse(int argc, char** argv, Args& args) {
  if (argc < 2) return "no command";
  args.command = argv[1];
  if (args.command != "status") return "unknown command";
  const char* from_env = std::getenv(kShelfEnvVar);
  std::string shelf = from_env != nullptr && *from_env != '\0' ? from_env : kDefaultShelf;
  bool shelf_from_env = from_env != nullptr && *from_env != '\0';
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--shelf" && i + 1 < argc) {
      shelf = argv[++i];
      shelf_from_env = false;
    } else if (arg == "--json") {
      args.json = true;
    } else {
      return "unknown option";
    }
  }
  auto address = Address::parse(shelf);
  if (!address.ok())
    return shelf_from_env ? "bad $SPLITARRAY_SHELF address" : "bad --shelf address";
  args.shelf = std::move(address).value();
  return nullptr;
}

Task<int> run_status(Env& env, Args args) {
  const std::string where = args.shelf.to_string();
  protocol::RpcClientOptions options;
  options.default_timeout = kRequestTimeout;
  auto connected = co_await protocol::ShelfClient::connect(env, args.shelf, options);
  if (!connected.ok()) {
    std::fprintf(stderr, "arrayctl: cannot reach the shelf at %s: %s\n", where.c_str(),
                 connected.error().to_string().c_str());
    co_return 1;
  }
  std::unique_ptr<protocol::ShelfClient> shelf = std::move(connected).value();
  auto snapshot = co_await collect_status(env, *shelf, where);
  co_await shelf->close();
  if (!snapshot.ok()) {
    std::fprintf(stderr, "arrayctl: cannot reach the shelf at %s: %s\n", where.c_str(),
                 snapshot.error().to_string().c_str());
    co_return 1;
  }
  const std::string text = args.json ? render_json(*snapshot) : render_table(*snapshot);
  std::fwrite(text.data(), 1, text.size(), stdout);
  co_return 0;
}

}  // namespace
}  // namespace splitarray::hostdriver::arrayctl

int main(int argc, char** argv) {
  using namespace splitarray;
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0)) {
    std::fputs(hostdriver::arrayctl::kUsage, stdout);
    return 0;
  }
  hostdriver::arrayctl::Args args;
  if (const char* problem = hostdriver::arrayctl::parse(argc, argv, args)) {
    return hostdriver::arrayctl::usage(problem);
  }
  asio::io_context io;
  int exit_code = 1;
  {
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = 1,
                                        .blocking_io_threads = 1,
                                        .bulk_send_threads = 0,
                                        .log_level = LogLevel::kError,
                                        .component = "arrayctl"});
    asio::co_spawn(io, hostdriver::arrayctl::run_status(asio_env.env(), std::move(args)),
                   [&exit_code](std::exception_ptr error, int code) {
                     if (error) std::rethrow_exception(error);
                     exit_code = code;
                   });
    io.run();
  }
  std::fflush(stdout);
  return exit_code;
}
