// hostdriver/fs/file_system.cpp
// FileSystem: the public face (file_system.h); the work is in FileSystemImpl's parts.
#include "hostdriver/fs/file_system.h"

#include "hostdriver/fs/file_system_impl.h"

namespace splitarray::hostdriver::fs {

Task<Result<void>> FileSystem::format(Env& env, FsConfig config, FormatOptions options) {
  co_return co_await FileSystemImpl::format(env, std::move(config), options);
}

Task<Result<std::unique_ptr<FileSystem>>> FileSystem::open(Env& env, FsConfig config) {
  if (config.lease_check_interval <= Duration::zero()) {
    co_return make_error(Code::kInvalidArgument, "lease_check_interval must be positive");
  }
  auto impl = std::make_unique<FileSystemImpl>(env, std::move(config));
  auto opened = co_await impl->open();
  if (!opened.ok()) {
    co_await impl->close();
    co_return opened.error();
  }
  co_return std::unique_ptr<FileSystem>(new FileSystem(std::move(impl)));
}

FileSystem::FileSystem(std::unique_ptr<FileSystemImpl> impl) : impl_(std::move(impl)) {}
FileSystem::~FileSystem() = default;

Task<Result<Attributes>> FileSystem::getattr(uint64_t inode) {
  co_return co_await impl_->getattr(inode);
}
std::optional<Attributes> FileSystem::cached_attributes(uint64_t inode) {
  return impl_->cached_attributes(inode);
}
Task<Result<Attributes>> FileSystem::lookup(uint64_t dir, std::string name) {
  co_return co_await impl_->lookup(dir, std::move(name));
}
Task<Result<CreateResult>> FileSystem::create(uint64_t dir, std::string name, CreateMode mode,
                                              SetAttributes set, uint64_t verifier) {
  co_return co_await impl_->create_node(dir, std::move(name), FileType::kRegular, mode, set,
                                        verifier, {}, 0, 0);
}
Task<Result<CreateResult>> FileSystem::mkdir(uint64_t dir, std::string name, SetAttributes set) {
  co_return co_await impl_->create_node(dir, std::move(name), FileType::kDirectory,
                                        CreateMode::kGuarded, set, 0, {}, 0, 0);
}
Task<Result<CreateResult>> FileSystem::symlink(uint64_t dir, std::string name, std::string target,
                                               SetAttributes set) {
  co_return co_await impl_->create_node(dir, std::move(name), FileType::kSymlink,
                                        CreateMode::kGuarded, set, 0, std::move(target), 0, 0);
}
Task<Result<CreateResult>> FileSystem::mknod(uint64_t dir, std::string name, FileType type,
                                             SetAttributes set, uint32_t rdev_major,
                                             uint32_t rdev_minor) {
  if (type == FileType::kRegular || type == FileType::kDirectory || type == FileType::kSymlink) {
    co_return make_error(Code::kInvalidArgument, "mknod makes devices, sockets and fifos");
  }
  co_return co_await impl_->create_node(dir, std::move(name), type, CreateMode::kGuarded, set, 0,
                                        {}, rdev_major, rdev_minor);
}
Task<Result<std::string>> FileSystem::readlink(uint64_t inode) {
  co_return co_await impl_->readlink(inode);
}
Task<Result<LinkResult>> FileSystem::link(uint64_t inode, uint64_t dir, std::string name) {
  co_return co_await impl_->link(inode, dir, std::move(name));
}
Task<Result<RemoveResult>> FileSystem::remove(uint64_t dir, std::string name) {
  co_return co_await impl_->remove(dir, std::move(name), false);
}
Task<Result<RemoveResult>> FileSystem::rmdir(uint64_t dir, std::string name) {
  co_return co_await impl_->remove(dir, std::move(name), true);
}
Task<Result<RenameResult>> FileSystem::rename(uint64_t from_dir, std::string from_name,
                                              uint64_t to_dir, std::string to_name) {
  co_return co_await impl_->rename(from_dir, std::move(from_name), to_dir, std::move(to_name));
}
Task<Result<SetattrResult>> FileSystem::setattr(uint64_t inode, SetAttributes set,
                                                std::optional<WallTime> guard_ctime) {
  co_return co_await impl_->setattr(inode, set, guard_ctime);
}
Task<Result<ReadResult>> FileSystem::read(uint64_t inode, uint64_t offset, uint32_t count) {
  co_return co_await impl_->read(inode, offset, count);
}
Task<Result<WriteResult>> FileSystem::write(uint64_t inode, uint64_t offset,
                                            std::vector<uint8_t> data, Stability stability) {
  co_return co_await impl_->write(inode, offset, std::move(data), stability);
}
Task<Result<void>> FileSystem::commit() { co_return co_await impl_->commit(); }
Task<Result<FsStat>> FileSystem::fsstat() { co_return co_await impl_->fsstat(); }
Task<Result<DirPage>> FileSystem::readdir(uint64_t dir, uint64_t cookie, size_t entries_max) {
  co_return co_await impl_->readdir(dir, cookie, entries_max);
}
Task<Result<void>> FileSystem::checkpoint() { co_return co_await impl_->checkpoint(); }
Task<void> FileSystem::close() { co_await impl_->close(); }
std::optional<Error> FileSystem::close_error() const { return impl_->close_error(); }
void FileSystem::abandon() { impl_->abandon(); }
uint64_t FileSystem::fs_id() const { return impl_->fs_id(); }
std::optional<Error> FileSystem::fenced() const { return impl_->fenced(); }
uint64_t FileSystem::write_verifier() const { return impl_->store().write_verifier(); }
FsStats FileSystem::stats() const { return impl_->stats(); }
blockstore::BlockStore& FileSystem::store() { return impl_->store(); }

}  // namespace splitarray::hostdriver::fs
