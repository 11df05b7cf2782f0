#include "common/result.h"

namespace splitarray {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kIo:
      return "io";
    case Code::kCorruption:
      return "corruption";
    case Code::kNoSpace:
      return "no_space";
    case Code::kTimeout:
      return "timeout";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kBusy:
      return "busy";
    case Code::kCancelled:
      return "cancelled";
    case Code::kProtocol:
      return "protocol";
    case Code::kStale:
      return "stale";
    case Code::kExists:
      return "exists";
    case Code::kNotDirectory:
      return "not_directory";
    case Code::kIsDirectory:
      return "is_directory";
    case Code::kNotEmpty:
      return "not_empty";
    case Code::kNameTooLong:
      return "name_too_long";
    case Code::kFileTooLarge:
      return "file_too_large";
    case Code::kNotFound:
      return "not_found";
    case Code::kInvalidArgument:
      return "invalid_argument";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string out(code_name(code));
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace splitarray
