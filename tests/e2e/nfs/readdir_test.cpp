// NFS v3 conformance through libnfs, part 5: READDIR and READDIRPLUS (RFC 1813 §3.3.16,
// 3.3.17): contents, attributes and handles, paging with small counts over 1,000 entries, and
// cookie paging while other names are created and removed between pages.
#include <map>
#include <set>

#include "tests/e2e/nfs/conformance_support.h"

namespace splitarray::e2e::nfs {
namespace {

constexpr int kPagesMax = 5000;  // bounds every listing loop

std::string numbered(const std::string& prefix, int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "%s-%04d", prefix.c_str(), i);
  return name;
}

struct Listing {
  std::map<std::string, int> seen;  // name -> how many times it was listed
  std::map<std::string, DirEntry> entries;
  int pages = 0;
  bool eof = false;
};

// Pages through `dir` with READDIR (plus = false) or READDIRPLUS, `count` bytes a reply, passing
// each reply's cookie verifier back. `between` runs after every page (concurrent changes).
template <class Between>
Listing list_all(NfsClient& nfs, const Fh& dir, bool plus, uint32_t count, Between between) {
  Listing out;
  uint64_t cookie = 0;
  Verf verf{};
  while (!out.eof) {
    REQUIRE_MESSAGE(out.pages < kPagesMax, "listing did not end after " << kPagesMax << " pages");
    const ReaddirRes res = plus ? nfs.readdirplus(dir, cookie, verf, count / 2, count)
                                : nfs.readdir(dir, cookie, verf, count);
    REQUIRE_MESSAGE(res.ok(),
                    "page " << out.pages << " at cookie " << cookie << ": " << describe(res));
    ++out.pages;
    REQUIRE_MESSAGE((!res.entries.empty() || res.eof), "an empty page that is not the end");
    for (const DirEntry& e : res.entries) {
      ++out.seen[e.name];
      out.entries[e.name] = e;
      cookie = e.cookie;
    }
    verf = res.cookieverf;
    out.eof = res.eof;
    between();
  }
  return out;
}

std::string duplicates(const Listing& listing) {
  std::string out;
  for (const auto& [name, times] : listing.seen) {
    if (times != 1) out += name + " x" + std::to_string(times) + " ";
  }
  return out;
}

TEST_CASE("e2e/nfs: READDIR and READDIRPLUS list names, fileids, attributes and handles") {
  Session s("readdir");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  std::map<std::string, Fh> made;
  for (int i = 0; i < 5; ++i) made[numbered("f", i)] = make_file(*s.nfs, dir, numbered("f", i));
  made["sub"] = make_dir(*s.nfs, dir, "sub");
  const CreateRes link = s.nfs->symlink(dir, "link", "f-0000");
  REQUIRE_OK(link);
  made["link"] = *link.fh;

  ReaddirRes res = s.nfs->readdir(dir, 0, Verf{}, 65536);
  REQUIRE_OK(res);
  CHECK(res.eof);
  REQUIRE(res.dir_attrs.has_value());
  CHECK(same_attrs(*res.dir_attrs, attrs_of(*s.nfs, dir)));
  std::set<std::string> names;
  std::set<uint64_t> cookies;
  for (const DirEntry& e : res.entries) {
    CHECK_MESSAGE(names.insert(e.name).second, "listed twice: " << e.name);
    CHECK_MESSAGE(cookies.insert(e.cookie).second, "cookie reused: " << e.cookie);
    CHECK(e.cookie != 0);
    if (e.name == "." || e.name == "..") continue;
    REQUIRE_MESSAGE(made.count(e.name) == 1, "unexpected entry " << e.name);
    CHECK(e.fileid == attrs_of(*s.nfs, made[e.name]).fileid);
  }
  CHECK(names.size() == made.size() + 2);
  REQUIRE(!res.entries.empty());
  const uint64_t last_cookie = res.entries.back().cookie;
  CHECK(names.count(".") == 1);
  CHECK(names.count("..") == 1);

  res = s.nfs->readdirplus(dir, 0, Verf{}, 65536, 65536);
  REQUIRE_OK(res);
  CHECK(res.eof);
  CHECK(res.entries.size() == made.size() + 2);
  for (const DirEntry& e : res.entries) {
    if (e.name == "." || e.name == "..") continue;
    REQUIRE(made.count(e.name) == 1);
    REQUIRE_MESSAGE(e.fh.has_value(), "no handle for " << e.name);
    CHECK(*e.fh == made[e.name]);
    REQUIRE_MESSAGE(e.attrs.has_value(), "no attributes for " << e.name);
    CHECK(same_attrs(*e.attrs, attrs_of(*s.nfs, made[e.name])));
    CHECK(e.fileid == e.attrs->fileid);
  }

  // An empty directory lists "." and ".." only.
  res = s.nfs->readdir(made["sub"], 0, Verf{}, 4096);
  REQUIRE_OK(res);
  CHECK(res.eof);
  CHECK(res.entries.size() == 2);
  // Continuing from the last cookie of a finished listing: nothing more, eof.
  res = s.nfs->readdir(dir, last_cookie, Verf{}, 4096);
  REQUIRE_OK(res);
  CHECK(res.entries.empty());
  CHECK(res.eof);
}

TEST_CASE("e2e/nfs: READDIR errors: NOTDIR, TOOSMALL, STALE, BADHANDLE") {
  Session s("readdir-errors");
  const Fh file = make_file(*s.nfs, s.root, "f");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  CHECK_STATUS(s.nfs->readdir(file, 0, Verf{}, 4096), NFS3ERR_NOTDIR);
  CHECK_STATUS(s.nfs->readdirplus(file, 0, Verf{}, 4096, 4096), NFS3ERR_NOTDIR);
  // Too small for even one entry (RFC 1813: TOOSMALL).
  CHECK_STATUS(s.nfs->readdir(dir, 0, Verf{}, 16), NFS3ERR_TOOSMALL);
  CHECK_STATUS(s.nfs->readdirplus(dir, 0, Verf{}, 16, 16), NFS3ERR_TOOSMALL);
  REQUIRE_OK(s.nfs->rmdir(s.root, "d"));
  CHECK_STATUS(s.nfs->readdir(dir, 0, Verf{}, 4096), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->readdirplus(dir, 0, Verf{}, 4096, 4096), NFS3ERR_STALE);
  CHECK_STATUS(s.nfs->readdir(bit_flipped(s.root), 0, Verf{}, 4096), NFS3ERR_BADHANDLE);
  CHECK_STATUS(s.nfs->readdirplus(bit_flipped(s.root), 0, Verf{}, 4096, 4096), NFS3ERR_BADHANDLE);
}

TEST_CASE("e2e/nfs: READDIR and READDIRPLUS paging with a small count list 1,000 names once") {
  Session s("paging");
  const Fh dir = make_dir(*s.nfs, s.root, "many");
  constexpr int kNames = 1000;
  for (int i = 0; i < kNames; ++i) {
    REQUIRE_OK(s.nfs->create(dir, numbered("entry", i), GUARDED));
  }
  for (bool plus : {false, true}) {
    INFO(std::string(plus ? "READDIRPLUS" : "READDIR"));
    const Listing listing = list_all(*s.nfs, dir, plus, 1024, [] {});
    MESSAGE(std::string(plus ? "READDIRPLUS" : "READDIR") << ": " << listing.pages << " pages");
    CHECK(listing.pages > 10);  // the count really made it page
    CHECK_MESSAGE(duplicates(listing).empty(), "listed more than once: " << duplicates(listing));
    CHECK(listing.seen.size() == kNames + 2);
    for (int i = 0; i < kNames; ++i) {
      CHECK_MESSAGE(listing.seen.count(numbered("entry", i)) == 1, numbered("entry", i));
    }
    if (plus) {
      int without_handle = 0;
      for (const auto& [name, e] : listing.entries) {
        without_handle += e.fh.has_value() || name == "." || name == ".." ? 0 : 1;
      }
      CHECK(without_handle == 0);
    }
  }
}

TEST_CASE("e2e/nfs: paging on from the cookie of an entry removed after its page") {
  // The client's next cookie names an entry that is gone by the time it asks for the next page:
  // the listing goes on after it, skipping and repeating nothing.
  Session s("paging-removed");
  const Fh dir = make_dir(*s.nfs, s.root, "d");
  constexpr int kNames = 500;
  for (int i = 0; i < kNames; ++i) REQUIRE_OK(s.nfs->create(dir, numbered("n", i), GUARDED));
  for (bool plus : {false, true}) {
    INFO(std::string(plus ? "READDIRPLUS" : "READDIR"));
    std::map<std::string, int> seen;
    std::set<std::string> removed;
    uint64_t cookie = 0;
    Verf verf{};
    bool eof = false;
    for (int page = 0; !eof; ++page) {
      REQUIRE(page < kPagesMax);
      const ReaddirRes res = plus ? s.nfs->readdirplus(dir, cookie, verf, 512, 1024)
                                  : s.nfs->readdir(dir, cookie, verf, 1024);
      REQUIRE_MESSAGE(res.ok(), "page " << page << " after removing the entry of cookie " << cookie
                                        << ": " << describe(res));
      for (const DirEntry& e : res.entries) {
        ++seen[e.name];
        cookie = e.cookie;
      }
      verf = res.cookieverf;
      eof = res.eof;
      if (!res.entries.empty() && res.entries.back().name.rfind("n-", 0) == 0) {
        REQUIRE_OK(s.nfs->remove(dir, res.entries.back().name));
        removed.insert(res.entries.back().name);
      }
    }
    CHECK(removed.size() > 10);
    int missing = 0;
    for (int i = 0; i < kNames; ++i) {
      missing += seen.count(numbered("n", i)) == 1 || removed.count(numbered("n", i)) ? 0 : 1;
    }
    CHECK_MESSAGE(missing == 0, missing << " names were skipped");
    int twice = 0;
    for (const auto& [entry, times] : seen) twice += times == 1 ? 0 : 1;
    CHECK(twice == 0);
    for (const std::string& gone : removed) {
      REQUIRE_OK(s.nfs->create(dir, gone, GUARDED));  // put them back for the next round
    }
  }
}

TEST_CASE("e2e/nfs: cookie paging while names are created and removed between pages") {
  Session s("paging-changes");
  const Fh dir = make_dir(*s.nfs, s.root, "busy");
  constexpr int kStable = 1000;
  constexpr int kVolatile = 400;
  constexpr int kChangesPerPage = 4;
  for (int i = 0; i < kStable; ++i) REQUIRE_OK(s.nfs->create(dir, numbered("stable", i), GUARDED));
  for (int i = 0; i < kVolatile; ++i) REQUIRE_OK(s.nfs->create(dir, numbered("vol", i), GUARDED));
  // Another client changes the directory between the lister's pages.
  auto other = s.cluster.client();
  for (bool plus : {false, true}) {
    INFO(std::string(plus ? "READDIRPLUS" : "READDIR"));
    int removed = 0;
    int created = 0;
    const std::string fresh = plus ? "new-plus" : "new";
    const Listing listing = list_all(*s.nfs, dir, plus, 1024, [&] {
      for (int k = 0; k < kChangesPerPage; ++k) {
        // Remove volatile names from both ends of the name space, create new ones.
        const int victim = removed % 2 == 0 ? removed / 2 : kVolatile - 1 - removed / 2;
        if (removed < kVolatile) {
          const WccRes res = other->remove(dir, numbered("vol", victim));
          REQUIRE_MESSAGE((res.ok() || res.status == NFS3ERR_NOENT), describe(res));
          ++removed;
        }
        REQUIRE_OK(other->create(dir, numbered(fresh, created++), GUARDED));
      }
    });
    MESSAGE(std::string(plus ? "READDIRPLUS" : "READDIR")
            << ": " << listing.pages << " pages, " << removed << " removed and " << created
            << " created meanwhile");
    CHECK(listing.pages > 10);
    CHECK(removed > 20);
    // No name twice; every name present for the whole listing exactly once.
    CHECK_MESSAGE(duplicates(listing).empty(), "listed more than once: " << duplicates(listing));
    int missing = 0;
    for (int i = 0; i < kStable; ++i) missing += listing.seen.count(numbered("stable", i)) ? 0 : 1;
    CHECK_MESSAGE(missing == 0, missing << " stable names were skipped");
    CHECK(listing.seen.count(".") == 1);
    CHECK(listing.seen.count("..") == 1);
    // Nothing that never existed.
    for (const auto& entry : listing.seen) {
      const std::string& name = entry.first;
      const bool known = name == "." || name == ".." || name.rfind("stable-", 0) == 0 ||
                         name.rfind("vol-", 0) == 0 || name.rfind("new-", 0) == 0;
      CHECK_MESSAGE(known, "listed a name that never existed: " << name);
    }
    // Restore the volatile names for the second round.
    for (int i = 0; i < kVolatile; ++i) {
      const CreateRes res = other->create(dir, numbered("vol", i), GUARDED);
      REQUIRE_MESSAGE((res.ok() || res.status == NFS3ERR_EXIST), describe(res));
    }
  }
}

}  // namespace
}  // namespace splitarray::e2e::nfs
