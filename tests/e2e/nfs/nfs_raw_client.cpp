// tests/e2e/nfs/nfs_raw_client.cpp
#include "tests/e2e/nfs/nfs_raw_client.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace splitarray::e2e::nfs {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPollSliceMs = 20;

// libnfs takes non-const pointers in its argument structs; it only reads them while encoding.
nfs_fh3 wire_fh(const Fh& fh) {
  static char empty = 0;
  nfs_fh3 out{};
  out.data.data_len = static_cast<u_int>(fh.size());
  out.data.data_val =
      fh.empty() ? &empty : reinterpret_cast<char*>(const_cast<uint8_t*>(fh.data()));
  return out;
}

char* wire_name(const std::string& text) { return const_cast<char*>(text.c_str()); }

diropargs3 wire_dirop(const Fh& dir, const std::string& entry) {
  diropargs3 out{};
  out.dir = wire_fh(dir);
  out.name = wire_name(entry);
  return out;
}

Fh copy_fh(const nfs_fh3& fh) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(fh.data.data_val);
  return Fh(bytes, bytes + fh.data.data_len);
}

std::optional<fattr3> post_op(const post_op_attr& attr) {
  if (!attr.attributes_follow) return std::nullopt;
  return attr.post_op_attr_u.attributes;
}

std::optional<Fh> post_op(const post_op_fh3& fh) {
  if (!fh.handle_follows) return std::nullopt;
  return copy_fh(fh.post_op_fh3_u.handle);
}

Wcc copy_wcc(const wcc_data& wcc) {
  Wcc out;
  if (wcc.before.attributes_follow) out.before = wcc.before.pre_op_attr_u.attributes;
  out.after = post_op(wcc.after);
  return out;
}

Verf copy_verf(const char* bytes) {
  Verf out{};
  std::memcpy(out.data(), bytes, out.size());
  return out;
}

// The status field every NFS v3 result starts with.
template <class Res>
int status_of(void* data) {
  return static_cast<int>(static_cast<Res*>(data)->status);
}

}  // namespace

sattr3 Sattr::wire() const {
  sattr3 out{};
  out.mode.set_it = mode.has_value();
  if (mode) out.mode.set_mode3_u.mode = *mode;
  out.uid.set_it = uid.has_value();
  if (uid) out.uid.set_uid3_u.uid = *uid;
  out.gid.set_it = gid.has_value();
  if (gid) out.gid.set_gid3_u.gid = *gid;
  out.size.set_it = size.has_value();
  if (size) out.size.set_size3_u.size = *size;
  out.atime.set_it = atime;
  if (atime == SET_TO_CLIENT_TIME) out.atime.set_atime_u.atime = atime_value;
  out.mtime.set_it = mtime;
  if (mtime == SET_TO_CLIENT_TIME) out.mtime.set_mtime_u.mtime = mtime_value;
  return out;
}

// ---------------------------------------------------------------------------------------------
// RpcConnection

struct RpcConnection::Pending {
  bool done = false;
  int status = RPC_STATUS_ERROR;
  std::string error;
  std::function<void(void*)> copy;
};

RpcConnection::RpcConnection(rpc_context* rpc) : rpc_(rpc) {}

RpcConnection::~RpcConnection() {
  // Destroying the context calls back every call still queued (CANCEL): pending_ outlives it.
  rpc_destroy_context(rpc_);
}

void RpcConnection::on_reply(rpc_context*, int status, void* data, void* private_data) {
  auto* pending = static_cast<Pending*>(private_data);
  pending->done = true;
  pending->status = status;
  if (status == RPC_STATUS_SUCCESS) {
    if (pending->copy) pending->copy(data);
  } else if (status == RPC_STATUS_ERROR && data != nullptr) {
    pending->error = static_cast<const char*>(data);
  } else {
    pending->error =
        status == RPC_STATUS_CANCEL ? "cancelled" : "rpc status " + std::to_string(status);
  }
}

