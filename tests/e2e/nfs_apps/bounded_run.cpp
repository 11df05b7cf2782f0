// tests/e2e/nfs_apps/bounded_run.cpp
#include "tests/e2e/nfs_apps/bounded_run.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/assert.h"
#include "tests/e2e/support_process.h"

namespace splitarray::testing {
namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

Ran run_bounded(const std::vector<std::string>& argv, const std::string& log_path, seconds limit) {
  ASSERT(!argv.empty());
  ASSERT(limit.count() > 0);
  // The log is replaced, so it must be a file of ours: never /dev/null or another special file.
  ASSERT_MSG(!std::filesystem::exists(log_path) || std::filesystem::is_regular_file(log_path),
             "a command's log must be a regular file");
  std::filesystem::remove(log_path);
  std::vector<std::string> args{"timeout", "-k", "10", std::to_string(limit.count())};
  args.insert(args.end(), argv.begin(), argv.end());
  Ran ran;
  ran.status = run_program("/usr/bin/env", args, log_path);
  ran.output = slurp(log_path);
  return ran;
}

Ran run_script(const std::string& script, const std::string& log_path, seconds limit) {
  return run_bounded({"sh", "-ec", script}, log_path, limit);
}

bool wait_until(const std::function<bool()>& done, milliseconds limit, milliseconds poll) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(poll);
  }
}

std::string last_lines(const std::string& text, size_t lines) {
  // Step back over `lines` line ends, not counting the one that ends the text.
  size_t cut = !text.empty() && text.back() == '\n' ? text.size() - 1 : text.size();
  for (size_t i = 0; i < lines; ++i) {
    const size_t newline = cut == 0 ? std::string::npos : text.rfind('\n', cut - 1);
    if (newline == std::string::npos) return text;
    cut = newline;
  }
  return text.substr(cut + 1);
}

std::string describe(const Ran& ran, size_t lines) {
  const std::string what =
      ran.status == kTimedOut ? "timed out" : "status " + std::to_string(ran.status);
  return what + ", output:\n" + last_lines(ran.output, lines);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

std::string output_value(const std::string& output, const std::string& key) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof(address);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  ASSERT_MSG(bound, "cannot bind a TCP socket on 127.0.0.1");
  return ntohs(address.sin_port);
}

bool port_accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  const sockaddr_in address = loopback(port);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

bool is_mounted(const std::string& mountpoint) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // Fields: id parent major:minor root mountpoint ...
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < 5 && fields >> field; ++i) {
    }
    if (field == mountpoint) return true;
  }
  return false;
}

}  // namespace splitarray::testing
