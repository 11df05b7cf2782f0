#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/endian.h"
#include "netshelf/registers/register_log.h"

namespace splitarray::netshelf {
namespace {

LogRecord record(std::string name, std::string value, uint64_t version, uint64_t epoch) {
  return LogRecord{
      .name = std::move(name),
      .state = StoredRegister{.value = std::vector<uint8_t>(value.begin(), value.end()),
                              .version = version,
                              .epoch = Epoch(epoch)}};
}

constexpr uint64_t kSalt = 0x1234'5678'9abc'def0ull;

// A file with three batches; returns the offsets where each batch starts (and the end).
std::vector<uint8_t> three_batches(std::vector<size_t>& starts) {
  std::vector<uint8_t> image = encode_file_header(kSalt);
  const std::vector<LogRecord> b1{record("a", "one", 1, 1), record("b", "x", 1, 1)};
  const std::vector<LogRecord> b2{record("a", "two", 2, 3)};
  const std::vector<LogRecord> b3{record("b", "y", 2, 1), record("c", "", 1, 9)};
  starts.push_back(image.size());
  encode_batch(kSalt, 1, b1, image);
  starts.push_back(image.size());
  encode_batch(kSalt, 2, b2, image);
  starts.push_back(image.size());
  encode_batch(kSalt, 3, b3, image);
  starts.push_back(image.size());
  return image;
}

TEST_CASE("netshelf/registers: log replays batches, last record wins") {
  std::vector<size_t> starts;
  const std::vector<uint8_t> image = three_batches(starts);
  auto log = recover_log(image);
  REQUIRE(log.ok());
  CHECK(log->salt == kSalt);
  CHECK(log->batches == 3);
  CHECK(log->valid_bytes == image.size());
  CHECK(log->torn_tail_bytes == 0);
  REQUIRE(log->registers.size() == 3);
  CHECK(log->registers.at("a") == record("a", "two", 2, 3).state);
  CHECK(log->registers.at("b") == record("b", "y", 2, 1).state);
  CHECK(log->registers.at("c") == record("c", "", 1, 9).state);
  // An empty log is just a header.
  auto empty = recover_log(encode_file_header(5));
  REQUIRE(empty.ok());
  CHECK(empty->registers.empty());
  CHECK(empty->valid_bytes == kLogFileHeaderBytes);
}

TEST_CASE("netshelf/registers: log drops a torn last batch at every cut point") {
  std::vector<size_t> starts;
  const std::vector<uint8_t> image = three_batches(starts);
  for (size_t cut = starts[2] + 1; cut < image.size(); ++cut) {
    CAPTURE(cut);
    std::vector<uint8_t> torn(image.begin(), image.begin() + static_cast<ptrdiff_t>(cut));
    auto log = recover_log(torn);
    REQUIRE(log.ok());
    CHECK(log->batches == 2);
    CHECK(log->valid_bytes == starts[2]);
    CHECK(log->torn_tail_bytes == cut - starts[2]);
    CHECK(log->registers.at("b").version == 1);
    CHECK(log->registers.count("c") == 0);
  }
  // A torn write may also land as zeros, or as the last batch with bytes flipped anywhere.
  for (size_t i = starts[2]; i < image.size(); ++i) {
    std::vector<uint8_t> rotted = image;
    rotted[i] ^= 0x10;
    auto log = recover_log(rotted);
    REQUIRE(log.ok());
    CHECK(log->batches == 2);
  }
  std::vector<uint8_t> zeros = image;
  zeros.resize(image.size() + 4096, 0);
  auto log = recover_log(zeros);
  REQUIRE(log.ok());
  CHECK(log->batches == 3);
  CHECK(log->torn_tail_bytes == 4096);
}

TEST_CASE("netshelf/registers: log reports a corrupt batch before the tail, never drops it") {
  std::vector<size_t> starts;
  const std::vector<uint8_t> image = three_batches(starts);
  // Every single-bit flip in batches 1 and 2 (header or body) is corruption, since batch 3 is
  // valid behind it.
  for (size_t i = starts[0]; i < starts[2]; ++i) {
    CAPTURE(i);
    std::vector<uint8_t> rotted = image;
    rotted[i] ^= 0x01;
    auto log = recover_log(rotted);
    REQUIRE_FALSE(log.ok());
    CHECK(log.code() == Code::kCorruption);
  }
  // The file header too.
  for (size_t i = 0; i < kLogFileHeaderBytes; ++i) {
    std::vector<uint8_t> rotted = image;
    rotted[i] ^= 0x80;
    CHECK(recover_log(rotted).code() == Code::kCorruption);
  }
  CHECK(recover_log(std::vector<uint8_t>(10, 0)).code() == Code::kCorruption);
}

TEST_CASE("netshelf/registers: log rejects sequence gaps and foreign batches") {
  std::vector<uint8_t> gap = encode_file_header(kSalt);
  const std::vector<LogRecord> one{record("a", "v", 1, 1)};
  const std::vector<LogRecord> two{record("a", "w", 2, 1)};
  encode_batch(kSalt, 1, one, gap);
  encode_batch(kSalt, 3, two, gap);
  CHECK(recover_log(gap).code() == Code::kCorruption);

  std::vector<uint8_t> down = encode_file_header(kSalt);
  encode_batch(kSalt, 1, two, down);
  encode_batch(kSalt, 2, one, down);  // version 2 then 1: never written by the store
  CHECK(recover_log(down).code() == Code::kCorruption);

  // A batch encoded with another salt (a previous file's leftovers, or a register value that
  // imitates a batch) is not part of this file: after the last batch it is a torn tail.
  std::vector<uint8_t> foreign = encode_file_header(kSalt);
  encode_batch(kSalt, 1, one, foreign);
  const size_t valid = foreign.size();
  encode_batch(kSalt + 1, 2, two, foreign);
  auto log = recover_log(foreign);
  REQUIRE(log.ok());
  CHECK(log->valid_bytes == valid);
  CHECK(log->registers.at("a").version == 1);
}

TEST_CASE("netshelf/registers: a value that embeds a batch cannot fake one") {
  // The value holds a complete batch encoded with a guessed salt; the real file uses another.
  std::vector<uint8_t> fake;
  const std::vector<LogRecord> evil{record("root", "evil", 99, 99)};
  encode_batch(0, 2, evil, fake);
  fake.insert(fake.end(), {1, 2, 3, 4});  // so a cut at the end leaves the fake whole
  std::vector<uint8_t> image = encode_file_header(kSalt);
  const std::vector<LogRecord> carrier{LogRecord{
      .name = "x", .state = StoredRegister{.value = fake, .version = 1, .epoch = Epoch(1)}}};
  encode_batch(kSalt, 1, carrier, image);
  const size_t first = image.size();
  encode_batch(kSalt, 2, carrier, image);  // torn below: its last byte never landed
  image.pop_back();
  auto log = recover_log(image);
  REQUIRE(log.ok());
  CHECK(log->registers.count("root") == 0);
  CHECK(log->valid_bytes == first);
}

}  // namespace
}  // namespace splitarray::netshelf