RpcOutcome RpcConnection::wait(const Pending& pending) {
  const auto give_up = Clock::now() + kCallTimeout;
  while (!pending.done) {
    if (Clock::now() > give_up) return RpcOutcome::kTimedOut;
    pollfd fd{rpc_get_fd(rpc_), static_cast<short>(rpc_which_events(rpc_)), 0};
    const int ready = ::poll(&fd, 1, kPollSliceMs);
    if (ready < 0 && errno != EINTR) return RpcOutcome::kFailed;
    if (rpc_service(rpc_, ready > 0 ? fd.revents : 0) < 0) {
      // libnfs: the context is unusable from now on (its calls were failed or are lost).
      broken_ = true;
      return pending.done ? RpcOutcome::kReplied : RpcOutcome::kFailed;
    }
  }
  return RpcOutcome::kReplied;
}

std::unique_ptr<RpcConnection> RpcConnection::connect(uint16_t port, int program, int version,
                                                      std::string* error) {
  rpc_context* rpc = rpc_init_context();
  if (rpc == nullptr) {
    *error = "rpc_init_context failed";
    return nullptr;
  }
  std::unique_ptr<RpcConnection> conn(new RpcConnection(rpc));
  conn->pending_.push_back(std::make_unique<Pending>());
  Pending& pending = *conn->pending_.back();
  if (rpc_connect_port_async(rpc, "127.0.0.1", port, program, version, &on_reply, &pending) != 0) {
    *error = std::string("rpc_connect_port_async: ") + rpc_get_error(rpc);
    return nullptr;
  }
  if (conn->wait(pending) != RpcOutcome::kReplied || pending.status != RPC_STATUS_SUCCESS) {
    *error = "connect to 127.0.0.1:" + std::to_string(port) +
             " failed: " + (pending.done ? pending.error : std::string("timed out"));
    return nullptr;
  }
  conn->pending_.clear();
  return conn;
}

void RpcConnection::set_credentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  rpc_set_auth(
      rpc_, libnfs_authunix_create("splitarray-e2e", uid, gid, static_cast<uint32_t>(groups.size()),
                                   groups.empty() ? nullptr : groups.data()));
}

void RpcConnection::set_auth_none() { rpc_set_auth(rpc_, libnfs_authnone_create()); }

void RpcConnection::set_next_xid(uint32_t xid) { rpc_set_next_xid(rpc_, xid); }

void RpcConnection::call(Reply& reply, const std::function<int(rpc_cb, void*)>& queue,
                         std::function<void(void*)> copy) {
  reply.rpc = RpcOutcome::kFailed;
  if (broken_) {
    reply.rpc_error = "connection already broken";
    return;
  }
  pending_.push_back(std::make_unique<Pending>());
  Pending& pending = *pending_.back();
  pending.copy = std::move(copy);
  if (queue(&on_reply, &pending) != 0) {
    reply.rpc_error = std::string("could not queue: ") + rpc_get_error(rpc_);
    pending_.pop_back();
    return;
  }
  const RpcOutcome waited = wait(pending);
  if (waited != RpcOutcome::kReplied) {
    broken_ = true;
    reply.rpc = waited;
    reply.rpc_error =
        waited == RpcOutcome::kTimedOut ? "no reply within the call timeout" : "connection failed";
    const char* why = rpc_get_error(rpc_);
    if (why != nullptr && *why != '\0') reply.rpc_error += std::string(" (") + why + ")";
    return;  // keep `pending`: libnfs may still call it back
  }
  if (pending.status == RPC_STATUS_SUCCESS) {
    reply.rpc = RpcOutcome::kReplied;
  } else {
    reply.rpc_error = pending.error;
  }
  pending.copy = nullptr;  // it refers to `reply`, which the caller is about to own
  pending_.pop_back();
}

Reply RpcConnection::null_of(int program, int version) {
  Reply res;
  call(
      res, [&](rpc_cb cb, void* priv) { return rpc_null_async(rpc_, program, version, cb, priv); },
      [&](void*) { res.status = 0; });
  return res;
}

