// hostdriver/blockstore/bloom_loader.cpp
// Filling the Bloom filter (the summary vector, DESIGN.md §3 step 4) from the shelf's index at
// open. The filter may only skip index lookups once it holds every fp the index held when this
// host started; before, a datastore that ever held data (every formatted one: the root
// directory is a chunk) never trusted its filter, and every new block cost a lookup round trip.
// So open() starts this loop: it pages through the index in fp order (IndexListRequest) and adds
// every fp; at the end of the listing the filter is trusted. Until then lookups go to the shelf
// as before. Fps this host stores meanwhile are added by the write path as always.
// Other hosts' inserts after the listing passed their place are not in the filter: a block
// equal to one of them is stored again (less dedup, never wrong data), the same as for a filter
// trusted because the index started empty.
// A listing that reports the index rebuilding stops without trusting (it may miss entries);
// errors are retried every kReconnectDelay, at most kBloomLoadAttemptsMax in a row.
#include <string>

#include "hostdriver/blockstore/block_store_impl.h"

namespace splitarray::hostdriver::blockstore {

Task<void> BlockStoreImpl::run_bloom_loader() {
  ASSERT(bloom_.has_value());
  ASSERT(!bloom_trusted_);
  protocol::Fingerprint cursor{};  // all zero: the first fp there is
  int failures = 0;
  while (!closing_) {
    auto client = co_await link_.client();
    Result<protocol::IndexListRep> page = make_error(Code::kUnavailable, "no connection");
    if (client.ok()) {
      page = co_await (*client)->index_list(cursor, protocol::kIndexListMax);
    } else {
      page = client.error();
    }
    if (closing_ || link_.closed()) co_return;
    if (!page.ok()) {
      link_.reset_if_broken(page.error());
      if (++failures >= kBloomLoadAttemptsMax) {
        env_.log.warn("blockstore.bloom_load_failed", {{"error", page.error().to_string()}});
        co_return;
      }
      co_await sleep_for(env_.clock, kReconnectDelay);
      continue;
    }
    failures = 0;
    if (page->rebuilding) {
      env_.log.warn("blockstore.bloom_load_stopped", {{"reason", "the index is being rebuilt"}});
      co_return;
    }
    for (const protocol::Fingerprint& fp : page->fingerprints) bloom_->add(fp);
    stats_.bloom_loaded_entries += page->fingerprints.size();
    if (page->end) break;
    cursor = page->next;
  }
  if (closing_) co_return;
  bloom_trusted_ = true;
  env_.log.info("blockstore.bloom_loaded",
                {{"entries", std::to_string(stats_.bloom_loaded_entries)}});
}

}  // namespace splitarray::hostdriver::blockstore
