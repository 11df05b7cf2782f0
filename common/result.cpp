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
