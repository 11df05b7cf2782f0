// nfs_fuse: mounts an NFSv3 export through FUSE, using libnfs as the NFS client, so ordinary
// programs (tar, git, sqlite3, fio) can run over an NFS server on a machine without a kernel NFS
// client. Test tooling: one process, one libnfs context, FUSE single-threaded (libnfs contexts are
// not thread-safe), every call synchronous.
//
//   nfs_fuse 'nfs://127.0.0.1/EXPORT?nfsport=N&mountport=M' MOUNTPOINT [-f] [fuse options]
//
// What the kernel sees is the server's truth: attribute, entry and negative lookups are never
// cached (timeouts 0), the page cache is dropped on every open (kernel_cache off), libnfs's own
// directory cache is off, and close() and fsync() send COMMIT for files that were written.
// Invariants:
//   (1) Every FUSE callback makes only synchronous libnfs calls on the one context.
//   (2) A FUSE file handle (fi->fh) owns exactly one open nfsfh until release.
// Errors: libnfs returns -errno, passed straight back to the kernel, except its RPC-level
// failures (-EFAULT for a broken connection or garbled reply, -EINTR for a timeout), which an
// application must see as -EIO.
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <nfsc/libnfs.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// A sync call that gets no reply within this time fails with EIO instead of hanging the mount
// (and every process that touches it) forever.
constexpr int kCallTimeoutMs = 60'000;

// The mount: owns the libnfs context. Reached from callbacks through fuse's private_data.
struct Bridge {
  nfs_context* nfs = nullptr;
  uint64_t read_max_bytes = 0;
  uint64_t write_max_bytes = 0;
  bool verbose = false;  // NFS_FUSE_VERBOSE=1: log every failed call, not only I/O errors
};

// One open file.
struct OpenFile {
  nfsfh* fh = nullptr;
  bool written = false;  // close() commits only files written through this handle
};

Bridge& bridge() { return *static_cast<Bridge*>(fuse_get_context()->private_data); }
nfs_context* nfs() { return bridge().nfs; }
OpenFile& open_file(const fuse_file_info* fi) { return *reinterpret_cast<OpenFile*>(fi->fh); }

// Maps a libnfs result to what the kernel gets, logging failures worth a look.
int result(int rc, const char* op, const char* path) {
  if (rc >= 0) return rc;
  const bool io_failure = rc == -EFAULT || rc == -EINTR || rc == -EIO;
  if (io_failure) rc = -EIO;
  if (io_failure || bridge().verbose) {
    std::fprintf(stderr, "nfs_fuse: %s %s: %s (%s)\n", op, path, strerror(-rc),
                 nfs_get_error(nfs()));
  }
  return rc;
}

void to_stat(const nfs_stat_64& in, struct stat* out) {
  *out = {};
  out->st_dev = in.nfs_dev;
  out->st_ino = in.nfs_ino;
  out->st_mode = static_cast<mode_t>(in.nfs_mode);
  out->st_nlink = in.nfs_nlink;
  out->st_uid = static_cast<uid_t>(in.nfs_uid);
  out->st_gid = static_cast<gid_t>(in.nfs_gid);
  out->st_rdev = in.nfs_rdev;
  out->st_size = static_cast<off_t>(in.nfs_size);
  out->st_blksize = static_cast<blksize_t>(in.nfs_blksize);
  out->st_blocks = static_cast<blkcnt_t>(in.nfs_blocks);
  out->st_atim = {static_cast<time_t>(in.nfs_atime), static_cast<long>(in.nfs_atime_nsec)};
  out->st_mtim = {static_cast<time_t>(in.nfs_mtime), static_cast<long>(in.nfs_mtime_nsec)};
  out->st_ctim = {static_cast<time_t>(in.nfs_ctime), static_cast<long>(in.nfs_ctime_nsec)};
}

// Flags libnfs understands on open/create. O_APPEND is left out: the kernel already turns an
// append into a write at the current end of file, and every write here is positional.
int open_flags(int flags) { return flags & (O_ACCMODE | O_TRUNC | O_EXCL | O_SYNC | O_DSYNC); }

