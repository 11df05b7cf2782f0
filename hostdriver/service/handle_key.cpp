// hostdriver/service/handle_key.cpp
#include "hostdriver/service/handle_key.h"

#include <algorithm>

namespace splitarray::hostdriver::service {
namespace {

// Creation races at most once per contender; a few rounds is plenty.
constexpr int kCreateAttemptsMax = 4;

Result<nfs::HandleKey> key_of(const std::vector<uint8_t>& value) {
  nfs::HandleKey key{};
  if (value.size() != key.size()) {
    return make_error(Code::kCorruption, "the NFS handle key register holds " +
                                             std::to_string(value.size()) + " bytes, not " +
                                             std::to_string(key.size()));
  }
  std::copy(value.begin(), value.end(), key.begin());
  return key;
}

}  // namespace

std::string handle_key_register(const std::string& datastore) {
  return "datastores/" + datastore + "/nfs_handle_key";
}

Task<Result<nfs::HandleKey>> load_or_create_handle_key(protocol::ShelfClient& shelf,
                                                       std::string datastore,
                                                       nfs::HandleKey fresh) {
  const std::string name = handle_key_register(datastore);
  for (int attempt = 0; attempt < kCreateAttemptsMax; ++attempt) {
    auto current = co_await shelf.register_get(name);
    if (!current.ok()) co_return std::move(current).take_error();
    if (current->exists) co_return key_of(current->value);
    std::vector<uint8_t> value(fresh.begin(), fresh.end());
    auto created = co_await shelf.register_cas(name, 0, std::move(value), Epoch(0));
    if (!created.ok()) co_return std::move(created).take_error();
    if (created->swapped) co_return fresh;
    if (created->current.exists) co_return key_of(created->current.value);
  }
  co_return make_error(Code::kUnavailable, "could not create the NFS handle key register");
}

}  // namespace splitarray::hostdriver::service
