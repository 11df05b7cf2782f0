// tests/fuzz/make_frame_seeds.cpp
// Writes the seed corpus for frame_decoder_fuzz: valid frames of every message type, bodies built
// with protocol::encode_body from the plain values in shelf_plain.h, payloads of a few sizes.
// Each file is one mode byte (see frame_decoder_fuzz.cpp) followed by one or more frames.
// Output is deterministic; tests/fuzz/corpus/frame/ holds the committed result:
//   make_frame_seeds tests/fuzz/corpus/frame
// Every frame is checked (header, data CRC, segment table, body) before it is written.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/frame.h"
#include "protocol/frame_writer.h"
#include "shelf_plain.h"

namespace splitarray::fuzz {
namespace {

using protocol::Frame;
using protocol::MessageType;

constexpr uint8_t kModeAsIs = 0;
constexpr uint8_t kModePatchCrcs = 1;

struct Seed {
  std::string name;
  uint8_t mode = kModePatchCrcs;
  std::vector<Frame> frames;
};

Bytes pattern(size_t size, uint8_t salt) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(i * 31 + salt);
  return out;
}

// Encodes `value` as Schema and checks it decodes back to the same value.
template <class Schema, class Plain>
kj::Array<capnp::word> body_of(const Plain& value) {
  kj::Array<capnp::word> body = protocol::encode_body<Schema>(
      [&value](typename Schema::Builder builder) { fill(builder, value); });
  auto decoded =
      protocol::decode_body<Schema>({body.begin(), body.size()}, protocol::FrameLimits{},
                                    [](typename Schema::Reader reader) { return from(reader); });
  ASSERT(decoded.ok());
  ASSERT(decoded.value() == value);
  return body;
}

Frame make_frame(MessageType type, bool response, uint64_t request_id, kj::Array<capnp::word> body,
                 Bytes payload = {}) {
  Frame frame;
  frame.header.type = type;
  frame.header.flags = response ? protocol::kFlagResponse : 0;
  frame.header.request_id = request_id;
  frame.header.timeout_ms = response ? 0 : 5000;
  frame.body = std::move(body);
  frame.payload = std::move(payload);
  protocol::seal_frame(frame);
  return frame;
}

template <class Schema, class Plain>
Frame request(MessageType type, uint64_t request_id, const Plain& value, Bytes payload = {}) {
  return make_frame(type, false, request_id, body_of<Schema>(value), std::move(payload));
}
template <class Schema, class Plain>
Frame reply(MessageType type, uint64_t request_id, const Plain& value, Bytes payload = {}) {
  return make_frame(type, true, request_id, body_of<Schema>(value), std::move(payload));
}

std::vector<Bytes> fingerprints(size_t count) {
  std::vector<Bytes> out;
  for (size_t i = 0; i < count; ++i) out.push_back(pattern(32, static_cast<uint8_t>(i)));
  return out;
}

StatusReply status_value() {
  StatusReply v;
  v.cluster_id = 0xC0FFEE;
  v.shelf_id = 3;
  for (uint16_t d = 0; d < 4; ++d) {
    v.disks.push_back({d, static_cast<uint16_t>(d % 3), 4ull << 40, 1000, 10u * d, d});
  }
  v.nvram.push_back({1, 4096, 1 << 30, 10, 20});
  v.nvram.push_back({2, 0, 1 << 30, 0, 0});
  v.hosts.push_back({1, 100, 1 << 20, 1 << 21, {0, 1, 5, 40, 3}});
  v.hosts.push_back({2, 0, 0, 0, {}});
  v.index = {123456, true, 9};
  return v;
}

// A StatusReply spread over several small segments, so far pointers are in the corpus.
kj::Array<capnp::word> multi_segment_status_body() {
  capnp::MallocMessageBuilder builder(8, capnp::AllocationStrategy::FIXED_SIZE);
  fill(builder.initRoot<schema::StatusReply>(), status_value());
  ASSERT(builder.getSegmentsForOutput().size() > 1);
  kj::Array<capnp::word> body = capnp::messageToFlatArray(builder);
  ASSERT(protocol::validate_segment_table({body.begin(), body.size()}, {}).ok());
  return body;
}

std::vector<Seed> make_seeds() {
  std::vector<Seed> s;
  auto add = [&s](std::string name, uint8_t mode, Frame frame) {
    Seed seed{std::move(name), mode, {}};
    seed.frames.push_back(std::move(frame));
    s.push_back(std::move(seed));
  };
  const FragmentId fid{0x1234, 2, 7};
  const RegisterValue reg{true, pattern(48, 9), 4, 2};
  const std::vector<ChunkLocation> locations = {{1, 0, 4096}, {1, 4096, 1500}, {9, 12, 77}};

  add("echo-request", kModePatchCrcs,
      request<schema::EchoRequest>(MessageType::kEcho, 1, EchoRequest{0, 42}));
  add("echo-request-payload", kModeAsIs,
      request<schema::EchoRequest>(MessageType::kEcho, 2, EchoRequest{250, 7}, pattern(64, 1)));
  add("echo-reply", kModePatchCrcs,
      reply<schema::EchoReply>(MessageType::kEcho, 2, EchoReply{7, 0xDEADBEEF}, pattern(4096, 2)));
  add("cancel", kModePatchCrcs, make_frame(MessageType::kCancel, false, 2, nullptr));
  add("nvram-append", kModePatchCrcs,
      request<schema::NvramAppendRequest>(MessageType::kNvramAppend, 3,
                                          NvramAppendRequest{1, 5, {100, 27, 1}}, pattern(128, 3)));
  add("nvram-append-reply", kModePatchCrcs,
      reply<schema::NvramAppendReply>(MessageType::kNvramAppend, 3,
                                      NvramAppendReply{10, 256, 1 << 30}));
  add("nvram-read", kModePatchCrcs,
      request<schema::NvramReadRequest>(MessageType::kNvramRead, 4,
                                        NvramReadRequest{1, 10, 65536}));
  add("nvram-read-reply", kModeAsIs,
      reply<schema::NvramReadReply>(MessageType::kNvramRead, 4, NvramReadReply{10, {500, 12}, 12},
                                    pattern(512, 4)));
  add("nvram-trim", kModePatchCrcs,
      request<schema::NvramTrimRequest>(MessageType::kNvramTrim, 5, NvramTrimRequest{1, 5, 11}));
  add("nvram-usage-reply", kModePatchCrcs,
      reply<schema::NvramUsage>(MessageType::kNvramUsage, 6, NvramUsage{1, 4096, 1 << 30, 10, 20}));
  add("fragment-write", kModePatchCrcs,
      request<schema::FragmentWriteRequest>(MessageType::kFragmentWrite, 7,
                                            FragmentWriteRequest{1, 5, 3, fid, 0x0BADF00D},
                                            pattern(8192, 5)));
  add("fragment-read", kModePatchCrcs,
      request<schema::FragmentReadRequest>(MessageType::kFragmentRead, 8,
                                           FragmentReadRequest{3, fid, 512, 1024}));
  add("fragment-read-reply", kModePatchCrcs,
      reply<schema::FragmentReadReply>(MessageType::kFragmentRead, 8, FragmentReadReply{0x1},
                                       pattern(1, 6)));
  add("fragment-delete", kModePatchCrcs,
      request<schema::FragmentDeleteRequest>(MessageType::kFragmentDelete, 9,
                                             FragmentDeleteRequest{1, 5, 3, fid}));
  add("disk-admin", kModePatchCrcs,
      request<schema::DiskAdminRequest>(MessageType::kDiskAdmin, 10, DiskAdminRequest{5, 2, 1}));
  add("index-lookup", kModePatchCrcs,
      request<schema::IndexLookupRequest>(MessageType::kIndexLookup, 11,
                                          IndexLookupRequest{fingerprints(4)}));
  add("index-lookup-reply", kModePatchCrcs,
      reply<schema::IndexLookupReply>(MessageType::kIndexLookup, 11,
                                      IndexLookupReply{{true, false, true}, locations}));
  add("index-insert", kModePatchCrcs,
      request<schema::IndexInsertRequest>(MessageType::kIndexInsert, 12,
                                          IndexInsertRequest{1, 5, fingerprints(3), locations}));
  add("index-insert-reply", kModePatchCrcs,
      reply<schema::IndexInsertReply>(MessageType::kIndexInsert, 12,
                                      IndexInsertReply{{true, true, false}, locations}));
  add("index-remove", kModePatchCrcs,
      request<schema::IndexRemoveRequest>(MessageType::kIndexRemove, 13,
                                          IndexRemoveRequest{1, 5, fingerprints(2)}));
  add("register-get", kModePatchCrcs,
      request<schema::RegisterGetRequest>(MessageType::kRegisterGet, 14,
                                          RegisterGetRequest{"owner/volume-1"}));
  add("register-get-reply", kModePatchCrcs,
      reply<schema::RegisterValue>(MessageType::kRegisterGet, 14, reg));
  add("register-cas", kModePatchCrcs,
      request<schema::RegisterCasRequest>(
          MessageType::kRegisterCas, 15,
          RegisterCasRequest{"owner/volume-1", 3, pattern(48, 9), 2}));
  add("register-cas-reply", kModePatchCrcs,
      reply<schema::RegisterCasReply>(MessageType::kRegisterCas, 15, RegisterCasReply{true, reg}));
  add("disk-list-reply", kModePatchCrcs,
      reply<schema::StatusReply>(MessageType::kDiskList, 16, status_value()));
  add("status-reply-multisegment", kModePatchCrcs,
      make_frame(MessageType::kStatus, true, 17, multi_segment_status_body()));
  add("error-reply", kModePatchCrcs,
      protocol::make_error_frame(MessageType::kRegisterCas, 18,
                                 make_error(Code::kStale, "epoch 2 is older than owner epoch 3")));
  {
    // A status this version does not know: error_from_frame must map it to kProtocol.
    Frame unknown = reply<schema::ErrorReply>(MessageType::kEcho, 19, ErrorReply{999, "future"});
    unknown.header.status = 999;
    add("error-unknown-status", kModePatchCrcs, std::move(unknown));
  }
  {
    Seed stream{"stream-of-three", kModePatchCrcs, {}};
    stream.frames.push_back(
        request<schema::EchoRequest>(MessageType::kEcho, 20, EchoRequest{0, 1}));
    stream.frames.push_back(request<schema::IndexLookupRequest>(
        MessageType::kIndexLookup, 21, IndexLookupRequest{fingerprints(1)}));
    stream.frames.push_back(
        protocol::make_error_frame(MessageType::kEcho, 20, make_error(Code::kBusy, "queue full")));
    s.push_back(std::move(stream));
  }
  // Added after the stream so that earlier seeds keep their file names.
  add("index-rebuild", kModePatchCrcs,
      request<schema::IndexRebuildRequest>(
          MessageType::kIndexRebuild, 22,
          IndexRebuildRequest{1, 5, 1, 9, fingerprints(3), locations}));
  add("index-rebuild-reply", kModePatchCrcs,
      reply<schema::IndexRebuildReply>(MessageType::kIndexRebuild, 22,
                                       IndexRebuildReply{9, 2, 1, 1000}));
  add("fragment-list", kModePatchCrcs,
      request<schema::FragmentListRequest>(MessageType::kFragmentList, 23,
                                           FragmentListRequest{3, 0x1234, 2, 1024}));
  const std::vector<ListedFragment> listed = {ListedFragment{fid, 65536},
                                              ListedFragment{FragmentId{0x1234, 9, 7}, 65536}};
  add("fragment-list-reply", kModePatchCrcs,
      reply<schema::FragmentListReply>(MessageType::kFragmentList, 23,
                                       FragmentListReply{listed, false, 0x1235, 0}));
  add("index-list", kModePatchCrcs,
      request<schema::IndexListRequest>(MessageType::kIndexList, 24,
                                        IndexListRequest{fingerprints(1).front(), 4096}));
  add("index-list-reply", kModePatchCrcs,
      reply<schema::IndexListReply>(
          MessageType::kIndexList, 24,
          IndexListReply{fingerprints(3), false, fingerprints(4).back(), false}));
  return s;
}

Bytes serialize(const Seed& seed) {
  Bytes out{seed.mode};
  for (const Frame& frame : seed.frames) {
    const protocol::HeaderBytes header = protocol::encode_frame_header(frame.header);
    // Pair check: what we write must read back through the decoder's header and CRC checks.
    Result<protocol::FrameHeader> decoded = protocol::decode_frame_header(header, {});
    ASSERT(decoded.ok());
    ASSERT(protocol::frame_data_crc(frame.body_bytes(), frame.payload) == decoded->data_crc);
    ASSERT(protocol::validate_segment_table(frame.body_words(), {}).ok());
    const auto body = frame.body_bytes();
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), body.begin(), body.end());
    out.insert(out.end(), frame.payload.begin(), frame.payload.end());
  }
  return out;
}

int run(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::vector<Seed> seeds = make_seeds();
  size_t total_bytes = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const Bytes bytes = serialize(seeds[i]);
    // Two-digit index prefix keeps `ls` in generation order.
    const std::string prefix = (i < 10 ? "0" : "") + std::to_string(i) + "-";
    const std::filesystem::path path = dir / (prefix + seeds[i].name);
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file.good()) {
      std::fprintf(stderr, "make_frame_seeds: cannot write %s\n", path.c_str());
      return 1;
    }
    total_bytes += bytes.size();
  }
  std::printf("wrote %zu seeds, %zu bytes, to %s\n", seeds.size(), total_bytes, dir.c_str());
  return 0;
}

}  // namespace
}  // namespace splitarray::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  return splitarray::fuzz::run(argv[1]);
}
