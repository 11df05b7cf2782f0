// READ, WRITE and COMMIT through Nfs3Program::call(): bytes read back, the exact WCC of writes,
// stable_how and the write verifier (equal to COMMIT's, changed by a restart), short reads and
// writes at rtmax / wtmax, and the errors.
#include <doctest/doctest.h>

#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {
namespace {

constexpr uint64_t kOffsetLast = INT64_MAX;  // the last offset a file may have
constexpr uint64_t kOffsetBeyond = kOffsetLast + 1;

std::string text_of(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

TEST_CASE("hostdriver/nfs3: WRITE and READ move bytes, with exact WCC and eof") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f");
    const Fattr before = co_await c.attrs(file);
    WriteRes written = co_await c.write(file, 0, bytes_of("0123456789"));
    REQUIRE(written.status == Status::kOk);
    CHECK(written.count == 10);
    const Fattr after = co_await c.attrs(file);
    CHECK(wcc_is(written.wcc, before, after));
    CHECK(after.size == 10);
    CHECK(after.used == 4096);

    // A second write extending the file: its "before" is the first one's "after".
    WriteRes more = co_await c.write(file, 8192, bytes_of("tail"));
    REQUIRE(more.status == Status::kOk);
    const Fattr grown = co_await c.attrs(file);
    CHECK(wcc_is(more.wcc, after, grown));
    CHECK(grown.size == 8196);

    ReadRes head = co_await c.read(file, 0, 10);
    REQUIRE(head.status == Status::kOk);
    CHECK(text_of(head.data) == "0123456789");
    CHECK_FALSE(head.eof);
    REQUIRE(head.attrs.has_value());
    CHECK(head.attrs->size == 8196);
    ReadRes hole = co_await c.read(file, 10, 8);
    CHECK(hole.data == std::vector<uint8_t>(8, 0));
    ReadRes end = co_await c.read(file, 8190, 100);
    CHECK(end.data.size() == 6);
    CHECK(end.eof);
    ReadRes past = co_await c.read(file, 1'000'000, 100);
    REQUIRE(past.status == Status::kOk);
    CHECK(past.data.empty());
    CHECK(past.eof);
    ReadRes nothing = co_await c.read(file, 0, 0);
    CHECK(nothing.data.empty());
    CHECK_FALSE(nothing.eof);
    CHECK(n.program.stats().written_bytes == 14);
    CHECK(n.program.stats().read_bytes == 24);
  });
}

TEST_CASE("hostdriver/nfs3: READ and WRITE refuse what they cannot do") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh tmp = co_await c.make_dir(n.root, "tmp", 0777);
    Fh file = co_await c.make_file(n.root, "f", 0644);
    co_await c.put(file, 0, "data");
    const Fattr attrs = co_await c.attrs(file);
    WriteRes far = co_await c.write(file, kOffsetBeyond, bytes_of("x"));
    CHECK(far.status == Status::kFbig);
    CHECK(wcc_is(far.wcc, attrs, attrs));
    CHECK((co_await c.write(file, kOffsetLast, bytes_of("xy"))).status == Status::kFbig);
    CHECK((co_await c.read(file, kOffsetBeyond, 10)).status == Status::kInval);
    ReadRes dir_read = co_await c.read(n.root, 0, 10);
    CHECK(dir_read.status == Status::kIsdir);
    CHECK(dir_read.attrs.has_value());
    CHECK((co_await c.write(n.root, 0, bytes_of("x"))).status == Status::kIsdir);
    CreateRes link = co_await c.symlink(n.root, "l", "f");
    CHECK((co_await c.read(*link.object, 0, 10)).status == Status::kInval);
    CHECK((co_await c.write(*link.object, 0, bytes_of("x"))).status == Status::kInval);
    CHECK((co_await c.commit(*link.object)).status == Status::kInval);
    CHECK((co_await c.commit(n.root)).status == Status::kIsdir);

    // Permissions: another user reads a 0644 file but does not write it.
    c.who = user(1000, 100);
    CHECK((co_await c.read(file, 0, 4)).status == Status::kOk);
    WriteRes denied = co_await c.write(file, 0, bytes_of("evil"));
    CHECK(denied.status == Status::kAcces);
    CHECK(wcc_is(denied.wcc, attrs, attrs));
    CHECK((co_await c.commit(file)).status == Status::kAcces);
    // The owner writes a 0444 file (owner override), another user cannot read a 0600 one.
    Fh readonly = co_await c.make_file(tmp, "ro", 0444);
    CHECK((co_await c.write(readonly, 0, bytes_of("mine"))).status == Status::kOk);
    Fh secret = co_await c.make_file(tmp, "secret", 0600);
    co_await c.put(secret, 0, "s");
    c.who = user(1001, 100);
    CHECK((co_await c.read(secret, 0, 1)).status == Status::kAcces);
    CHECK((co_await c.read(readonly, 0, 4)).status == Status::kOk);
  });
}

