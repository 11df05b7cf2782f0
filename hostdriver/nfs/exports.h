// hostdriver/nfs/exports.h
// What a host driver exports and to whom: the export path clients mount, the client address
// allow-list checked on every call, read-only or read-write, and root squashing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/result.h"
#include "hostdriver/nfs/rpc_program.h"

namespace splitarray::hostdriver::nfs {

inline constexpr size_t kExportPathBytesMax = 1024;  // MNTPATHLEN
inline constexpr size_t kExportClientsMax = 64;

// An IPv4 network (a.b.c.d/len); "*" is 0.0.0.0/0.
struct ClientNetwork {
  uint32_t address = 0;  // host byte order
  uint8_t prefix_bits = 32;
  // Parses "a.b.c.d", "a.b.c.d/len" or "*".
  static Result<ClientNetwork> parse(std::string_view text);
  bool contains(uint32_t ipv4) const;
  std::string to_string() const;
};

struct Export {
  std::string path = "/default";       // what clients mount; starts with '/'
  std::vector<ClientNetwork> clients;  // allowed client addresses; empty allows nobody
  bool read_only = false;
  bool root_squash = true;  // uid 0 becomes anon_uid (no_root_squash: ESXi needs root)
  uint32_t anon_uid = kUidNobody;
  uint32_t anon_gid = kGidNobody;

  // True when `peer` (an IPv4 literal; IPv4-mapped IPv6 accepted) is in `clients`.
  bool allows(const Address& peer) const;
  // The credentials the export grants: uid/gid 0 squashed to anon unless no_root_squash;
  // AUTH_NONE callers are anon.
  Credentials effective(const Credentials& sent) const;
};

// Parses an IPv4 literal (or an IPv4-mapped IPv6 "::ffff:a.b.c.d") to host byte order.
Result<uint32_t> parse_ipv4(std::string_view text);

}  // namespace splitarray::hostdriver::nfs
