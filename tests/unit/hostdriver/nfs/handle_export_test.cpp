// tests/unit/hostdriver/nfs/handle_export_test.cpp
#include <doctest/doctest.h>

#include "hostdriver/nfs/exports.h"
#include "hostdriver/nfs/file_handle.h"

namespace splitarray::hostdriver::nfs {

namespace {
HandleKey key_of(uint8_t fill) {
  HandleKey key;
  key.fill(fill);
  return key;
}
}  // namespace

TEST_CASE("hostdriver/nfs/file_handle: a key of distinct bytes gives the HMAC-SHA256 of RFC 2104") {
  // A uniform key cannot tell a reversed or misaligned key pad apart; this one can. Expected bytes
  // from Python: hmac.new(bytes((i * 37 + 1) % 256 for i in range(32)), sealed, sha256)[:16].
  HandleKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 37 + 1);
  const std::vector<uint8_t> expected = {
      0x01, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xfe, 0xdc, 0xba,
      0x98, 0x76, 0x54, 0x32, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x8d, 0x87,
      0x2b, 0x5d, 0x91, 0x0f, 0xfd, 0xf9, 0x9e, 0xcc, 0x13, 0x59, 0xb4, 0xb1, 0x87, 0x6b};
  const HandleCodec codec(key);
  const FileHandle handle{
      .fs_id = 0x0102030405060708, .inode = 0xfedcba9876543210, .generation = 7};
  CHECK(codec.encode(handle) == expected);
  auto decoded = codec.decode(expected);
  REQUIRE(decoded.ok());
  CHECK(*decoded == handle);
}

TEST_CASE("hostdriver/nfs/file_handle: the handle bytes are fixed (clients keep them)") {
  // A handle given out must decode after any upgrade of how the MAC is computed. Expected bytes
  // from Python: hmac.new(bytes([7]) * 32, sealed, hashlib.sha256).digest()[:16].
  const std::vector<uint8_t> expected = {
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xab, 0xcd, 0xef, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x30, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0xf2, 0x2f,
      0xeb, 0xcf, 0x86, 0x40, 0x10, 0xf7, 0xeb, 0xdd, 0x0d, 0xd8, 0xbe, 0x9f, 0xa6, 0xcc};
  const HandleCodec codec(key_of(7));
  const FileHandle handle{.fs_id = 0xABCDEF, .inode = 12345, .generation = 99};
  CHECK(codec.encode(handle) == expected);
  // A copy of the codec (its own digest context) gives the same bytes.
  const HandleCodec copy = codec;
  CHECK(copy.encode(handle) == expected);
  auto decoded = copy.decode(expected);
  REQUIRE(decoded.ok());
  CHECK(*decoded == handle);
}

TEST_CASE("hostdriver/nfs/file_handle: handles round-trip and forged ones are rejected") {
  const HandleCodec codec(key_of(7));
  const FileHandle handle{.fs_id = 0xABCDEF, .inode = 12345, .generation = 99};
  const std::vector<uint8_t> bytes = codec.encode(handle);
  CHECK(bytes.size() == kFileHandleBytes);
  auto decoded = codec.decode(bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == handle);

  // Every single-bit change anywhere is rejected (the MAC covers the fields; the MAC itself).
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    std::vector<uint8_t> forged = bytes;
    forged[byte] ^= 0x01;
    auto result = codec.decode(forged);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Code::kInvalidArgument);
  }
  // Another cluster's key, a short and a long handle.
  CHECK_FALSE(HandleCodec(key_of(8)).decode(bytes).ok());
  CHECK_FALSE(codec.decode(std::span(bytes).first(kFileHandleBytes - 1)).ok());
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK_FALSE(codec.decode(longer).ok());
}

TEST_CASE("hostdriver/nfs/exports: allow-lists match networks and squash root") {
  Export exported;
  exported.clients = {ClientNetwork::parse("127.0.0.1").value(),
                      ClientNetwork::parse("10.1.0.0/16").value()};
  CHECK(exported.allows(Address{"127.0.0.1", 1}));
  CHECK(exported.allows(Address{"::ffff:127.0.0.1", 1}));
  CHECK(exported.allows(Address{"10.1.200.3", 1}));
  CHECK_FALSE(exported.allows(Address{"10.2.0.1", 1}));
  CHECK_FALSE(exported.allows(Address{"127.0.0.2", 1}));
  CHECK_FALSE(exported.allows(Address{"::1", 1}));
  CHECK_FALSE(Export{}.allows(Address{"127.0.0.1", 1}));  // empty list: nobody
  Export everyone;
  everyone.clients = {ClientNetwork::parse("*").value()};
  CHECK(everyone.allows(Address{"192.168.7.7", 1}));

  for (const char* bad :
       {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4/33", "1.2.3.4/", "a.b.c.d", "1.2.3.4x"}) {
    CHECK_MESSAGE(!ClientNetwork::parse(bad).ok(), bad);
  }
  CHECK(ClientNetwork::parse("10.1.2.3/16").value().to_string() == "10.1.0.0/16");

  const Credentials root{.flavor = kAuthSys, .uid = 0, .gid = 0, .gids = {0, 5}, .machine = "m"};
  const Credentials squashed = exported.effective(root);
  CHECK(squashed.uid == kUidNobody);
  CHECK(squashed.gid == kGidNobody);
  CHECK(squashed.gids == std::vector<uint32_t>{5});
  exported.root_squash = false;
  CHECK(exported.effective(root).uid == 0);
  const Credentials none{.flavor = kAuthNone, .uid = 0, .gid = 0, .gids = {}, .machine = ""};
  CHECK(exported.effective(none).uid == kUidNobody);
  const Credentials user{.flavor = kAuthSys, .uid = 1000, .gid = 100, .gids = {}, .machine = ""};
  exported.root_squash = true;
  CHECK(exported.effective(user).uid == 1000);
  CHECK(exported.effective(user).gid == 100);
}

}  // namespace splitarray::hostdriver::nfs
