// tests/fuzz/make_rpc_record_seeds.cpp
// Writes the seed corpus of rpc_record_fuzz (corpus/rpc_record/): connection streams holding
// well-formed calls to every MOUNT and portmapper procedure (AUTH_SYS and AUTH_NONE), a call split
// into several fragments, and several calls back to back.
// usage: make_rpc_record_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hostdriver/nfs/mount_program.h"
#include "hostdriver/nfs/portmap_program.h"
#include "hostdriver/nfs/record_marking.h"
#include "hostdriver/nfs/rpc_message.h"

namespace nfs = splitarray::hostdriver::nfs;

namespace {

std::vector<uint8_t> call(uint32_t xid, uint32_t program, uint32_t version, uint32_t procedure,
                          const std::vector<uint8_t>& args, bool auth_sys) {
  nfs::CallHeader header{.xid = xid,
                         .program = program,
                         .version = version,
                         .procedure = procedure,
                         .credentials = {}};
  if (auth_sys) {
    header.credentials = nfs::Credentials{
        .flavor = nfs::kAuthSys, .uid = 1000, .gid = 100, .gids = {4, 27}, .machine = "seed"};
  }
  nfs::XdrEncoder out;
  nfs::encode_call_header(out, header);
  out.fixed(args);
  return out.take();
}

// `body` as a record of `fragments` fragments.
std::vector<uint8_t> record(const std::vector<uint8_t>& body, size_t fragments) {
  std::vector<uint8_t> stream;
  const size_t step = (body.size() + fragments - 1) / fragments;
  for (size_t at = 0; at < body.size(); at += step) {
    const size_t length = std::min(step, body.size() - at);
    const bool last = at + length == body.size();
    const uint32_t word = static_cast<uint32_t>(length) | (last ? nfs::kLastFragmentBit : 0);
    for (int shift = 24; shift >= 0; shift -= 8) stream.push_back(uint8_t(word >> shift));
    stream.insert(stream.end(), body.begin() + at, body.begin() + at + length);
  }
  return stream;
}

std::vector<uint8_t> path(const char* text) {
  nfs::XdrEncoder out;
  out.string(text);
  return out.take();
}

std::vector<uint8_t> mapping() {
  nfs::XdrEncoder out;
  for (uint32_t word : {100003u, 3u, nfs::kProtocolTcp, 0u}) out.u32(word);
  return out.take();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_rpc_record_seeds DIR\n");
    return 2;
  }
  std::vector<std::vector<uint8_t>> seeds;
  for (uint32_t version : {1u, 3u}) {
    for (uint32_t procedure = 0; procedure <= 5; ++procedure) {
      const bool has_path = procedure == nfs::kMountMnt || procedure == nfs::kMountUmnt;
      const auto args = has_path ? path("/default") : std::vector<uint8_t>{};
      seeds.push_back(record(
          call(procedure + 1, nfs::kMountProgram, version, procedure, args, version == 3), 1));
    }
  }
  for (uint32_t procedure = 0; procedure <= 4; ++procedure) {
    const bool has_mapping = procedure >= 1 && procedure <= 3;
    const auto args = has_mapping ? mapping() : std::vector<uint8_t>{};
    seeds.push_back(
        record(call(procedure + 50, nfs::kPortmapProgram, 2, procedure, args, true), 1));
  }
  seeds.push_back(
      record(call(7, nfs::kMountProgram, 3, nfs::kMountMnt, path("/default"), true), 5));
  std::vector<uint8_t> several;
  for (uint32_t xid = 0; xid < 3; ++xid) {
    const auto one = record(call(xid, nfs::kMountProgram, 3, nfs::kMountExport, {}, false), 1);
    several.insert(several.end(), one.begin(), one.end());
  }
  seeds.push_back(several);

  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string name = std::string(argv[1]) + "/seed-" + std::to_string(i);
    std::ofstream file(name, std::ios::binary);
    file.write(reinterpret_cast<const char*>(seeds[i].data()), std::streamsize(seeds[i].size()));
    if (!file) {
      std::fprintf(stderr, "cannot write %s\n", name.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}
