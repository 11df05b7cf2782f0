#include "protocol/message_type.h"

namespace splitarray::protocol {

std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kEcho:
      return "echo";
    case MessageType::kCancel:
      return "cancel";
    case MessageType::kNvramAppend:
      return "nvram_append";
    case MessageType::kNvramRead:
      return "nvram_read";
    case MessageType::kNvramTrim:
      return "nvram_trim";
    case MessageType::kNvramUsage:
      return "nvram_usage";
    case MessageType::kFragmentWrite:
      return "fragment_write";
    case MessageType::kFragmentRead:
      return "fragment_read";
    case MessageType::kFragmentDelete:
      return "fragment_delete";
    case MessageType::kDiskList:
      return "disk_list";
    case MessageType::kDiskAdmin:
      return "disk_admin";
    case MessageType::kFragmentList:
      return "fragment_list";
    case MessageType::kIndexLookup:
      return "index_lookup";
    case MessageType::kIndexInsert:
      return "index_insert";
    case MessageType::kIndexRemove:
      return "index_remove";
    case MessageType::kIndexRebuild:
      return "index_rebuild";
    case MessageType::kIndexList:
      return "index_list";
    case MessageType::kRegisterGet:
      return "register_get";
    case MessageType::kRegisterCas:
      return "register_cas";
    case MessageType::kStatus:
      return "status";
  }
  return "unknown";
}

bool is_known_message_type(uint16_t value) {
  return message_type_name(static_cast<MessageType>(value)) != "unknown";
}

}  // namespace splitarray::protocol
