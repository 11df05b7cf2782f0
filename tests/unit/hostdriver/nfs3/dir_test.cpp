// READDIR and READDIRPLUS through Nfs3Program::call(): paging a 500-entry directory with small
// budgets returns every name exactly once and every reply within the client's byte budget;
// READDIRPLUS handles work without a LOOKUP; listings survive changes between pages; errors.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "hostdriver/nfs/nfs3/nfs3_xdr.h"
#include "tests/unit/hostdriver/nfs3/nfs3_fixture.h"

namespace splitarray::hostdriver::nfs::nfs3::nfs3_test {
namespace {

constexpr size_t kBigDirEntries = 500;
constexpr Verifier kZeroVerifier{};

std::string name_of(size_t i) { return "file-" + std::to_string(1000 + i); }

// One READDIR(PLUS) page, and the size of its encoded reply.
template <class Res>
struct Page {
  Res res;
  size_t reply_bytes = 0;
};

template <class Res, class Args>
Task<Page<Res>> page_of(Client& c, Proc proc, Args args) {
  XdrEncoder out;
  encode_args(out, args);
  std::vector<uint8_t> bytes = out.take();
  std::vector<uint8_t> reply;
  const AcceptStat stat = co_await c.raw(proc, std::move(bytes), &reply);
  REQUIRE(stat == AcceptStat::kSuccess);
  Page<Res> page;
  REQUIRE(decode_res(reply, page.res));
  page.reply_bytes = reply.size();
  co_return page;
}

// Every name of `dir`, through READDIR pages of `count` bytes; counts how often each came.
Task<std::map<std::string, int>> list_all(Client& c, Fh dir, uint32_t count, size_t* pages) {
  std::map<std::string, int> seen;
  uint64_t cookie = 0;
  for (size_t n = 0; n < 10000; ++n) {
    ReaddirArgs args;
    args.dir = dir;
    args.cookie = cookie;
    args.count = count;
    Page<ReaddirRes> page = co_await page_of<ReaddirRes>(c, Proc::kReaddir, std::move(args));
    REQUIRE_MESSAGE(page.res.status == Status::kOk, "READDIR: " << page.res.status);
    CHECK(page.reply_bytes <= count);
    CHECK(page.res.verf == kZeroVerifier);
    REQUIRE(page.res.dir.has_value());
    for (const ListEntry& entry : page.res.entries) {
      ++seen[entry.name];
      cookie = entry.cookie;
    }
    if (pages != nullptr) ++*pages;
    if (page.res.eof) co_return seen;
    REQUIRE(!page.res.entries.empty());
  }
  FAIL("READDIR did not reach eof");
  co_return seen;
}

}  // namespace

TEST_CASE("hostdriver/nfs3: READDIR and READDIRPLUS page 500 entries, each exactly once") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh big = co_await c.make_dir(n.root, "big");
    for (size_t i = 0; i < kBigDirEntries; ++i) co_await c.make_file(big, name_of(i));

    size_t pages = 0;
    std::map<std::string, int> seen = co_await list_all(c, big, 1024, &pages);
    CHECK(seen.size() == kBigDirEntries + 2);
    for (const auto& entry : seen) CHECK_MESSAGE(entry.second == 1, entry.first);
    CHECK(seen.count(".") == 1);
    CHECK(seen.count("..") == 1);
    CHECK(seen.count(name_of(0)) == 1);
    CHECK(seen.count(name_of(kBigDirEntries - 1)) == 1);
    CHECK(pages >= 502 * 36 / 1024);  // small pages: many of them

    // READDIRPLUS: budgets as a Linux client sets them (dircount = maxcount / 8).
    std::set<std::string> plus_seen;
    uint64_t cookie = 0;
    bool eof = false;
    for (int round = 0; round < 1000 && !eof; ++round) {
      ReaddirplusArgs args;
      args.dir = big;
      args.cookie = cookie;
      args.dircount = 512;
      args.maxcount = 4096;
      Page<ReaddirplusRes> page =
          co_await page_of<ReaddirplusRes>(c, Proc::kReaddirplus, std::move(args));
      REQUIRE(page.res.status == Status::kOk);
      CHECK(page.reply_bytes <= 4096);
      size_t dir_bytes = 0;
      for (const ListEntry& entry : page.res.entries) {
        dir_bytes += readdir_entry_dir_bytes(entry);
        CHECK_MESSAGE(plus_seen.insert(entry.name).second, "listed twice: " << entry.name);
        REQUIRE(entry.handle.has_value());
        REQUIRE(entry.attrs.has_value());
        CHECK(entry.attrs->fileid == entry.fileid);
        cookie = entry.cookie;
      }
      CHECK((page.res.entries.size() <= 1 || dir_bytes <= 512));
      eof = page.res.eof;
      // The handles work on their own (no LOOKUP): spot-check the first of each page.
      if (!page.res.entries.empty()) {
        const ListEntry& first = page.res.entries.front();
        GetattrRes got = co_await c.getattr(*first.handle);
        REQUIRE(got.status == Status::kOk);
        CHECK(got.attrs == *first.attrs);
        if (first.name == ".") CHECK(*first.handle == big);
        if (first.name == "..") CHECK(*first.handle == n.root);
      }
    }
    CHECK(eof);
    CHECK(plus_seen.size() == kBigDirEntries + 2);
    const Fh found = co_await c.find(big, name_of(7));
    CHECK((co_await c.attrs(found)).fileid != 0);
  });
}

