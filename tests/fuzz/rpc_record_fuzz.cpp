// tests/fuzz/rpc_record_fuzz.cpp
// libFuzzer target for what the NFS server reads from a TCP connection before any NFS procedure
// sees it: record marking (hostdriver/nfs/record_marking.h), the ONC RPC call header and its
// AUTH_SYS credentials (rpc_message.h), and the MOUNT and portmapper argument decoders.
//
// Input: the byte stream of one connection. It is cut into records exactly as RpcConnection does
// (fragment headers, limits); each complete record is decoded as a call and, if accepted and
// addressed to MOUNT or the portmapper, run through that program.
// Oracles (__builtin_trap): the assembler never holds more than kRecordBytesMax; an accepted call
// header re-encodes and decodes to the same fields; a program never answers PROG_MISMATCH and
// only encodes results when it answers SUCCESS.
#include <cstdint>
#include <span>
#include <vector>

#include "hostdriver/nfs/mount_program.h"
#include "hostdriver/nfs/portmap_program.h"
#include "hostdriver/nfs/record_marking.h"
#include "hostdriver/nfs/rpc_message.h"

namespace splitarray::fuzz {
namespace {

namespace nfs = hostdriver::nfs;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr size_t kRecordsPerInputMax = 64;

void check_reencode(const nfs::CallHeader& header) {
  nfs::XdrEncoder out;
  nfs::encode_call_header(out, header);
  nfs::XdrDecoder in(out.bytes());
  const nfs::DecodedCall again = nfs::decode_call(in);
  FUZZ_CHECK(again.verdict == nfs::CallVerdict::kAccept);
  FUZZ_CHECK(again.header.xid == header.xid);
  FUZZ_CHECK(again.header.program == header.program);
  FUZZ_CHECK(again.header.procedure == header.procedure);
  FUZZ_CHECK(again.header.credentials.uid == header.credentials.uid);
  FUZZ_CHECK(again.header.credentials.gids == header.credentials.gids);
  FUZZ_CHECK(again.header.credentials.machine == header.credentials.machine);
  FUZZ_CHECK(in.at_end());
}

void run_program(nfs::RpcProgram& program, const nfs::CallHeader& header,
                 std::span<const uint8_t> args) {
  asio::io_context io;
  nfs::RpcCall call{.xid = header.xid,
                    .program = header.program,
                    .version = header.version,
                    .procedure = header.procedure,
                    .credentials = header.credentials,
                    .peer = Address{"127.0.0.1", 1},
                    .connection_id = 1,
                    .args = args};
  nfs::XdrEncoder results;
  nfs::AcceptStat stat = nfs::AcceptStat::kSystemErr;
  asio::co_spawn(io, program.call(call, results),
                 [&stat](std::exception_ptr error, nfs::AcceptStat answered) {
                   FUZZ_CHECK(!error);
                   stat = answered;
                 });
  io.run();
  FUZZ_CHECK(stat != nfs::AcceptStat::kProgMismatch);
  FUZZ_CHECK(stat != nfs::AcceptStat::kSystemErr);
  if (stat != nfs::AcceptStat::kSuccess) FUZZ_CHECK(results.size() == 0);
}

void handle_record(std::span<const uint8_t> record) {
  nfs::XdrDecoder in(record);
  const nfs::DecodedCall call = nfs::decode_call(in);
  if (call.verdict != nfs::CallVerdict::kAccept) return;
  check_reencode(call.header);
  nfs::Export exported;
  exported.clients = {nfs::ClientNetwork::parse("127.0.0.1").value()};
  nfs::MountProgram mount({nfs::MountedExport{exported, std::vector<uint8_t>(44, 1)}});
  nfs::PortmapProgram portmap({nfs::PortMapping{.program = 100003, .version = 3, .port = 2049}});
  if (call.header.program == nfs::kMountProgram && call.header.version >= 1 &&
      call.header.version <= 3) {
    run_program(mount, call.header, in.rest());
  } else if (call.header.program == nfs::kPortmapProgram && call.header.version == 2) {
    run_program(portmap, call.header, in.rest());
  }
}

}  // namespace
}  // namespace splitarray::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace splitarray;
  using namespace splitarray::fuzz;
  std::span<const uint8_t> stream(data, size);
  nfs::RecordAssembler assembler;
  for (size_t records = 0; records < kRecordsPerInputMax;) {
    if (stream.size() < nfs::kRecordHeaderBytes) return 0;
    const auto header = nfs::parse_fragment_header(stream.first<nfs::kRecordHeaderBytes>());
    stream = stream.subspan(nfs::kRecordHeaderBytes);
    auto length = assembler.begin_fragment(header);
    if (!length.ok()) return 0;  // the connection would be closed
    FUZZ_CHECK(assembler.record().size() <= nfs::kRecordBytesMax);
    if (*length > stream.size()) return 0;  // the peer stopped mid-fragment
    auto space = assembler.fragment_space();
    FUZZ_CHECK(space.size() == *length);
    std::copy(stream.begin(), stream.begin() + *length, space.begin());
    stream = stream.subspan(*length);
    if (assembler.complete()) {
      handle_record(assembler.record());
      assembler.reset();
      ++records;
    }
  }
  return 0;
}
