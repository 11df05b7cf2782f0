// protocol/frame_io.h
// Writing whole frames on an Env Stream (reading: frame_reader.h).
#pragma once

#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

// Writes a sealed frame (see seal_frame). At most one write may be outstanding per stream.
Task<Result<void>> write_frame(Stream& stream, const Frame& frame);

}  // namespace splitarray::protocol
