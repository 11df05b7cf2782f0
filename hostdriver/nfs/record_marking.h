// hostdriver/nfs/record_marking.h
// ONC RPC record marking over TCP (RFC 5531 §11): a record is one or more fragments, each behind
// a 4-byte header whose top bit marks the last fragment and whose low 31 bits are its length.
//
// RecordAssembler is the pure state machine: the connection feeds it headers and fragment bytes
// and it says how much to read next, refusing anything beyond the named limits before a byte of
// it is buffered.
// Invariants:
//   (1) record().size() <= record_bytes_max at all times.
//   (2) A zero-length non-final fragment counts toward fragments_max, so a stream of empty
//       fragments cannot spin forever.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/units.h"

namespace splitarray::hostdriver::nfs {

inline constexpr uint32_t kLastFragmentBit = 0x80000000u;
inline constexpr size_t kRecordHeaderBytes = 4;
// The largest call is a 1 MiB WRITE plus its header and credentials; the largest reply a 1 MiB
// READ plus attributes. 64 KiB of slack covers both.
inline constexpr size_t kRecordBytesMax = 1 * kMiB + 64 * kKiB;
inline constexpr size_t kRecordFragmentsMax = 64;

struct FragmentHeader {
  bool last = false;
  uint32_t length = 0;
};

FragmentHeader parse_fragment_header(std::span<const uint8_t, kRecordHeaderBytes> bytes);
// One-fragment record header for `length` bytes (the server always replies in one fragment).
std::array<uint8_t, kRecordHeaderBytes> record_header(uint32_t length);

class RecordAssembler {
 public:
  explicit RecordAssembler(size_t record_bytes_max = kRecordBytesMax,
                           size_t fragments_max = kRecordFragmentsMax);

  // Accepts the next fragment's header; kProtocol when the record would exceed a limit.
  // Returns the fragment's length: read exactly that many bytes into fragment_space().
  Result<uint32_t> begin_fragment(const FragmentHeader& header);
  // Space for the fragment announced by begin_fragment().
  std::span<uint8_t> fragment_space();
  // True when the fragment announced last is the final one: once its bytes are read, record()
  // is complete.
  bool complete() const { return complete_; }
  // The complete record; valid until reset().
  std::vector<uint8_t>& record() { return record_; }
  // Starts a new record (keeps the buffer's capacity).
  void reset();

 private:
  const size_t record_bytes_max_;
  const size_t fragments_max_;
  std::vector<uint8_t> record_;
  size_t fragment_begin_ = 0;
  size_t fragments_ = 0;
  bool complete_ = false;
};

}  // namespace splitarray::hostdriver::nfs