// ---------------------------------------------------------------------------------------------
// NfsClient

std::unique_ptr<NfsClient> NfsClient::connect(uint16_t nfs_port, std::string* error) {
  auto rpc = RpcConnection::connect(nfs_port, kNfsProgram, 3, error);
  if (rpc == nullptr) return nullptr;
  return std::unique_ptr<NfsClient>(new NfsClient(std::move(rpc)));
}

Reply NfsClient::null() { return rpc_->null_of(kNfsProgram, 3); }

GetattrRes NfsClient::getattr(const Fh& fh) {
  GetattrRes res;
  GETATTR3args args{};
  args.object = wire_fh(fh);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_getattr_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<GETATTR3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) res.attrs = r->GETATTR3res_u.resok.obj_attributes;
      });
  return res;
}

WccRes NfsClient::setattr(const Fh& fh, const Sattr& attrs, std::optional<nfstime3> guard_ctime) {
  WccRes res;
  SETATTR3args args{};
  args.object = wire_fh(fh);
  args.new_attributes = attrs.wire();
  args.guard.check = guard_ctime.has_value();
  if (guard_ctime) args.guard.sattrguard3_u.obj_ctime = *guard_ctime;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_setattr_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<SETATTR3res*>(data);
        res.status = r->status;
        res.wcc = copy_wcc(r->status == NFS3_OK ? r->SETATTR3res_u.resok.obj_wcc
                                                : r->SETATTR3res_u.resfail.obj_wcc);
      });
  return res;
}

LookupRes NfsClient::lookup(const Fh& dir, const std::string& entry) {
  LookupRes res;
  LOOKUP3args args{};
  args.what = wire_dirop(dir, entry);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_lookup_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<LOOKUP3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          const LOOKUP3resok& ok = r->LOOKUP3res_u.resok;
          res.fh = copy_fh(ok.object);
          res.obj = post_op(ok.obj_attributes);
          res.dir = post_op(ok.dir_attributes);
        } else {
          res.dir = post_op(r->LOOKUP3res_u.resfail.dir_attributes);
        }
      });
  return res;
}

AccessRes NfsClient::access(const Fh& fh, uint32_t access) {
  AccessRes res;
  ACCESS3args args{};
  args.object = wire_fh(fh);
  args.access = access;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_access_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<ACCESS3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.obj = post_op(r->ACCESS3res_u.resok.obj_attributes);
          res.access = r->ACCESS3res_u.resok.access;
        } else {
          res.obj = post_op(r->ACCESS3res_u.resfail.obj_attributes);
        }
      });
  return res;
}

ReadlinkRes NfsClient::readlink(const Fh& fh) {
  ReadlinkRes res;
  READLINK3args args{};
  args.symlink = wire_fh(fh);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_readlink_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<READLINK3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.attrs = post_op(r->READLINK3res_u.resok.symlink_attributes);
          res.target = r->READLINK3res_u.resok.data;
        } else {
          res.attrs = post_op(r->READLINK3res_u.resfail.symlink_attributes);
        }
      });
  return res;
}

ReadRes NfsClient::read(const Fh& fh, uint64_t offset, uint32_t count) {
  ReadRes res;
  READ3args args{};
  args.file = wire_fh(fh);
  args.offset = offset;
  args.count = count;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_read_async(rpc_->context(), cb, &args, priv); },
      [&](void* data) {
        auto* r = static_cast<READ3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          const READ3resok& ok = r->READ3res_u.resok;
          res.attrs = post_op(ok.file_attributes);
          res.count = ok.count;
          res.eof = ok.eof != 0;
          const auto* bytes = reinterpret_cast<const uint8_t*>(ok.data.data_val);
          res.data.assign(bytes, bytes + ok.data.data_len);
        } else {
          res.attrs = post_op(r->READ3res_u.resfail.file_attributes);
        }
      });
  return res;
}

