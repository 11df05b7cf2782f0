// tests/support/echo_handler.h
// A RequestHandler for tests and benchmarks: answers kEcho with the request's payload (and its
// CRC32C and tag in the body), after EchoRequest.delayMicros of Env time. Other types get
// kInvalidArgument, so "wrong type" paths are exercised too.
#pragma once

#include "common/crc32c.h"
#include "common/env.h"
#include "protocol/codec.h"
#include "protocol/rpc_server.h"
#include "shelf.capnp.h"

namespace splitarray::testing {

struct EchoRequestValue {
  uint32_t delay_micros = 0;
  uint64_t tag = 0;
};

inline kj::Array<capnp::word> encode_echo_request(uint64_t tag, uint32_t delay_micros) {
  return protocol::encode_body<protocol::schema::EchoRequest>(
      [&](protocol::schema::EchoRequest::Builder b) {
        b.setTag(tag);
        b.setDelayMicros(delay_micros);
      });
}

struct EchoReplyValue {
  uint64_t tag = 0;
  uint32_t payload_crc32c = 0;
};

inline Result<EchoReplyValue> decode_echo_reply(const protocol::Frame& frame) {
  return protocol::decode_body<protocol::schema::EchoReply>(
      frame.body_words(), protocol::FrameLimits{}, [](protocol::schema::EchoReply::Reader r) {
        return EchoReplyValue{r.getTag(), r.getPayloadCrc32c()};
      });
}

class EchoHandler final : public protocol::RequestHandler {
 public:
  explicit EchoHandler(Env& env) : env_(env) {}

  Task<Result<protocol::Reply>> handle(protocol::RequestContext& context,
                                       protocol::Frame request) override {
    ++handled_;
    if (context.type != protocol::MessageType::kEcho) {
      co_return make_error(Code::kInvalidArgument, "echo server only answers echo");
    }
    CO_ASSIGN_OR_RETURN(const EchoRequestValue req,
                        protocol::decode_body<protocol::schema::EchoRequest>(
                            request.body_words(), protocol::FrameLimits{},
                            [](protocol::schema::EchoRequest::Reader r) {
                              return EchoRequestValue{r.getDelayMicros(), r.getTag()};
                            }));
    if (req.delay_micros > 0) {
      co_await sleep_for(env_.clock, std::chrono::microseconds(req.delay_micros));
    }
    const uint32_t crc = crc32c(request.payload);
    protocol::Reply reply;
    reply.body = protocol::encode_body<protocol::schema::EchoReply>(
        [&](protocol::schema::EchoReply::Builder b) {
          b.setTag(req.tag);
          b.setPayloadCrc32c(crc);
        });
    reply.payload = std::move(request.payload);
    co_return reply;
  }

  uint64_t handled() const { return handled_; }

 private:
  Env& env_;
  uint64_t handled_ = 0;
};

}  // namespace splitarray::testing
