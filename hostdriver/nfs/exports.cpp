// hostdriver/nfs/exports.cpp
#include "hostdriver/nfs/exports.h"

#include <charconv>
#include <vector>

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {
namespace {

constexpr std::string_view kMappedPrefix = "::ffff:";

uint32_t mask_of(uint8_t prefix_bits) {
  ASSERT(prefix_bits <= 32);
  return prefix_bits == 0 ? 0 : ~uint32_t{0} << (32 - prefix_bits);
}

}  // namespace

Result<uint32_t> parse_ipv4(std::string_view text) {
  if (text.starts_with(kMappedPrefix)) text.remove_prefix(kMappedPrefix.size());
  if (text == "localhost") text = "127.0.0.1";
  uint32_t address = 0;
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (at == end || *at != '.') return make_error(Code::kInvalidArgument, "not an IPv4 address");
      ++at;
    }
    unsigned value = 0;
    auto [next, error] = std::from_chars(at, end, value);
    if (error != std::errc() || next == at || next - at > 3 || value > 255) {
      return make_error(Code::kInvalidArgument, "not an IPv4 address");
    }
    address = (address << 8) | value;
    at = next;
  }
  if (at != end) return make_error(Code::kInvalidArgument, "not an IPv4 address");
  return address;
}

Result<ClientNetwork> ClientNetwork::parse(std::string_view text) {
  if (text == "*") return ClientNetwork{.address = 0, .prefix_bits = 0};
  const size_t slash = text.find('/');
  auto address = parse_ipv4(text.substr(0, slash));
  if (!address.ok()) return std::move(address).take_error();
  uint8_t prefix_bits = 32;
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    unsigned value = 0;
    auto [next, error] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
    if (error != std::errc() || next != bits.data() + bits.size() || bits.empty() || value > 32) {
      return make_error(Code::kInvalidArgument, "bad network prefix length");
    }
    prefix_bits = static_cast<uint8_t>(value);
  }
  return ClientNetwork{.address = *address & mask_of(prefix_bits), .prefix_bits = prefix_bits};
}

bool ClientNetwork::contains(uint32_t ipv4) const {
  return (ipv4 & mask_of(prefix_bits)) == address;
}

std::string ClientNetwork::to_string() const {
  if (prefix_bits == 0) return "*";
  std::string text = std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) +
                     "." + std::to_string((address >> 8) & 255) + "." +
                     std::to_string(address & 255);
  if (prefix_bits != 32) text += "/" + std::to_string(prefix_bits);
  return text;
}

bool Export::allows(const Address& peer) const {
  auto address = parse_ipv4(peer.host);
  if (!address.ok()) return false;  // IPv6 clients: not in any IPv4 allow-list
  for (const ClientNetwork& network : clients) {
    if (network.contains(*address)) return true;
  }
  return false;
}

Credentials Export::effective(const Credentials& sent) const {
  Credentials granted = sent;
  if (sent.flavor != kAuthSys) {
    granted.uid = anon_uid;
    granted.gid = anon_gid;
    granted.gids.clear();
  } else if (root_squash) {
    // Like Linux's root_squash: uid 0 and gid 0 (also as a supplementary group) become anon.
    if (granted.uid == 0) granted.uid = anon_uid;
    if (granted.gid == 0) granted.gid = anon_gid;
    std::erase(granted.gids, 0u);
  }
  return granted;
}

}  // namespace splitarray::hostdriver::nfs