WriteRes NfsClient::write(const Fh& fh, uint64_t offset, std::span<const uint8_t> data,
                          stable_how stable, std::optional<uint32_t> count) {
  WriteRes res;
  WRITE3args args{};
  args.file = wire_fh(fh);
  args.offset = offset;
  args.count = count.value_or(static_cast<count3>(data.size()));
  args.stable = stable;
  args.data.data_len = static_cast<u_int>(data.size());
  args.data.data_val = reinterpret_cast<char*>(const_cast<uint8_t*>(data.data()));
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_write_async(rpc_->context(), cb, &args, priv); },
      [&](void* d) {
        auto* r = static_cast<WRITE3res*>(d);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          const WRITE3resok& ok = r->WRITE3res_u.resok;
          res.wcc = copy_wcc(ok.file_wcc);
          res.count = ok.count;
          res.committed = ok.committed;
          res.verf = copy_verf(ok.verf);
        } else {
          res.wcc = copy_wcc(r->WRITE3res_u.resfail.file_wcc);
        }
      });
  return res;
}

CommitRes NfsClient::commit(const Fh& fh, uint64_t offset, uint32_t count) {
  CommitRes res;
  COMMIT3args args{};
  args.file = wire_fh(fh);
  args.offset = offset;
  args.count = count;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_commit_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<COMMIT3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.wcc = copy_wcc(r->COMMIT3res_u.resok.file_wcc);
          res.verf = copy_verf(r->COMMIT3res_u.resok.verf);
        } else {
          res.wcc = copy_wcc(r->COMMIT3res_u.resfail.file_wcc);
        }
      });
  return res;
}

CreateRes NfsClient::create(const Fh& dir, const std::string& entry, createmode3 mode,
                            const Sattr& attrs, Verf verf) {
  CreateRes res;
  CREATE3args args{};
  args.where = wire_dirop(dir, entry);
  args.how.mode = mode;
  if (mode == EXCLUSIVE) {
    std::memcpy(args.how.createhow3_u.verf, verf.data(), verf.size());
  } else {
    args.how.createhow3_u.obj_attributes = attrs.wire();
  }
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_create_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<CREATE3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.fh = post_op(r->CREATE3res_u.resok.obj);
          res.attrs = post_op(r->CREATE3res_u.resok.obj_attributes);
          res.dir_wcc = copy_wcc(r->CREATE3res_u.resok.dir_wcc);
        } else {
          res.dir_wcc = copy_wcc(r->CREATE3res_u.resfail.dir_wcc);
        }
      });
  return res;
}

CreateRes NfsClient::mkdir(const Fh& dir, const std::string& entry, const Sattr& attrs) {
  CreateRes res;
  MKDIR3args args{};
  args.where = wire_dirop(dir, entry);
  args.attributes = attrs.wire();
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_mkdir_async(rpc_->context(), cb, &args, priv); },
      [&](void* data) {
        auto* r = static_cast<MKDIR3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.fh = post_op(r->MKDIR3res_u.resok.obj);
          res.attrs = post_op(r->MKDIR3res_u.resok.obj_attributes);
          res.dir_wcc = copy_wcc(r->MKDIR3res_u.resok.dir_wcc);
        } else {
          res.dir_wcc = copy_wcc(r->MKDIR3res_u.resfail.dir_wcc);
        }
      });
  return res;
}

CreateRes NfsClient::symlink(const Fh& dir, const std::string& entry, const std::string& target,
                             const Sattr& attrs) {
  CreateRes res;
  SYMLINK3args args{};
  args.where = wire_dirop(dir, entry);
  args.symlink.symlink_attributes = attrs.wire();
  args.symlink.symlink_data = wire_name(target);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_symlink_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<SYMLINK3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.fh = post_op(r->SYMLINK3res_u.resok.obj);
          res.attrs = post_op(r->SYMLINK3res_u.resok.obj_attributes);
          res.dir_wcc = copy_wcc(r->SYMLINK3res_u.resok.dir_wcc);
        } else {
          res.dir_wcc = copy_wcc(r->SYMLINK3res_u.resfail.dir_wcc);
        }
      });
  return res;
}