TEST_CASE("hostdriver/nfs3: READ stops at rtmax and WRITE at wtmax") {
  Nfs3Options options;
  options.rtmax = 8192;
  options.rtpref = 8192;
  options.wtmax = 4096;
  options.wtpref = 4096;
  with_nfs(
      [](Server& n) -> Task<void> {
        Client& c = n.client;
        Fh file = co_await c.make_file(n.root, "f");
        std::vector<uint8_t> data(10000);
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
        WriteRes shortened = co_await c.write(file, 0, data);
        REQUIRE(shortened.status == Status::kOk);
        CHECK(shortened.count == 4096);  // a short write: the client sends the rest
        CHECK((co_await c.attrs(file)).size == 4096);
        const std::vector<uint8_t> rest(data.begin() + 4096, data.end());
        WriteRes second = co_await c.write(file, 4096, rest);
        CHECK(second.count == 4096);
        const std::vector<uint8_t> last(data.begin() + 8192, data.end());
        CHECK((co_await c.write(file, 8192, last)).count == 10000 - 8192);

        ReadRes first = co_await c.read(file, 0, 20000);
        REQUIRE(first.status == Status::kOk);
        CHECK(first.data.size() == 8192);
        CHECK_FALSE(first.eof);
        ReadRes tail = co_await c.read(file, 8192, 20000);
        CHECK(tail.eof);
        std::vector<uint8_t> whole = first.data;
        whole.insert(whole.end(), tail.data.begin(), tail.data.end());
        CHECK(whole == data);
      },
      test_export(), options);
}

TEST_CASE("hostdriver/nfs3: WRITE honours stable_how, its verifier is COMMIT's until a restart") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f");
    WriteRes unstable = co_await c.write(file, 0, bytes_of("one"), StableHow::kUnstable);
    REQUIRE(unstable.status == Status::kOk);
    CHECK(unstable.committed == StableHow::kUnstable);
    WriteRes data_sync = co_await c.write(file, 3, bytes_of("two"), StableHow::kDataSync);
    REQUIRE(data_sync.status == Status::kOk);
    CHECK(data_sync.committed == StableHow::kFileSync);  // metadata rides with the data
    WriteRes file_sync = co_await c.write(file, 6, bytes_of("six"), StableHow::kFileSync);
    REQUIRE(file_sync.status == Status::kOk);
    CHECK(file_sync.committed == StableHow::kFileSync);
    CHECK(unstable.verf == data_sync.verf);
    CHECK(unstable.verf == file_sync.verf);
    CHECK(unstable.verf == verifier_of(n.fs.write_verifier()));

    WriteRes again = co_await c.write(file, 9, bytes_of("!"), StableHow::kUnstable);
    const Fattr before_commit = co_await c.attrs(file);
    CommitRes committed = co_await c.commit(file);
    REQUIRE(committed.status == Status::kOk);
    CHECK(committed.verf == again.verf);
    CHECK(wcc_is(committed.wcc, before_commit, before_commit));  // COMMIT changes nothing
    CHECK((co_await c.commit(forged(file))).status == Status::kBadhandle);

    // A restart: the same handles still work (ESXi needs that), the data committed is there,
    // and the verifier is new (what was unstable might have been lost).
    fs::FileSystem* reopened = co_await n.session.restart(&n.fs);
    Nfs3Program program(n.session.env(), *reopened, test_export(), HandleCodec(test_key()),
                        Nfs3Options{});
    Client after(program);
    CHECK(program.root_handle() == n.root.bytes);
    ReadRes data = co_await after.read(file, 0, 100);
    REQUIRE(data.status == Status::kOk);
    CHECK(text_of(data.data) == "onetwosix!");
    CommitRes new_commit = co_await after.commit(file);
    REQUIRE(new_commit.status == Status::kOk);
    CHECK(new_commit.verf != committed.verf);
    WriteRes new_write = co_await after.write(file, 0, bytes_of("O"), StableHow::kUnstable);
    CHECK(new_write.verf == new_commit.verf);
  });
}

TEST_CASE("hostdriver/nfs3: a WRITE whose count disagrees with its data is GARBAGE_ARGS") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh file = co_await c.make_file(n.root, "f");
    WriteArgs args;
    args.file = file;
    args.count = 5;
    args.stable = StableHow::kFileSync;
    args.data = bytes_of("four");
    XdrEncoder out;
    encode_args(out, args);
    std::vector<uint8_t> bytes = out.take();
    CHECK(co_await c.raw(Proc::kWrite, bytes, nullptr) == AcceptStat::kGarbageArgs);
    CHECK((co_await c.attrs(file)).size == 0);
    CHECK(n.program.stats().garbage_args == 1);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
