// hostdriver/nfs/record_marking.cpp
#include "hostdriver/nfs/record_marking.h"

#include "common/assert.h"

namespace splitarray::hostdriver::nfs {

FragmentHeader parse_fragment_header(std::span<const uint8_t, kRecordHeaderBytes> bytes) {
  const uint32_t word = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                        (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
  return FragmentHeader{.last = (word & kLastFragmentBit) != 0, .length = word & ~kLastFragmentBit};
}

std::array<uint8_t, kRecordHeaderBytes> record_header(uint32_t length) {
  ASSERT(length < kLastFragmentBit);
  const uint32_t word = length | kLastFragmentBit;
  return {static_cast<uint8_t>(word >> 24), static_cast<uint8_t>(word >> 16),
          static_cast<uint8_t>(word >> 8), static_cast<uint8_t>(word)};
}

RecordAssembler::RecordAssembler(size_t record_bytes_max, size_t fragments_max)
    : record_bytes_max_(record_bytes_max), fragments_max_(fragments_max) {
  ASSERT(record_bytes_max_ > 0);
  ASSERT(fragments_max_ > 0);
}

Result<uint32_t> RecordAssembler::begin_fragment(const FragmentHeader& header) {
  ASSERT_MSG(!complete_, "begin_fragment() on a complete record; reset() first");
  if (++fragments_ > fragments_max_) {
    return make_error(Code::kProtocol, "record has too many fragments");
  }
  if (header.length > record_bytes_max_ - record_.size()) {
    return make_error(Code::kProtocol, "record exceeds the size limit");
  }
  fragment_begin_ = record_.size();
  record_.resize(record_.size() + header.length);
  complete_ = header.last;
  ASSERT(record_.size() <= record_bytes_max_);
  return header.length;
}

std::span<uint8_t> RecordAssembler::fragment_space() {
  return std::span<uint8_t>(record_).subspan(fragment_begin_);
}

void RecordAssembler::reset() {
  record_.clear();
  fragment_begin_ = 0;
  fragments_ = 0;
  complete_ = false;
}

}  // namespace splitarray::hostdriver::nfs
