// tests/unit/hostdriver/nfs/rpc_pure_test.cpp
// The pure parts of the RPC layer: record marking limits, call header decoding, the duplicate
// request cache, and the MOUNT program's answers.
#include <doctest/doctest.h>

#include "hostdriver/nfs/duplicate_request_cache.h"
#include "hostdriver/nfs/mount_program.h"
#include "hostdriver/nfs/record_marking.h"
#include "hostdriver/nfs/rpc_message.h"
#include "tests/support/run.h"
#include "tests/unit/hostdriver/nfs/rpc_test_client.h"

namespace splitarray::hostdriver::nfs {

TEST_CASE("hostdriver/nfs/record_marking: fragments assemble and limits hold") {
  RecordAssembler assembler(100, 3);
  auto first = assembler.begin_fragment({.last = false, .length = 40});
  REQUIRE(first.ok());
  CHECK(*first == 40);
  CHECK(assembler.fragment_space().size() == 40);
  CHECK_FALSE(assembler.complete());
  auto second = assembler.begin_fragment({.last = true, .length = 60});
  REQUIRE(second.ok());
  CHECK(assembler.complete());
  CHECK(assembler.record().size() == 100);
  assembler.reset();

  // 101 bytes in total is over the limit, refused before anything is allocated.
  REQUIRE(assembler.begin_fragment({.last = false, .length = 50}).ok());
  auto over = assembler.begin_fragment({.last = true, .length = 51});
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Code::kProtocol);
  CHECK(assembler.record().size() == 50);
  assembler.reset();

  // Empty fragments count: the fourth is refused.
  for (int i = 0; i < 3; ++i) REQUIRE(assembler.begin_fragment({.last = false, .length = 0}).ok());
  CHECK_FALSE(assembler.begin_fragment({.last = false, .length = 0}).ok());

  const auto header = record_header(1234);
  const FragmentHeader parsed = parse_fragment_header(header);
  CHECK(parsed.last);
  CHECK(parsed.length == 1234);
}

TEST_CASE("hostdriver/nfs/rpc_message: call headers decode, bad ones get the right verdict") {
  const Credentials sys{
      .flavor = kAuthSys, .uid = 1000, .gid = 100, .gids = {4, 24, 27}, .machine = "esx01"};
  const auto body =
      rpc_test::call_body(0xABCD, 100003, 3, 6, std::vector<uint8_t>{1, 2, 3, 4}, sys);
  XdrDecoder in(body);
  DecodedCall call = decode_call(in);
  REQUIRE(call.verdict == CallVerdict::kAccept);
  CHECK(call.header.xid == 0xABCD);
  CHECK(call.header.program == 100003);
  CHECK(call.header.version == 3);
  CHECK(call.header.procedure == 6);
  CHECK(call.header.credentials.uid == 1000);
  CHECK(call.header.credentials.gid == 100);
  CHECK(call.header.credentials.gids == std::vector<uint32_t>{4, 24, 27});
  CHECK(call.header.credentials.machine == "esx01");
  CHECK(in.remaining() == 4);

  // Every truncation of the header is a drop or a bad credential, never an accepted call.
  for (size_t cut = 0; cut + 4 < body.size(); ++cut) {
    XdrDecoder shorter(std::span<const uint8_t>(body).first(cut));
    const DecodedCall truncated = decode_call(shorter);
    CHECK_MESSAGE(truncated.verdict != CallVerdict::kAccept, "cut at " << cut);
  }
  // An AUTH_SYS body with trailing bytes inside the credential is malformed.
  XdrEncoder forged;
  for (uint32_t word : {1u, kMsgCall, kRpcVersion, 100003u, 3u, 0u, kAuthSys, 24u, 0u, 0u, 1u, 1u,
                        0u, 99u, 0u, 0u}) {
    forged.u32(word);
  }
  XdrDecoder forged_in(forged.bytes());
  CHECK(decode_call(forged_in).verdict == CallVerdict::kBadCred);
  // A reply is not a call.
  XdrEncoder reply;
  reply.u32(5);
  reply.u32(kMsgReply);
  XdrDecoder reply_in(reply.bytes());
  CHECK(decode_call(reply_in).verdict == CallVerdict::kDrop);
}

