// protocol/message_type.h
// Message types carried in the frame header; each names the capnp struct of the body
// (schema/shelf.capnp). Values are wire format: never renumber, only add.
#pragma once

#include <cstdint>
#include <string_view>

namespace splitarray::protocol {

enum class MessageType : uint16_t {
  kEcho = 1,    // EchoRequest / EchoReply, payload echoed
  kCancel = 2,  // no body: the peer may abandon request `request_id`
  kNvramAppend = 10,
  kNvramRead = 11,
  kNvramTrim = 12,
  kNvramUsage = 13,
  kFragmentWrite = 20,
  kFragmentRead = 21,
  kFragmentDelete = 22,
  kDiskList = 23,
  kDiskAdmin = 24,
  kFragmentList = 25,  // FragmentListRequest / FragmentListReply: one page of a disk's fragments
  kIndexLookup = 30,
  kIndexInsert = 31,
  kIndexRemove = 32,
  kIndexRebuild = 33,  // admin: IndexRebuildRequest / IndexRebuildReply
  kIndexList = 34,     // IndexListRequest / IndexListReply: one page of the index's fps
  kRegisterGet = 40,
  kRegisterCas = 41,
  kStatus = 50,
};

// True for values listed above; anything else on the wire is a protocol error.
bool is_known_message_type(uint16_t value);
std::string_view message_type_name(MessageType type);

}  // namespace splitarray::protocol
