// netshelf: the shelf process.
//   netshelf format --config shelf.json [--force]   create the shelf's disks, NVRAM, index,
//   registers netshelf --config shelf.json                     serve it over the protocol until
//   SIGTERM/SIGINT
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish and reply, flush, exit 0.
// Everything acknowledged is durable before its reply, so kill -9 at any moment loses nothing
// acknowledged.
#include <utility>

#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/async/task_group.h"
#include "common/env_asio/asio_env.h"
#include "netshelf/service/shelf.h"
#include "netshelf/service/shelf_handler.h"

namespace splitarray::netshelf {
namespace {

struct Args {
  bool format = false;
  bool force = false;
  std::string config;
};

int usage(const char* message) {
  std::fprintf(stderr,
               "netshelf: %s\nusage: netshelf format --config FILE [--force]\n"
               "       netshelf --config FILE\n",
               message);
  return 2;
}

bool parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "format" && i == 1) {
      args.format = true;
    } else if (arg == "--force") {
      args.force = true;
    } else if (arg == "--config" && i + 1 < argc) {
      args.config = argv[++i];
    } else {
      return false;
    }
  }
  return !args.config.empty();
}

Task<int> run_format(Env& env, const ShelfConfig& config, bool force) {
  Result<void> formatted = co_await Shelf::format(env, config, force);
  if (!formatted.ok()) {
    env.log.error("shelf.format_failed", {{"error", formatted.error().to_string()}});
    co_return 1;
  }
  env.log.info("shelf.formatted", {{"disks", config.disks.size()},
                                   {"nvram", config.nvram.path},
                                   {"cluster", config.cluster_id.value()},
                                   {"shelf", config.shelf_id.value()}});
  co_return 0;
}

Task<int> run_serve(Env& env, ShelfConfig config) {
  auto shelf = co_await Shelf::open(env, config);
  if (!shelf.ok()) {
    env.log.error("shelf.open_failed", {{"error", shelf.error().to_string()}});
    co_return 1;
  }
  ShelfHandler handler(env, **shelf);
  protocol::RpcServerOptions options;
  options.connections_max = config.connections_max;
  options.inflight_per_connection_max = config.inflight_per_connection_max;
  protocol::RpcServer server(env, handler, options);
  auto bound = server.listen(config.listen);
  if (!bound.ok()) {
    env.log.error("shelf.listen_failed", {{"error", bound.error().to_string()}});
    co_await (*shelf)->close();
    co_return 1;
  }
  asio::signal_set signals(env.io, SIGTERM, SIGINT);
  signals.async_wait([&server, &env](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    env.log.info("shelf.stopping", {{"signal", signal_number}});
    server.stop();
  });
  env.log.info("shelf.serving", {{"address", bound->to_string()},
                                 {"disks", config.disks.size()},
                                 {"nvram_hosts", (*shelf)->nvram().hosts().size()}});
  co_await server.serve();
  signals.cancel();
  co_await (*shelf)->close();
  env.log.info("shelf.stopped", {});
  co_return 0;
}

Task<int> run(Env& env, Args args) {
  auto config = co_await load_shelf_config(env, args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "netshelf: %s\n", config.error().message.c_str());
    co_return 2;
  }
  if (args.format) co_return co_await run_format(env, *config, args.force);
  co_return co_await run_serve(env, std::move(config).value());
}

}  // namespace
}  // namespace splitarray::netshelf

int main(int argc, char** argv) {
  using namespace splitarray;
  netshelf::Args args;
  if (!netshelf::parse_args(argc, argv, args)) return netshelf::usage("bad arguments");
  asio::io_context io;
  int exit_code = 1;
  {
    // Log level comes from the config, which is read through the Env: start at info.
    AsioEnv asio_env(io, AsioEnvOptions{.log_level = LogLevel::kInfo, .component = "netshelf"});
    asio::co_spawn(io, netshelf::run(asio_env.env(), args),
                   [&exit_code](std::exception_ptr error, int code) {
                     if (error) std::rethrow_exception(error);
                     exit_code = code;
                   });
    io.run();
  }
  return exit_code;
}
