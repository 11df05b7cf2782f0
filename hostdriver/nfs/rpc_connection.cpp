// hostdriver/nfs/rpc_connection.cpp
#include "hostdriver/nfs/rpc_connection.h"

#include "common/crc32c.h"
#include "common/write_batch.h"

namespace splitarray::hostdriver::nfs {
namespace {

// The record mark plus an accepted reply's header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier,
// accept_stat): reserved in front of the results so a successful reply is never copied.
constexpr size_t kReplyPrefixWords = 1 + 6;
// The DRC keys a call by a CRC of at most this many argument bytes (handles, names, offsets:
// what tells two calls with one xid apart; not a WRITE's whole payload).
constexpr size_t kDrcArgsCrcBytes = 512;
// Replies that finished while the previous write was in progress leave together in one write
// (one sendmsg instead of one each: at queue depth 16 the per-reply syscall and loopback wake-up
// were a large share of the event loop). Bounded so one batch never holds more than a few
// small replies' worth of memory beyond the first reply, which goes alone if large (a READ).
constexpr size_t kReplyBatchMax = 32;
constexpr size_t kReplyBatchBytesMax = 256 * 1024;
// Receive buffer per connection: holds sixteen 4 KiB WRITE calls, so a client's pipelined calls
// arrive with one receive (and are dispatched together, before any of them runs).
constexpr size_t kReceiveBufferBytes = 128 * 1024;

std::vector<uint8_t> finish_record(XdrEncoder&& out) {
  std::vector<uint8_t> bytes = out.take();
  ASSERT(bytes.size() > kRecordHeaderBytes);
  const auto header = record_header(static_cast<uint32_t>(bytes.size() - kRecordHeaderBytes));
  std::copy(header.begin(), header.end(), bytes.begin());
  return bytes;
}

// A reply without results (every non-success accept_stat, and denials).
template <class Encode>
std::vector<uint8_t> small_reply(Encode encode) {
  XdrEncoder out;
  (void)out.reserve_u32();  // record mark
  encode(out);
  return finish_record(std::move(out));
}

}  // namespace

RpcConnection::RpcConnection(OncRpcServer& server, uint64_t id, std::unique_ptr<Stream> stream)
    : server_(server),
      id_(id),
      peer_(stream->peer_address()),
      stream_(std::move(stream)),
      input_(*stream_, kReceiveBufferBytes) {}

Task<void> RpcConnection::run() {
  writer_.spawn(server_.env_.executor(), write_loop());
  co_await read_loop();
  co_await calls_.join();
  closing_ = true;
  outbox_ready_.notify();
  co_await writer_.join();
  stream_->close();
}

Task<void> RpcConnection::read_loop() {
  for (;;) {
    while (inflight_ >= server_.options_.inflight_per_connection_max) {
      co_await slot_freed_.wait();
    }
    if (read_stopped_) co_return;
    Result<void> record = co_await read_record();
    if (!record.ok()) {
      if (record.code() == Code::kProtocol || record.code() == Code::kTimeout) {
        ++server_.stats_.connections_closed_for_errors;
        server_.env_.log.warn(
            "nfs.rpc.connection_closed",
            {{"conn", id_}, {"peer", peer_.to_string()}, {"error", record.error().to_string()}});
      }
      co_return;
    }
    if (read_stopped_) co_return;  // stopped while this record was read
    std::vector<uint8_t> bytes = std::move(assembler_.record());
    assembler_.reset();
    if (!dispatch(std::move(bytes))) {
      ++server_.stats_.connections_closed_for_errors;
      co_return;
    }
  }
}

TimerId RpcConnection::arm_read_timer(Duration timeout, bool& fired) {
  Clock& clock = server_.env_.clock;
  return clock.call_at(clock.now() + timeout, [this, &fired] {
    fired = true;
    stream_->shutdown_read();  // the pending read fails; replies can still be written
  });
}

Task<Result<void>> RpcConnection::read_record() {
  Clock& clock = server_.env_.clock;
  // Invariant (4): only an idle connection (nothing executing) times out between records. A timer
  // is armed only when the bytes needed are not already buffered (the common case when a client
  // pipelines: no timer per record).
  bool idle_fired = false;
  const TimerId idle_timer = inflight_ == 0 && input_.buffered() < kRecordHeaderBytes
                                 ? arm_read_timer(server_.options_.idle_timeout, idle_fired)
                                 : 0;
  std::array<uint8_t, kRecordHeaderBytes> mark{};
  Result<void> got = co_await input_.read_exact(mark);
  if (idle_timer != 0) clock.cancel(idle_timer);
  if (idle_fired) {
    ++server_.stats_.idle_closes;
    co_return make_error(Code::kCancelled, "idle connection closed");
  }
  CO_RETURN_IF_ERROR(std::move(got));

  bool stall_fired = false;
  TimerId stall_timer = 0;
  for (;;) {
    const FragmentHeader fragment = parse_fragment_header(mark);
    Result<uint32_t> length = assembler_.begin_fragment(fragment);
    if (!length.ok()) {
      if (stall_timer != 0) clock.cancel(stall_timer);
      co_return std::move(length).take_error();
    }
    // Bytes still to read before the record is complete or the next header is known.
    const size_t needed = size_t{*length} + (fragment.last ? 0 : kRecordHeaderBytes);
    if (stall_timer == 0 && input_.buffered() < needed) {
      stall_timer = arm_read_timer(server_.options_.partial_record_timeout, stall_fired);
    }
    got = co_await input_.read_exact(assembler_.fragment_space());
    if (got.ok() && !assembler_.complete()) got = co_await input_.read_exact(mark);
    if (!got.ok() || assembler_.complete()) break;
  }
  if (stall_timer != 0) clock.cancel(stall_timer);
  if (stall_fired) co_return make_error(Code::kTimeout, "peer stalled inside a record");
  co_return got;
}

bool RpcConnection::dispatch(std::vector<uint8_t> record) {
  XdrDecoder in(record);
  DecodedCall call = decode_call(in);
  const uint32_t xid = call.header.xid;
  OncRpcServerStats& stats = server_.stats_;
  switch (call.verdict) {
    case CallVerdict::kDrop:
      return false;
    case CallVerdict::kRpcMismatch:
      ++stats.auth_errors;
      send(small_reply([xid](XdrEncoder& out) { encode_rpc_mismatch(out, xid); }));
      return true;
    case CallVerdict::kBadCred:
    case CallVerdict::kTooWeak: {
      ++stats.auth_errors;
      const AuthStat stat =
          call.verdict == CallVerdict::kBadCred ? AuthStat::kBadCred : AuthStat::kTooWeak;
      send(small_reply([xid, stat](XdrEncoder& out) { encode_auth_error(out, xid, stat); }));
      return true;
    }
    case CallVerdict::kAccept:
      break;
  }
  ++stats.calls;
  const CallHeader& header = call.header;
  RpcProgram* program = server_.find_program(header.program);
  if (program == nullptr) {
    ++stats.unavailable;
    send(small_reply(
        [xid](XdrEncoder& out) { encode_accepted_header(out, xid, AcceptStat::kProgUnavail); }));
    return true;
  }
  if (header.version < program->version_min() || header.version > program->version_max()) {
    ++stats.unavailable;
    const auto range = std::make_pair(program->version_min(), program->version_max());
    send(small_reply([xid, range](XdrEncoder& out) {
      encode_accepted_header(out, xid, AcceptStat::kProgMismatch, range);
    }));
    return true;
  }
  std::optional<DrcKey> drc_key;
  if (!program->idempotent(header.version, header.procedure)) {
    const std::span<const uint8_t> args = in.rest();
    drc_key = DrcKey{.client = peer_.host,
                     .xid = xid,
                     .program = header.program,
                     .version = header.version,
                     .procedure = header.procedure,
                     .args_crc = crc32c(args.first(std::min(args.size(), kDrcArgsCrcBytes)))};
    DrcLookup seen = server_.drc_.begin(*drc_key);
    if (seen.verdict == DrcVerdict::kInProgress) return true;  // the original will answer
    if (seen.verdict == DrcVerdict::kReplay) {
      send(std::move(seen.reply));
      return true;
    }
  }
  const size_t args_at = in.position();
  ++inflight_;
  calls_.spawn(server_.env_.executor(), execute(std::move(record), std::move(call.header), args_at,
                                                *program, std::move(drc_key)));
  return true;
}

Task<void> RpcConnection::execute(std::vector<uint8_t> record, CallHeader header, size_t args_at,
                                  RpcProgram& program, std::optional<DrcKey> drc_key) {
  RpcCall call{.xid = header.xid,
               .program = header.program,
               .version = header.version,
               .procedure = header.procedure,
               .credentials = std::move(header.credentials),
               .peer = peer_,
               .connection_id = id_,
               .args = std::span<const uint8_t>(record).subspan(args_at)};
  XdrEncoder out;
  for (size_t i = 0; i < kReplyPrefixWords; ++i) (void)out.reserve_u32();
  const AcceptStat stat = co_await program.call(call, out);
  std::vector<uint8_t> reply;
  if (stat == AcceptStat::kSuccess) {
    XdrEncoder prefix;
    (void)prefix.reserve_u32();
    encode_accepted_header(prefix, call.xid, stat);
    ASSERT(prefix.size() == kReplyPrefixWords * kXdrUnit);
    std::copy(prefix.bytes().begin(), prefix.bytes().end(), out.bytes().begin());
    reply = finish_record(std::move(out));
  } else {
    if (stat == AcceptStat::kGarbageArgs) ++server_.stats_.garbage_args;
    if (stat == AcceptStat::kProcUnavail) ++server_.stats_.unavailable;
    ASSERT_MSG(stat != AcceptStat::kProgMismatch, "programs do not answer PROG_MISMATCH");
    const uint32_t xid = call.xid;
    reply = small_reply([xid, stat](XdrEncoder& o) { encode_accepted_header(o, xid, stat); });
  }
  if (drc_key) server_.drc_.finish(*drc_key, reply);
  send(std::move(reply));
  ASSERT(inflight_ > 0);
  --inflight_;
  slot_freed_.notify_all();
}

void RpcConnection::send(std::vector<uint8_t> reply) {
  if (write_failed_) {
    ++server_.stats_.replies_dropped;
    return;
  }
  outbox_.push_back(std::move(reply));
  outbox_ready_.notify();
}

Task<void> RpcConnection::write_loop() {
  std::vector<std::vector<uint8_t>> batch;
  std::vector<std::span<const uint8_t>> buffers;
  batch.reserve(kReplyBatchMax);
  buffers.reserve(kReplyBatchMax);
  for (;;) {
    if (outbox_.empty()) {
      if (closing_) co_return;
      co_await outbox_ready_.wait();
      continue;
    }
    take_write_batch(outbox_, batch,
                     {.messages_max = kReplyBatchMax, .bytes_max = kReplyBatchBytesMax},
                     [](const std::vector<uint8_t>& reply) { return reply.size(); });
    buffers.assign(batch.begin(), batch.end());
    const size_t replies = batch.size();
    Result<void> written = co_await stream_->write_all(buffers);
    buffers.clear();
    batch.clear();
    if (!written.ok()) {
      write_failed_ = true;
      read_stopped_ = true;
      server_.stats_.replies_dropped += replies + outbox_.size();
      outbox_.clear();
      stream_->close();  // the peer is gone: wake the read loop
    }
  }
}

}  // namespace splitarray::hostdriver::nfs