TEST_CASE("hostdriver/nfs/duplicate_request_cache: replays, in-progress drops, bounded") {
  DuplicateRequestCache cache(2, 16);
  auto key = [](uint32_t xid) {
    return DrcKey{.client = "10.0.0.1",
                  .xid = xid,
                  .program = 100003,
                  .version = 3,
                  .procedure = 8,
                  .args_crc = 0};
  };
  CHECK(cache.begin(key(1)).verdict == DrcVerdict::kNew);
  CHECK(cache.begin(key(1)).verdict == DrcVerdict::kInProgress);
  const std::vector<uint8_t> reply = {1, 2, 3};
  cache.finish(key(1), reply);
  DrcLookup replay = cache.begin(key(1));
  CHECK(replay.verdict == DrcVerdict::kReplay);
  CHECK(replay.reply == reply);

  // Same xid from another client, or other arguments: a different call.
  DrcKey other_client = key(1);
  other_client.client = "10.0.0.2";
  CHECK(cache.begin(other_client).verdict == DrcVerdict::kNew);
  cache.abandon(other_client);
  DrcKey other_args = key(1);
  other_args.args_crc = 5;
  CHECK(cache.begin(other_args).verdict == DrcVerdict::kNew);
  cache.abandon(other_args);

  // Too large to cache: forgotten, so a retry executes again.
  CHECK(cache.begin(key(2)).verdict == DrcVerdict::kNew);
  cache.finish(key(2), std::vector<uint8_t>(17, 0));
  CHECK(cache.begin(key(2)).verdict == DrcVerdict::kNew);
  cache.finish(key(2), reply);
  // A third finished entry evicts the least recently used (key 1 was used after key 2? no:
  // key 1 replayed before key 2 finished, so key 1 is the oldest).
  CHECK(cache.begin(key(3)).verdict == DrcVerdict::kNew);
  cache.finish(key(3), reply);
  CHECK(cache.entries() == 2);
  CHECK(cache.stats().evictions == 1);
  CHECK(cache.begin(key(1)).verdict == DrcVerdict::kNew);
  cache.abandon(key(1));
  CHECK(cache.begin(key(2)).verdict == DrcVerdict::kReplay);
  CHECK(cache.stats().too_large == 1);
}

namespace {

struct MountCall {
  AcceptStat stat;
  std::vector<uint8_t> results;
};

MountCall mount_call(MountProgram& program, uint32_t version, uint32_t procedure,
                     std::span<const uint8_t> args, const char* peer = "127.0.0.1") {
  asio::io_context io;
  RpcCall call{.xid = 1,
               .program = kMountProgram,
               .version = version,
               .procedure = procedure,
               .credentials = {},
               .peer = Address{peer, 700},
               .connection_id = 1,
               .args = args};
  XdrEncoder results;
  const AcceptStat stat = testing::run_task(io, program.call(call, results));
  return MountCall{stat, results.take()};
}

std::vector<uint8_t> path_args(std::string_view path) {
  XdrEncoder out;
  out.string(path);
  return out.take();
}

}  // namespace

TEST_CASE("hostdriver/nfs/mount: MNT, DUMP, UMNT, EXPORT and their refusals") {
  Export exported;
  exported.path = "/default";
  exported.clients = {ClientNetwork::parse("127.0.0.0/8").value()};
  const std::vector<uint8_t> root = {9, 9, 9, 9};
  MountProgram program({MountedExport{exported, root}});

  MountCall mnt = mount_call(program, 3, kMountMnt, path_args("/default/"));
  REQUIRE(mnt.stat == AcceptStat::kSuccess);
  XdrDecoder ok(mnt.results);
  CHECK(ok.u32() == 0);
  CHECK(ok.opaque(64) == root);
  CHECK(ok.u32() == 1);
  CHECK(ok.u32() == kAuthSys);
  CHECK(ok.at_end());

  auto status_of = [](const MountCall& reply) {
    XdrDecoder in(reply.results);
    return in.u32();
  };
  CHECK(status_of(mount_call(program, 3, kMountMnt, path_args("/other"))) == 2);  // NOENT
  CHECK(status_of(mount_call(program, 3, kMountMnt, path_args("/default"), "10.0.0.1")) == 13);
  CHECK(status_of(mount_call(program, 3, kMountMnt, path_args(std::string(1500, 'a')))) == 63);
  CHECK(status_of(mount_call(program, 1, kMountMnt, path_args("/default"))) ==
        kMountV1NotSupported);
  CHECK(mount_call(program, 3, kMountMnt, std::vector<uint8_t>{0, 0}).stat ==
        AcceptStat::kGarbageArgs);
  CHECK(mount_call(program, 3, 9, {}).stat == AcceptStat::kProcUnavail);

  MountCall dump = mount_call(program, 3, kMountDump, {});
  XdrDecoder listed(dump.results);
  CHECK(listed.boolean());
  CHECK(listed.string(255) == "127.0.0.1");
  CHECK(listed.string(1024) == "/default");
  CHECK_FALSE(listed.boolean());

  MountCall exports = mount_call(program, 3, kMountExport, {});
  XdrDecoder shown(exports.results);
  CHECK(shown.boolean());
  CHECK(shown.string(1024) == "/default");
  CHECK(shown.boolean());
  CHECK(shown.string(255) == "127.0.0.0/8");
  CHECK_FALSE(shown.boolean());
  CHECK_FALSE(shown.boolean());

  CHECK(mount_call(program, 3, kMountUmnt, path_args("/default")).stat == AcceptStat::kSuccess);
  const MountCall after_umnt = mount_call(program, 3, kMountDump, {});
  XdrDecoder empty(after_umnt.results);  // the decoder borrows the bytes: keep them alive
  CHECK_FALSE(empty.boolean());
  CHECK(program.stats().mounts == 1);
  CHECK(program.stats().refused == 4);
}

}  // namespace splitarray::hostdriver::nfs
