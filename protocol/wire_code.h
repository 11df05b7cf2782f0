// protocol/wire_code.h
// Error codes on the wire (frame header `status`). 0 is success. An explicit table, so that
// reordering the C++ enum can never change the protocol.
#pragma once

#include <cstdint>
#include <optional>

#include "common/result.h"

namespace splitarray::protocol {

inline constexpr uint16_t kWireOk = 0;
uint16_t to_wire_code(Code code);
// nullopt for values this version does not know (a protocol error).
std::optional<Code> from_wire_code(uint16_t wire);

}  // namespace splitarray::protocol
