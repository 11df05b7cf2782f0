// hostdriver/nfs/nfs3/nfs3_dir.cpp
// READDIR and READDIRPLUS: one listing routine; the plus form adds each entry's handle and
// attributes. Pages of the file system's readdir fill the client's byte budget exactly: an
// entry goes in only if the reply, encoded, stays within count (maxcount), and for READDIRPLUS
// the entries' fileid + name + cookie bytes within dircount (RFC 1813 §3.3.17).
#include <algorithm>

#include "common/assert.h"
#include "hostdriver/nfs/nfs3/nfs3_program.h"
#include "hostdriver/nfs/nfs3/nfs3_xdr.h"
#include "hostdriver/nfs/nfs3/permissions.h"

namespace splitarray::hostdriver::nfs::nfs3 {
namespace {

// File-system pages one reply may gather (a 1 MiB budget takes about 10 full pages).
constexpr size_t kReaddirPagesMax = 64;
// The smallest entry on the wire: a one-byte name, no handle or attributes; with them (as
// READDIRPLUS sends almost every entry); and what one costs against dircount.
constexpr size_t kDirBytesMin = 8 + 4 + kXdrUnit + 8;
constexpr size_t kEntryBytesMin = 4 + kDirBytesMin;
constexpr size_t kPlusEntryBytesMin =
    kEntryBytesMin + post_op_attr_bytes(true) + 4 + 4 + kFileHandleBytes;
// Cookies are stable for an entry's life and across restarts (records.h dir_key), so no
// verifier is needed: it is always zero and never checked, like knfsd's.
constexpr Verifier kCookieVerifier{};

}  // namespace

Task<ReaddirRes> Nfs3Program::readdir(const Context& ctx, ReaddirArgs args) {
  // READDIR has no dircount: the count alone bounds it.
  co_return co_await list<false>(ctx, args.dir, args.cookie, args.count, UINT32_MAX);
}

Task<ReaddirplusRes> Nfs3Program::readdirplus(const Context& ctx, ReaddirplusArgs args) {
  co_return co_await list<true>(ctx, args.dir, args.cookie, args.maxcount, args.dircount);
}

template <bool kPlus>
Task<ReaddirResOf<kPlus>> Nfs3Program::list(const Context& ctx, const Fh& dir_fh, uint64_t cookie,
                                            uint32_t maxcount, uint32_t dircount) {
  ReaddirResOf<kPlus> res;
  const Resolved dir = co_await resolve(dir_fh);
  res.status = dir.status;
  if (!dir.ok()) co_return res;
  res.dir = fattr(dir.attrs);
  res.status = check_list(ctx.who, dir.attrs);
  if (res.status != Status::kOk) co_return res;
  const size_t budget = std::min(maxcount, options_.readdir_bytes_max);
  size_t used = readdir_fixed_bytes(true);
  if (budget < used) {
    res.status = Status::kToosmall;
    co_return res;
  }
  size_t dir_used = 0;
  uint64_t next = cookie;
  bool full = false;
  for (size_t pages = 0; pages < kReaddirPagesMax && !full && !res.eof; ++pages) {
    // Enough entries to fill what is left of both budgets (one more: the reply may be full).
    const size_t by_bytes = (budget - used) / (kPlus ? kPlusEntryBytesMin : kEntryBytesMin);
    const size_t by_dir = (dircount - std::min<size_t>(dircount, dir_used)) / kDirBytesMin;
    const size_t entries_max =
        std::clamp<size_t>(std::min(by_bytes, by_dir) + 1, 1, fs::kReaddirEntriesMax);
    auto page = co_await fs_.readdir(dir.attrs.inode, next, entries_max);
    if (!page.ok()) {
      res.status = status_of(page.error(), NotFound::kStale);
      res.entries.clear();
      co_return res;
    }
    res.dir = fattr(page->dir);
    for (const fs::DirListEntry& found : page->entries) {
      ListEntry entry;
      entry.fileid = found.inode;
      entry.name = found.name;
      entry.cookie = found.cookie;
      if constexpr (kPlus) {
        // An entry removed since the page was read simply comes without handle and attributes.
        // Memory first: a coroutine call per entry was a visible share of a listing's time.
        std::optional<fs::Attributes> attrs = fs_.cached_attributes(found.inode);
        if (!attrs) {
          auto loaded = co_await fs_.getattr(found.inode);
          if (loaded.ok()) attrs = *loaded;
        }
        if (attrs) {
          entry.attrs = fattr(*attrs);
          entry.handle = handle_of(*attrs);
        }
      }
      const size_t bytes = readdir_entry_bytes(entry, kPlus);
      const size_t dir_bytes = readdir_entry_dir_bytes(entry);
      // The first entry always goes if the whole reply fits: dircount is only a hint.
      if (used + bytes > budget || (!res.entries.empty() && dir_used + dir_bytes > dircount)) {
        full = true;
        break;
      }
      used += bytes;
      dir_used += dir_bytes;
      next = found.cookie;
      res.entries.push_back(std::move(entry));
    }
    if (!full && page->eof) res.eof = true;
    if (page->entries.empty()) break;
  }
  if (res.entries.empty() && !res.eof) res.status = Status::kToosmall;
  res.verf = kCookieVerifier;
  ASSERT(used <= budget);
  co_return res;
}

}  // namespace splitarray::hostdriver::nfs::nfs3
