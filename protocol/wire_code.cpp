#include "protocol/wire_code.h"

namespace splitarray::protocol {
namespace {

struct Mapping {
  Code code;
  uint16_t wire;
};
constexpr Mapping kMappings[] = {
    {Code::kIo, 1},
    {Code::kCorruption, 2},
    {Code::kNoSpace, 3},
    {Code::kTimeout, 4},
    {Code::kUnavailable, 5},
    {Code::kBusy, 6},
    {Code::kCancelled, 7},
    {Code::kProtocol, 8},
    {Code::kStale, 9},
    {Code::kNotFound, 10},
    {Code::kInvalidArgument, 11},
    {Code::kExists, 12},
    {Code::kNotDirectory, 13},
    {Code::kIsDirectory, 14},
    {Code::kNotEmpty, 15},
    {Code::kNameTooLong, 16},
    {Code::kFileTooLarge, 17},
};
static_assert(std::size(kMappings) == kCodeCount, "every Code needs a wire value");

}  // namespace

uint16_t to_wire_code(Code code) {
  for (const Mapping& m : kMappings) {
    if (m.code == code) return m.wire;
  }
  UNREACHABLE("Code without a wire value");
}

std::optional<Code> from_wire_code(uint16_t wire) {
  for (const Mapping& m : kMappings) {
    if (m.wire == wire) return m.code;
  }
  return std::nullopt;
}

}  // namespace splitarray::protocol