CreateRes NfsClient::mknod(const Fh& dir, const std::string& entry, ftype3 type, const Sattr& attrs,
                           specdata3 spec) {
  CreateRes res;
  MKNOD3args args{};
  args.where = wire_dirop(dir, entry);
  args.what.type = type;
  switch (type) {
    case NF3CHR:
      args.what.mknoddata3_u.chr_device = devicedata3{attrs.wire(), spec};
      break;
    case NF3BLK:
      args.what.mknoddata3_u.blk_device = devicedata3{attrs.wire(), spec};
      break;
    case NF3SOCK:
      args.what.mknoddata3_u.sock_attributes = attrs.wire();
      break;
    case NF3FIFO:
      args.what.mknoddata3_u.pipe_attributes = attrs.wire();
      break;
    default:
      break;  // NF3REG, NF3DIR, NF3LNK carry no data (the server answers BADTYPE)
  }
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_mknod_async(rpc_->context(), cb, &args, priv); },
      [&](void* data) {
        auto* r = static_cast<MKNOD3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.fh = post_op(r->MKNOD3res_u.resok.obj);
          res.attrs = post_op(r->MKNOD3res_u.resok.obj_attributes);
          res.dir_wcc = copy_wcc(r->MKNOD3res_u.resok.dir_wcc);
        } else {
          res.dir_wcc = copy_wcc(r->MKNOD3res_u.resfail.dir_wcc);
        }
      });
  return res;
}

WccRes NfsClient::remove(const Fh& dir, const std::string& entry) {
  WccRes res;
  REMOVE3args args{};
  args.object = wire_dirop(dir, entry);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_remove_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<REMOVE3res*>(data);
        res.status = r->status;
        res.wcc = copy_wcc(r->status == NFS3_OK ? r->REMOVE3res_u.resok.dir_wcc
                                                : r->REMOVE3res_u.resfail.dir_wcc);
      });
  return res;
}

WccRes NfsClient::rmdir(const Fh& dir, const std::string& entry) {
  WccRes res;
  RMDIR3args args{};
  args.object = wire_dirop(dir, entry);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_rmdir_async(rpc_->context(), cb, &args, priv); },
      [&](void* data) {
        auto* r = static_cast<RMDIR3res*>(data);
        res.status = r->status;
        res.wcc = copy_wcc(r->status == NFS3_OK ? r->RMDIR3res_u.resok.dir_wcc
                                                : r->RMDIR3res_u.resfail.dir_wcc);
      });
  return res;
}

RenameRes NfsClient::rename(const Fh& from_dir, const std::string& from_name, const Fh& to_dir,
                            const std::string& to_name) {
  RenameRes res;
  RENAME3args args{};
  args.from = wire_dirop(from_dir, from_name);
  args.to = wire_dirop(to_dir, to_name);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_rename_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<RENAME3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.from_wcc = copy_wcc(r->RENAME3res_u.resok.fromdir_wcc);
          res.to_wcc = copy_wcc(r->RENAME3res_u.resok.todir_wcc);
        } else {
          res.from_wcc = copy_wcc(r->RENAME3res_u.resfail.fromdir_wcc);
          res.to_wcc = copy_wcc(r->RENAME3res_u.resfail.todir_wcc);
        }
      });
  return res;
}