TEST_CASE("hostdriver/nfs3: READDIRPLUS handles and attributes, dot and dotdot included") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "d");
    Fh file = co_await c.make_file(dir, "f");
    Fh sub = co_await c.make_dir(dir, "sub");
    ReaddirplusRes all = co_await c.readdirplus(dir, 0, 65536, 65536);
    REQUIRE(all.status == Status::kOk);
    CHECK(all.eof);
    REQUIRE(all.entries.size() == 4);
    std::map<std::string, Fh> handles;
    for (const ListEntry& entry : all.entries) {
      REQUIRE(entry.handle.has_value());
      handles[entry.name] = *entry.handle;
      CHECK(*entry.attrs == co_await c.attrs(*entry.handle));
    }
    CHECK(handles["."] == dir);
    CHECK(handles[".."] == n.root);
    CHECK(handles["f"] == file);
    CHECK(handles["sub"] == sub);
    // Too small for even one entry: TOOSMALL, with the directory's attributes.
    ReaddirplusRes tiny = co_await c.readdirplus(dir, 0, 4096, 120);
    CHECK(tiny.status == Status::kToosmall);
    CHECK(tiny.dir.has_value());
    // A tiny dircount still returns one entry per call.
    ReaddirplusRes one = co_await c.readdirplus(dir, 0, 1, 4096);
    REQUIRE(one.status == Status::kOk);
    CHECK(one.entries.size() == 1);
    CHECK_FALSE(one.eof);
  });
}

TEST_CASE("hostdriver/nfs3: READDIR budgets, cookies after changes, and errors") {
  with_nfs([](Server& n) -> Task<void> {
    Client& c = n.client;
    Fh dir = co_await c.make_dir(n.root, "d", 0711);
    for (size_t i = 0; i < 20; ++i) co_await c.make_file(dir, name_of(i));

    // Exactly room for one entry ("." : 4 + 8 + 4 + 4 + 8 bytes).
    const uint32_t one_entry = static_cast<uint32_t>(readdir_fixed_bytes(true) + 28);
    ReaddirRes single = co_await c.readdir(dir, 0, one_entry);
    REQUIRE(single.status == Status::kOk);
    REQUIRE(single.entries.size() == 1);
    CHECK(single.entries[0].name == ".");
    CHECK((co_await c.readdir(dir, 0, one_entry - 1)).status == Status::kToosmall);
    CHECK((co_await c.readdir(dir, 0, 10)).status == Status::kToosmall);

    // Changes between pages: a listing resumed from a cookie lists every name that survived
    // exactly once, whatever was removed or added meanwhile.
    ReaddirRes first = co_await c.readdir(dir, 0, 400);
    REQUIRE(first.status == Status::kOk);
    REQUIRE_FALSE(first.eof);
    std::map<std::string, int> seen;
    for (const ListEntry& entry : first.entries) ++seen[entry.name];
    REQUIRE((co_await c.remove(dir, name_of(3))).status == Status::kOk);
    REQUIRE((co_await c.remove(dir, name_of(17))).status == Status::kOk);
    co_await c.make_file(dir, "added");
    uint64_t cookie = first.entries.back().cookie;
    for (int round = 0; round < 100; ++round) {
      ReaddirRes next = co_await c.readdir(dir, cookie, 400);
      REQUIRE(next.status == Status::kOk);
      for (const ListEntry& entry : next.entries) {
        ++seen[entry.name];
        cookie = entry.cookie;
      }
      if (next.eof) break;
    }
    for (size_t i = 0; i < 20; ++i) {
      if (i == 3 || i == 17) continue;
      CHECK_MESSAGE(seen[name_of(i)] == 1, name_of(i));
    }
    for (const auto& entry : seen) CHECK_MESSAGE(entry.second == 1, entry.first);
    // The last cookie: nothing after it.
    ReaddirRes after_end = co_await c.readdir(dir, cookie, 4096);
    REQUIRE(after_end.status == Status::kOk);
    CHECK(after_end.entries.empty());
    CHECK(after_end.eof);

    // Errors.
    Fh file = co_await c.find(dir, name_of(0));
    CHECK((co_await c.readdir(file, 0, 4096)).status == Status::kNotdir);
    CHECK((co_await c.readdir(forged(dir), 0, 4096)).status == Status::kBadhandle);
    c.who = user(1000, 100);  // 0711: search but no read
    ReaddirRes denied = co_await c.readdir(dir, 0, 4096);
    CHECK(denied.status == Status::kAcces);
    CHECK(denied.dir.has_value());
    CHECK((co_await c.readdirplus(dir, 0, 4096, 4096)).status == Status::kAcces);
    CHECK((co_await c.lookup(dir, name_of(0))).status == Status::kOk);
    c.who = root();
    Fh empty = co_await c.make_dir(n.root, "empty");
    REQUIRE((co_await c.rmdir(n.root, "empty")).status == Status::kOk);
    CHECK((co_await c.readdir(empty, 0, 4096)).status == Status::kStale);
  });
}

}  // namespace splitarray::hostdriver::nfs::nfs3::nfs3_test