// ---- attributes -------------------------------------------------------------------------------

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  nfs_stat_64 attrs{};
  // An open file is asked by handle: its name may already be gone (unlink while open).
  const int rc = fi != nullptr ? nfs_fstat64(nfs(), open_file(fi).fh, &attrs)
                               : nfs_lstat64(nfs(), path, &attrs);
  if (rc < 0) return result(rc, "getattr", path);
  to_stat(attrs, st);
  return 0;
}

// The kernel resolved every symbolic link on the way: the last component is the object itself,
// so the l* variants (no follow) are always the right ones below.
int op_chmod(const char* path, mode_t mode, fuse_file_info*) {
  return result(nfs_lchmod(nfs(), path, static_cast<int>(mode)), "chmod", path);
}

int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info*) {
  // (uid_t)-1 / (gid_t)-1 mean "leave unchanged", as -1 means to libnfs.
  return result(nfs_lchown(nfs(), path, static_cast<int>(uid), static_cast<int>(gid)), "chown",
                path);
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (size < 0) return -EINVAL;
  const auto length = static_cast<uint64_t>(size);
  const int rc = fi != nullptr ? nfs_ftruncate(nfs(), open_file(fi).fh, length)
                               : nfs_truncate(nfs(), path, length);
  return result(rc, "truncate", path);
}

// NFSv3 carries nanoseconds, libnfs 4.0's utimes only microseconds: sub-microsecond parts are
// dropped. UTIME_OMIT keeps the current value, UTIME_NOW is the client's clock, and "both now"
// (touch) asks for the server's clock.
int op_utimens(const char* path, const struct timespec tv[2], fuse_file_info*) {
  if (tv[0].tv_nsec == UTIME_NOW && tv[1].tv_nsec == UTIME_NOW) {
    return result(nfs_lutimes(nfs(), path, nullptr), "utimens", path);
  }
  nfs_stat_64 current{};
  if (tv[0].tv_nsec == UTIME_OMIT || tv[1].tv_nsec == UTIME_OMIT) {
    const int rc = nfs_lstat64(nfs(), path, &current);
    if (rc < 0) return result(rc, "utimens", path);
  }
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  const uint64_t current_seconds[2] = {current.nfs_atime, current.nfs_mtime};
  const uint64_t current_nsec[2] = {current.nfs_atime_nsec, current.nfs_mtime_nsec};
  struct timeval times[2];
  for (int i = 0; i < 2; ++i) {
    struct timespec t = tv[i];
    if (t.tv_nsec == UTIME_NOW) t = now;
    if (t.tv_nsec == UTIME_OMIT) {
      t = {static_cast<time_t>(current_seconds[i]), static_cast<long>(current_nsec[i])};
    }
    times[i] = {t.tv_sec, static_cast<suseconds_t>(t.tv_nsec / 1000)};
  }
  return result(nfs_lutimes(nfs(), path, times), "utimens", path);
}

int op_statfs(const char* path, struct statvfs* out) {
  nfs_statvfs_64 in{};
  const int rc = nfs_statvfs64(nfs(), path, &in);
  if (rc < 0) return result(rc, "statfs", path);
  *out = {};
  out->f_bsize = in.f_bsize;
  out->f_frsize = in.f_frsize;
  out->f_blocks = in.f_blocks;
  out->f_bfree = in.f_bfree;
  out->f_bavail = in.f_bavail;
  out->f_files = in.f_files;
  out->f_ffree = in.f_ffree;
  out->f_favail = in.f_favail;
  out->f_fsid = in.f_fsid;
  out->f_flag = in.f_flag;
  out->f_namemax = in.f_namemax;
  return 0;
}