LinkRes NfsClient::link(const Fh& file, const Fh& dir, const std::string& entry) {
  LinkRes res;
  LINK3args args{};
  args.file = wire_fh(file);
  args.link = wire_dirop(dir, entry);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) { return rpc_nfs3_link_async(rpc_->context(), cb, &args, priv); },
      [&](void* data) {
        auto* r = static_cast<LINK3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) {
          res.attrs = post_op(r->LINK3res_u.resok.file_attributes);
          res.dir_wcc = copy_wcc(r->LINK3res_u.resok.linkdir_wcc);
        } else {
          res.attrs = post_op(r->LINK3res_u.resfail.file_attributes);
          res.dir_wcc = copy_wcc(r->LINK3res_u.resfail.linkdir_wcc);
        }
      });
  return res;
}

ReaddirRes NfsClient::readdir(const Fh& dir, uint64_t cookie, Verf verf, uint32_t count) {
  ReaddirRes res;
  READDIR3args args{};
  args.dir = wire_fh(dir);
  args.cookie = cookie;
  std::memcpy(args.cookieverf, verf.data(), verf.size());
  args.count = count;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_readdir_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<READDIR3res*>(data);
        res.status = r->status;
        if (r->status != NFS3_OK) {
          res.dir_attrs = post_op(r->READDIR3res_u.resfail.dir_attributes);
          return;
        }
        const READDIR3resok& ok = r->READDIR3res_u.resok;
        res.dir_attrs = post_op(ok.dir_attributes);
        res.cookieverf = copy_verf(ok.cookieverf);
        res.eof = ok.reply.eof != 0;
        for (const entry3* e = ok.reply.entries; e != nullptr; e = e->nextentry) {
          res.entries.push_back(
              DirEntry{e->fileid, e->name, e->cookie, std::nullopt, std::nullopt});
        }
      });
  return res;
}

ReaddirRes NfsClient::readdirplus(const Fh& dir, uint64_t cookie, Verf verf, uint32_t dircount,
                                  uint32_t maxcount) {
  ReaddirRes res;
  READDIRPLUS3args args{};
  args.dir = wire_fh(dir);
  args.cookie = cookie;
  std::memcpy(args.cookieverf, verf.data(), verf.size());
  args.dircount = dircount;
  args.maxcount = maxcount;
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_readdirplus_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<READDIRPLUS3res*>(data);
        res.status = r->status;
        if (r->status != NFS3_OK) {
          res.dir_attrs = post_op(r->READDIRPLUS3res_u.resfail.dir_attributes);
          return;
        }
        const READDIRPLUS3resok& ok = r->READDIRPLUS3res_u.resok;
        res.dir_attrs = post_op(ok.dir_attributes);
        res.cookieverf = copy_verf(ok.cookieverf);
        res.eof = ok.reply.eof != 0;
        for (const entryplus3* e = ok.reply.entries; e != nullptr; e = e->nextentry) {
          res.entries.push_back(DirEntry{e->fileid, e->name, e->cookie, post_op(e->name_attributes),
                                         post_op(e->name_handle)});
        }
      });
  return res;
}

FsstatRes NfsClient::fsstat(const Fh& fh) {
  FsstatRes res;
  FSSTAT3args args{};
  args.fsroot = wire_fh(fh);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_fsstat_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<FSSTAT3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) res.res = r->FSSTAT3res_u.resok;
      });
  return res;
}

FsinfoRes NfsClient::fsinfo(const Fh& fh) {
  FsinfoRes res;
  FSINFO3args args{};
  args.fsroot = wire_fh(fh);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_fsinfo_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<FSINFO3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) res.res = r->FSINFO3res_u.resok;
      });
  return res;
}

PathconfRes NfsClient::pathconf(const Fh& fh) {
  PathconfRes res;
  PATHCONF3args args{};
  args.object = wire_fh(fh);
  rpc_->call(
      res,
      [&](rpc_cb cb, void* priv) {
        return rpc_nfs3_pathconf_async(rpc_->context(), cb, &args, priv);
      },
      [&](void* data) {
        auto* r = static_cast<PATHCONF3res*>(data);
        res.status = r->status;
        if (r->status == NFS3_OK) res.res = r->PATHCONF3res_u.resok;
      });
  return res;
}

}  // namespace splitarray::e2e::nfs
