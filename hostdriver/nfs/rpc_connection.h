// hostdriver/nfs/rpc_connection.h
// One client connection of the OncRpcServer: reads records, decodes call headers, runs each call
// as its own task (bounded), and writes the replies in the order they finish.
// See onc_rpc_server.h for the invariants; this class keeps (1), (3), (4) and (5).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/async/condition.h"
#include "common/async/notify.h"
#include "common/async/task_group.h"
#include "common/buffered_input.h"
#include "hostdriver/nfs/onc_rpc_server.h"
#include "hostdriver/nfs/record_marking.h"
#include "hostdriver/nfs/rpc_message.h"

namespace splitarray::hostdriver::nfs {

class RpcConnection final {
 public:
  RpcConnection(OncRpcServer& server, uint64_t id, std::unique_ptr<Stream> stream);
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  Task<void> run();
  // Graceful: stop reading; executing calls finish and reply.
  // Records already in the receive buffer are not dispatched either.
  void stop() {
    read_stopped_ = true;
    stream_->shutdown_read();
  }

 private:
  Task<void> read_loop();
  // Reads one complete record into assembler_; an error ends the connection.
  Task<Result<void>> read_record();
  // Arms a timer that stops reading after `timeout` (cancelled by the returned id).
  TimerId arm_read_timer(Duration timeout, bool& fired);
  // Decides what a record gets (a call task, an immediate reply, or nothing). False: close.
  bool dispatch(std::vector<uint8_t> record);
  Task<void> execute(std::vector<uint8_t> record, CallHeader header, size_t args_at,
                     RpcProgram& program, std::optional<DrcKey> drc_key);
  void send(std::vector<uint8_t> reply);
  Task<void> write_loop();

  OncRpcServer& server_;
  const uint64_t id_;
  const Address peer_;
  std::unique_ptr<Stream> stream_;
  BufferedInput input_;  // reads stream_: pipelined calls arrive with one receive
  RecordAssembler assembler_;
  size_t inflight_ = 0;
  async::Condition slot_freed_;
  async::TaskGroup calls_;
  async::TaskGroup writer_;
  std::deque<std::vector<uint8_t>> outbox_;  // <= inflight max + immediate replies in flight
  async::Notify outbox_ready_;
  bool closing_ = false;
  // Set by stop() and by a failed write: no further record is dispatched, even one already
  // buffered (shutdown_read() stops the stream, not input_'s buffer).
  bool read_stopped_ = false;
  bool write_failed_ = false;
};

}  // namespace splitarray::hostdriver::nfs
