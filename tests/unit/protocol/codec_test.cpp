#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/endian.h"
#include "common/prng.h"
#include "protocol/codec.h"
#include "shelf.capnp.h"

namespace splitarray::protocol {
namespace {

struct Cas {
  std::string name;
  uint64_t expected_version;
  std::vector<uint8_t> value;
};

Result<Cas> to_cas(schema::RegisterCasRequest::Reader r) {
  auto data = r.getNewValue();
  if (data.size() > 64) return make_error(Code::kInvalidArgument, "register value too large");
  return Cas{r.getName().cStr(), r.getExpectedVersion(),
             std::vector<uint8_t>(data.begin(), data.end())};
}

kj::Array<capnp::word> cas_body(const std::string& name, size_t value_size) {
  return encode_body<schema::RegisterCasRequest>([&](schema::RegisterCasRequest::Builder b) {
    b.setName(name);
    b.setExpectedVersion(41);
    std::vector<uint8_t> value(value_size, 0x42);
    b.setNewValue(capnp::Data::Reader(value.data(), value.size()));
    b.setEpoch(3);
  });
}

TEST_CASE("protocol/codec: encode then decode into plain values") {
  auto body = cas_body("datastore/root", 32);
  auto decoded = decode_body<schema::RegisterCasRequest>(
      std::span<const capnp::word>(body.begin(), body.size()), FrameLimits{}, to_cas);
  REQUIRE(decoded.ok());
  CHECK(decoded->name == "datastore/root");
  CHECK(decoded->expected_version == 41);
  CHECK(decoded->value == std::vector<uint8_t>(32, 0x42));
}

TEST_CASE("protocol/codec: converter errors pass through") {
  auto body = cas_body("x", 100);
  auto decoded = decode_body<schema::RegisterCasRequest>(
      std::span<const capnp::word>(body.begin(), body.size()), FrameLimits{}, to_cas);
  CHECK(decoded.code() == Code::kInvalidArgument);
}

TEST_CASE("protocol/codec: empty body and random garbage are protocol errors, never crashes") {
  CHECK(decode_body<schema::RegisterCasRequest>({}, FrameLimits{}, to_cas).code() ==
        Code::kProtocol);
  Prng rng(99);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<capnp::word> words(1 + rng.below(16));
    std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(words.data()), words.size() * 8);
    rng.fill(bytes);
    // Half the time give it a plausible segment table so capnp itself sees the garbage.
    if (rng.chance(0.5)) {
      put_u32(bytes, 0, 0);
      put_u32(bytes, 4, static_cast<uint32_t>(words.size() - 1));
    }
    auto decoded = decode_body<schema::RegisterCasRequest>(words, FrameLimits{}, to_cas);
    if (!decoded.ok()) {
      CHECK((decoded.code() == Code::kProtocol || decoded.code() == Code::kInvalidArgument));
      ++rejected;
    }
  }
  CHECK(rejected > 0);
}

TEST_CASE("protocol/codec: a converter may read a list field more than once") {
  auto body = encode_body<schema::IndexLookupRequest>([](schema::IndexLookupRequest::Builder b) {
    auto fps = b.initFingerprints(100);
    std::vector<uint8_t> fp(32, 0x11);
    for (unsigned i = 0; i < 100; ++i) fps.set(i, capnp::Data::Reader(fp.data(), fp.size()));
  });
  auto decoded = decode_body<schema::IndexLookupRequest>(
      std::span<const capnp::word>(body.begin(), body.size()), FrameLimits{},
      [](schema::IndexLookupRequest::Reader r) {
        // A validation pass and then a conversion pass: each getter call costs the whole list.
        size_t bytes = 0;
        for (auto fp : r.getFingerprints()) bytes += fp.size();
        for (auto fp : r.getFingerprints()) bytes += fp.size();
        return bytes;
      });
  REQUIRE(decoded.ok());
  CHECK(*decoded == 6400);
}

TEST_CASE("protocol/codec: a pointer past the end of the segment is caught") {
  std::vector<capnp::word> words(2);
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(words.data()), 16);
  put_u32(bytes, 0, 0);  // one segment
  put_u32(bytes, 4, 1);  // of one word
  // Root struct pointer with offset far outside the segment.
  put_u64(bytes, 8, (uint64_t{1} << 32) | (uint64_t{0x0FFFFFFF} << 2));
  auto decoded = decode_body<schema::RegisterCasRequest>(words, FrameLimits{}, to_cas);
  CHECK(decoded.code() == Code::kProtocol);
}

}  // namespace
}  // namespace splitarray::protocol
