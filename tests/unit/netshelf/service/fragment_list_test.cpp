// The fragment-list request (fsck's view of what a disk stores): pages in (container, index)
// order that resume exactly where the previous one stopped, payload lengths as stored, deletes and
// rewrites reflected, a failed disk kUnavailable and an unknown disk kNotFound.
#include <doctest/doctest.h>

#include "tests/unit/netshelf/service/service_fixture.h"

namespace splitarray::netshelf::service_test {
namespace {

using protocol::FragmentCursor;
using protocol::FragmentIdValue;
using protocol::ListedFragmentValue;

// Every fragment on `disk`, `page_max` at a time; fails the test on an error or a stuck listing.
Task<std::vector<ListedFragmentValue>> list_all(ShelfClient& client, DiskIndex disk,
                                                uint32_t page_max, size_t* pages) {
  std::vector<ListedFragmentValue> all;
  FragmentCursor from;
  *pages = 0;
  while (true) {
    auto page = co_await client.fragment_list(disk, from, page_max);
    REQUIRE_MESSAGE(page.ok(), why(page));
    ++*pages;
    REQUIRE(*pages < 100);
    if (page_max != 0) CHECK(page->fragments.size() <= page_max);
    all.insert(all.end(), page->fragments.begin(), page->fragments.end());
    if (page->end) break;
    from = page->next;
  }
  co_return all;
}

ListedFragmentValue entry(FragmentIdValue id, uint32_t payload_length) {
  return ListedFragmentValue{id, payload_length};
}

constexpr uint64_t kHighContainer = uint64_t{1} << 39;

// What the first test writes to disk 0, in listing order.
std::vector<ListedFragmentValue> written_to_disk0() {
  return {entry(fragment_id(7, 1), 4000), entry(fragment_id(7, 9), 2000),
          entry(fragment_id(300, 0), 3000), entry(fragment_id(300, 2), 1000),
          entry(fragment_id(kHighContainer, 255), 5000)};
}
// ... after deleting (7, 9) and rewriting (300, 2) as generation 2.
std::vector<ListedFragmentValue> disk0_after_changes() {
  return {entry(fragment_id(7, 1), 4000), entry(fragment_id(300, 0), 3000),
          entry(fragment_id(300, 2, 2), 1500), entry(fragment_id(kHighContainer, 255), 5000)};
}

Task<void> write_listed(ShelfClient& client, DiskIndex disk, FragmentIdValue id,
                        size_t payload_bytes) {
  const std::vector<uint8_t> fragment =
      make_fragment(id, pattern_bytes(payload_bytes, id.container_id * 16 + id.index));
  auto written = co_await client.fragment_write(HostId(1), Epoch(1), disk, id, fragment);
  REQUIRE_MESSAGE(written.ok(), why(written));
}

TEST_CASE("netshelf/service: fragment list pages through a disk in container and index order") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    // Written out of order, on disk 0, with distinct payload lengths; one fragment on disk 1.
    co_await write_listed(*client, DiskIndex(0), fragment_id(300, 2), 1000);
    co_await write_listed(*client, DiskIndex(0), fragment_id(7, 9), 2000);
    co_await write_listed(*client, DiskIndex(0), fragment_id(300, 0), 3000);
    co_await write_listed(*client, DiskIndex(0), fragment_id(7, 1), 4000);
    co_await write_listed(*client, DiskIndex(0), fragment_id(kHighContainer, 255), 5000);
    co_await write_listed(*client, DiskIndex(1), fragment_id(8, 0), 6000);
    const std::vector<ListedFragmentValue> expected = written_to_disk0();

    size_t pages = 0;
    CHECK(co_await list_all(*client, DiskIndex(0), 0, &pages) == expected);
    CHECK(pages == 1);
    CHECK(co_await list_all(*client, DiskIndex(0), 2, &pages) == expected);
    CHECK(pages == 3);
    CHECK(co_await list_all(*client, DiskIndex(0), 1, &pages) == expected);
    CHECK(pages == 5);

    // A page that ends exactly at the last fragment says so; a cursor in the middle of a
    // container starts at the next stored index.
    const FragmentCursor in_300{300, 1};
    auto two = co_await client->fragment_list(DiskIndex(0), in_300, 2);
    REQUIRE_MESSAGE(two.ok(), why(two));
    REQUIRE(two->fragments.size() == 2);
    CHECK(two->fragments[0] == expected[3]);
    CHECK(two->fragments[1] == expected[4]);
    CHECK(two->end);
    const FragmentCursor in_7{7, 2};
    auto middle = co_await client->fragment_list(DiskIndex(0), in_7, 1);
    REQUIRE_MESSAGE(middle.ok(), why(middle));
    REQUIRE(middle->fragments.size() == 1);
    CHECK(middle->fragments[0] == expected[1]);
    CHECK_FALSE(middle->end);
    CHECK(middle->next == FragmentCursor{300, 0});

    auto other = co_await list_all(*client, DiskIndex(1), 0, &pages);
    REQUIRE(other.size() == 1);
    CHECK(other[0] == entry(fragment_id(8, 0), 6000));
    auto empty = co_await list_all(*client, DiskIndex(2), 0, &pages);
    CHECK(empty.empty());

    // Deletes and newer generations show; a restart lists the same.
    auto deleted =
        co_await client->fragment_delete(HostId(1), Epoch(1), DiskIndex(0), fragment_id(7, 9));
    REQUIRE_MESSAGE(deleted.ok(), why(deleted));
    co_await write_listed(*client, DiskIndex(0), fragment_id(300, 2, 2), 1500);
    CHECK(co_await list_all(*client, DiskIndex(0), 3, &pages) == disk0_after_changes());
    co_await client->close();
  });
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    size_t pages = 0;
    CHECK(co_await list_all(*client, DiskIndex(0), 0, &pages) == disk0_after_changes());
    co_await client->close();
  });
}

TEST_CASE("netshelf/service: fragment list of a failed or unknown disk is an error") {
  Fixture f;
  f.serve([&](Served& s) -> Task<void> {
    auto client = co_await f.connect(s.address);
    co_await write_listed(*client, DiskIndex(1), fragment_id(4, 0), 100);
    auto failed =
        co_await client->disk_admin(Epoch(1), DiskIndex(1), protocol::DiskActionValue::kFail);
    REQUIRE_MESSAGE(failed.ok(), why(failed));
    const FragmentCursor start;
    auto listed = co_await client->fragment_list(DiskIndex(1), start, 0);
    CHECK_MESSAGE(failed_with(listed, Code::kUnavailable), why(listed));
    auto unknown = co_await client->fragment_list(DiskIndex(kTestDisks), start, 0);
    CHECK_MESSAGE(failed_with(unknown, Code::kNotFound), why(unknown));
    // The connection still serves.
    auto healthy = co_await client->fragment_list(DiskIndex(0), start, 0);
    REQUIRE_MESSAGE(healthy.ok(), why(healthy));
    CHECK(healthy->fragments.empty());
    CHECK(healthy->end);
    co_await client->close();
  });
}

}  // namespace
}  // namespace splitarray::netshelf::service_test
