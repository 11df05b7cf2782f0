// protocol/frame_io.h
// Writing whole frames on an Env Stream (reading: frame_reader.h).
#pragma once

#include <span>

#include "common/env.h"
#include "protocol/frame.h"

namespace splitarray::protocol {

// Writes sealed frames (see seal_frame), in order, with as few system calls as the stream
// allows (one gathered write). At most one write may be outstanding per stream.
Task<Result<void>> write_frames(Stream& stream, std::span<const Frame> frames);

}  // namespace splitarray::protocol
