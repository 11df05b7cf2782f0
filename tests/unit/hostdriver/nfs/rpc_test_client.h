// tests/unit/hostdriver/nfs/rpc_test_client.h
// A raw ONC RPC client over an Env stream for the server tests: builds call records byte by byte
// (so tests can also send broken ones) and reads reply records.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "common/env.h"
#include "hostdriver/nfs/record_marking.h"
#include "hostdriver/nfs/rpc_message.h"

namespace splitarray::hostdriver::nfs::rpc_test {

inline std::vector<uint8_t> call_body(uint32_t xid, uint32_t program, uint32_t version,
                                      uint32_t procedure, std::span<const uint8_t> args,
                                      Credentials credentials) {
  XdrEncoder out;
  encode_call_header(out, CallHeader{.xid = xid,
                                     .program = program,
                                     .version = version,
                                     .procedure = procedure,
                                     .credentials = std::move(credentials)});
  out.fixed(args);
  return out.take();
}

// With AUTH_SYS credentials of uid 1000. (No braced default argument: GCC 12 miscompiles those
// when the call sits inside a coroutine.)
inline std::vector<uint8_t> call_body(uint32_t xid, uint32_t program, uint32_t version,
                                      uint32_t procedure, std::span<const uint8_t> args) {
  Credentials user;
  user.flavor = kAuthSys;
  user.uid = 1000;
  user.gid = 1000;
  user.machine = "test";
  return call_body(xid, program, version, procedure, args, std::move(user));
}

// `body` as a record of `fragments` fragments (the last may be shorter).
inline std::vector<uint8_t> as_record(std::span<const uint8_t> body, size_t fragments = 1) {
  std::vector<uint8_t> record;
  const size_t step = fragments == 0 ? body.size() : (body.size() + fragments - 1) / fragments;
  size_t at = 0;
  do {
    const size_t length = std::min(step, body.size() - at);
    const bool last = at + length == body.size();
    const uint32_t word = static_cast<uint32_t>(length) | (last ? kLastFragmentBit : 0);
    for (int shift = 24; shift >= 0; shift -= 8)
      record.push_back(static_cast<uint8_t>(word >> shift));
    record.insert(record.end(), body.begin() + at, body.begin() + at + length);
    at += length;
  } while (at < body.size());
  return record;
}

struct Reply {
  uint32_t xid = 0;
  uint32_t reply_stat = 0;    // 0 accepted, 1 denied
  uint32_t accept_stat = 0;   // accepted: AcceptStat; denied: reject_stat
  std::vector<uint8_t> rest;  // results (accepted) or the denial's details
};

class RawClient {
 public:
  explicit RawClient(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}

  Task<Result<void>> send(std::span<const uint8_t> bytes) {
    const std::span<const uint8_t> buffers[1] = {bytes};
    co_return co_await stream_->write_all(buffers);
  }

  Task<Result<Reply>> receive() {
    std::vector<uint8_t> body;
    for (;;) {
      std::array<uint8_t, kRecordHeaderBytes> mark{};
      CO_RETURN_IF_ERROR(co_await stream_->read_exact(mark));
      const FragmentHeader header = parse_fragment_header(mark);
      const size_t at = body.size();
      body.resize(at + header.length);
      CO_RETURN_IF_ERROR(co_await stream_->read_exact(std::span(body).subspan(at)));
      if (header.last) break;
    }
    XdrDecoder in(body);
    Reply reply;
    reply.xid = in.u32();
    if (in.u32() != kMsgReply) co_return make_error(Code::kProtocol, "not a reply");
    reply.reply_stat = in.u32();
    if (reply.reply_stat == 0) {
      (void)in.u32();  // verifier
      in.skip_opaque(400);
    }
    reply.accept_stat = in.u32();
    if (!in.ok()) co_return make_error(Code::kProtocol, "short reply");
    reply.rest.assign(in.rest().begin(), in.rest().end());
    co_return reply;
  }

  Stream& stream() { return *stream_; }

 private:
  std::unique_ptr<Stream> stream_;
};

}  // namespace splitarray::hostdriver::nfs::rpc_test