// ---- names ------------------------------------------------------------------------------------

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*,
               fuse_readdir_flags) {
  nfsdir* dir = nullptr;
  const int rc = nfs_opendir(nfs(), path, &dir);
  if (rc < 0) return result(rc, "readdir", path);
  // libnfs reads the whole directory at opendir: this loop only walks memory.
  for (nfsdirent* entry = nfs_readdir(nfs(), dir); entry != nullptr;
       entry = nfs_readdir(nfs(), dir)) {
    struct stat st {};
    st.st_ino = entry->inode;
    st.st_mode = static_cast<mode_t>(entry->mode);  // only the type bits matter (d_type)
    if (filler(buf, entry->name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  nfs_closedir(nfs(), dir);
  return 0;
}

int op_readlink(const char* path, char* buf, size_t size) {
  if (size == 0) return -EINVAL;
  char* target = nullptr;
  const int rc = nfs_readlink2(nfs(), path, &target);
  if (rc < 0) return result(rc, "readlink", path);
  // FUSE wants a NUL-terminated target, truncated to the buffer like readlink(2).
  const size_t length = std::min(strlen(target), size - 1);
  memcpy(buf, target, length);
  buf[length] = '\0';
  free(target);
  return 0;
}

int op_mkdir(const char* path, mode_t mode) {
  return result(nfs_mkdir2(nfs(), path, static_cast<int>(mode)), "mkdir", path);
}

int op_mknod(const char* path, mode_t mode, dev_t rdev) {
  if (!S_ISREG(mode)) {
    return result(nfs_mknod(nfs(), path, static_cast<int>(mode), static_cast<int>(rdev)), "mknod",
                  path);
  }
  nfsfh* fh = nullptr;
  const int rc = nfs_create(nfs(), path, O_EXCL, static_cast<int>(mode & 07777), &fh);
  if (rc < 0) return result(rc, "mknod", path);
  return result(nfs_close(nfs(), fh), "mknod", path);
}

int op_unlink(const char* path) { return result(nfs_unlink(nfs(), path), "unlink", path); }
int op_rmdir(const char* path) { return result(nfs_rmdir(nfs(), path), "rmdir", path); }

int op_symlink(const char* target, const char* path) {
  return result(nfs_symlink(nfs(), target, path), "symlink", path);
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;  // NFSv3 has no RENAME_NOREPLACE or RENAME_EXCHANGE
  return result(nfs_rename(nfs(), from, to), "rename", from);
}

int op_link(const char* from, const char* to) {
  return result(nfs_link(nfs(), from, to), "link", to);
}

// ---- data -------------------------------------------------------------------------------------

int attach(fuse_file_info* fi, nfsfh* fh) {
  fi->fh = reinterpret_cast<uint64_t>(new OpenFile{fh, false});
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  nfsfh* fh = nullptr;
  const int rc =
      nfs_create(nfs(), path, open_flags(fi->flags), static_cast<int>(mode & 07777), &fh);
  if (rc < 0) return result(rc, "create", path);
  return attach(fi, fh);
}

int op_open(const char* path, fuse_file_info* fi) {
  nfsfh* fh = nullptr;
  const int rc = nfs_open(nfs(), path, open_flags(fi->flags), &fh);
  if (rc < 0) return result(rc, "open", path);
  return attach(fi, fh);
}

// Without direct_io a short read means end of file to the kernel: loop until the request is
// filled or the server reports end of file.
int op_read(const char* path, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  size_t done = 0;
  while (done < size) {
    const uint64_t count = std::min<uint64_t>(size - done, bridge().read_max_bytes);
    const int rc =
        nfs_pread(nfs(), open_file(fi).fh, static_cast<uint64_t>(offset) + done, count, buf + done);
    if (rc < 0) return result(rc, "read", path);
    if (rc == 0) break;
    done += static_cast<size_t>(rc);
  }
  return static_cast<int>(done);
}

int op_write(const char* path, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  OpenFile& file = open_file(fi);
  file.written = true;
  size_t done = 0;
  while (done < size) {
    const uint64_t count = std::min<uint64_t>(size - done, bridge().write_max_bytes);
    const int rc =
        nfs_pwrite(nfs(), file.fh, static_cast<uint64_t>(offset) + done, count, buf + done);
    if (rc < 0) return result(rc, "write", path);
    if (rc == 0) return result(-EIO, "write (no progress)", path);
    done += static_cast<size_t>(rc);
  }
  return static_cast<int>(done);
}

// close(): close-to-open consistency, as a kernel NFS client gives — data written through this
// handle is committed (COMMIT) before close returns.
int op_flush(const char* path, fuse_file_info* fi) {
  OpenFile& file = open_file(fi);
  if (!file.written) return 0;
  const int rc = nfs_fsync(nfs(), file.fh);
  if (rc < 0) return result(rc, "flush", path);
  file.written = false;
  return 0;
}

int op_fsync(const char* path, int, fuse_file_info* fi) {
  const int rc = nfs_fsync(nfs(), open_file(fi).fh);
  if (rc < 0) return result(rc, "fsync", path);
  open_file(fi).written = false;
  return 0;
}

int op_release(const char* path, fuse_file_info* fi) {
  OpenFile* file = &open_file(fi);
  fi->fh = 0;
  const int rc = nfs_close(nfs(), file->fh);
  delete file;
  return result(rc, "release", path);
}

void* op_init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 1;  // the server's inode numbers: hard links show one inode
  return fuse_get_context()->private_data;
}

fuse_operations operations() {
  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.statfs = op_statfs;
  ops.readdir = op_readdir;
  ops.readlink = op_readlink;
  ops.mkdir = op_mkdir;
  ops.mknod = op_mknod;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.create = op_create;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.fsync = op_fsync;
  ops.release = op_release;
  return ops;
}

// Connects and mounts, or prints why not. Returns false on failure.
bool mount_export(Bridge& mount, const char* url_text) {
  mount.nfs = nfs_init_context();
  if (mount.nfs == nullptr) {
    std::fprintf(stderr, "nfs_fuse: cannot create an NFS context\n");
    return false;
  }
  nfs_set_timeout(mount.nfs, kCallTimeoutMs);
  nfs_set_dircache(mount.nfs, 0);  // before parsing, so the URL may still turn it on
  nfs_umask(mount.nfs, 0);         // the kernel applied the caller's umask already
  nfs_url* url = nfs_parse_url_dir(mount.nfs, url_text);
  if (url == nullptr) {
    std::fprintf(stderr, "nfs_fuse: bad URL '%s': %s\n", url_text, nfs_get_error(mount.nfs));
    return false;
  }
  const int rc = nfs_mount(mount.nfs, url->server, url->path);
  if (rc < 0) {
    std::fprintf(stderr, "nfs_fuse: cannot mount %s: %s (%s)\n", url_text, strerror(-rc),
                 nfs_get_error(mount.nfs));
  }
  nfs_destroy_url(url);
  if (rc < 0) return false;
  mount.read_max_bytes = std::max<uint64_t>(nfs_get_readmax(mount.nfs), 4096);
  mount.write_max_bytes = std::max<uint64_t>(nfs_get_writemax(mount.nfs), 4096);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: %s 'nfs://HOST/EXPORT?nfsport=N&mountport=M' MOUNTPOINT [-f] "
                 "[fuse options]\n",
                 argv[0]);
    return 2;
  }
  Bridge mount;
  const char* verbose = std::getenv("NFS_FUSE_VERBOSE");
  mount.verbose = verbose != nullptr && std::string(verbose) == "1";
  if (!mount_export(mount, argv[1])) {
    if (mount.nfs != nullptr) nfs_destroy_context(mount.nfs);
    return 1;
  }
  // FUSE gets the program name, the defaults (options given later override them), everything
  // after the URL, and -s: one thread, one libnfs context. Defaults: the kernel caches no
  // attributes, names or failed lookups; it keeps file data only within one open (kernel_cache
  // and direct_io stay off).
  std::string defaults = "-oattr_timeout=0,entry_timeout=0,negative_timeout=0";
  std::string single_threaded = "-s";
  std::vector<char*> fuse_argv{argv[0], defaults.data()};
  fuse_argv.insert(fuse_argv.end(), argv + 2, argv + argc);
  fuse_argv.push_back(single_threaded.data());
  const fuse_operations ops = operations();
  const int status = fuse_main(static_cast<int>(fuse_argv.size()), fuse_argv.data(), &ops, &mount);
  nfs_umount(mount.nfs);  // UMNT; a server that is gone already makes this fail: nothing to do
  nfs_destroy_context(mount.nfs);
  return status;
}
