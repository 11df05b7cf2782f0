#!/bin/bash
# ganesha_netns.sh: nfs-ganesha (NFSv3 over TCP, VFS FSAL) exporting a local directory from inside a
# private network namespace, as a peer server for nfs_fuse and the benchmarks (FACTS.md, "Real NFS
# clients and peers on this machine"). Must run as root.
#
#   ganesha_netns.sh [--state DIR] start   start rpcbind + ganesha; prints the export's URL
#   ganesha_netns.sh [--state DIR] mount MOUNTPOINT [nfs_fuse options]
#                                          mount the export with nfs_fuse (run inside the
#                                          namespace; the mount is visible on the host)
#   ganesha_netns.sh [--state DIR] url     print the URL (nfs://127.0.0.1/STATE/export?nfsport=..)
#   ganesha_netns.sh [--state DIR] status  exit 0 if ganesha is serving
#   ganesha_netns.sh [--state DIR] crash   SIGKILL ganesha (mounts and namespace stay; `start`
#                                          restarts it, and a mounted nfs_fuse reconnects)
#   ganesha_netns.sh [--state DIR] stop    unmount what `mount` mounted, stop ganesha and
#                                          rpcbind, delete the namespace; the exported data stays
#   ganesha_netns.sh [--state DIR] purge   stop, then delete the state directory and the data
#
# Environment (defaults in brackets):
#   GANESHA_STATE_DIR [/tmp/sa-ganesha]   state directory (--state wins): config, logs, pid
#                                         files, and export/, the exported directory
#   GANESHA_NETNS     [sa-ganesha]        network namespace name
#   GANESHA_NFS_PORT  [20490]  GANESHA_MNT_PORT [20048]   ports inside the namespace
#   NFS_FUSE          [nfs_fuse next to this script's build, or on PATH]
#
# Why it looks like this: ganesha will not start without rpcbind, and Debian's rpcbind binds every
# address and takes /run/rpcbind.lock, so both run in their own network namespace (only loopback
# is up) and their own mount namespace with a private /run (two instances, or a host rpcbind, do
# not collide). ganesha's address lookup fails when no interface but lo has an address: a veth
# pair, left down, with a link-local address on one end fixes that. start and stop are idempotent:
# start reuses a running instance and replaces a dead one (keeping the namespace and any mounts);
# stop is safe to repeat.
set -euo pipefail

readonly START_DEADLINE_S=60
readonly STOP_DEADLINE_S=20

STATE="${GANESHA_STATE_DIR:-/tmp/sa-ganesha}"
if [ "${1:-}" = "--state" ]; then
  [ $# -ge 2 ] || { echo "ganesha_netns: --state needs a directory" >&2; exit 2; }
  STATE="$2"
  shift 2
fi
cmd="${1:-}"
shift || true
STATE=$(realpath -m "$STATE")
NETNS="${GANESHA_NETNS:-sa-ganesha}"
NFS_PORT="${GANESHA_NFS_PORT:-20490}"
MNT_PORT="${GANESHA_MNT_PORT:-20048}"
EXPORT_DIR="$STATE/export"
# ganesha's MOUNT (NFSv3) takes the export's real path (its NFSv4 pseudo path is refused).
URL="nfs://127.0.0.1$EXPORT_DIR?nfsport=$NFS_PORT&mountport=$MNT_PORT"

die() {
  echo "ganesha_netns: $*" >&2
  exit 1
}

# The pid in FILE if that process is alive and runs PROGRAM (a reused pid is not ours).
live_pid() {
  local file="$1" program="$2" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  grep -qF "$program" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# True while PID runs (a zombie waiting for its new parent to reap it does not).
running() {
  [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null
}

# Sends TERM, waits up to STOP_DEADLINE_S, then KILLs. Only the pid recorded by `start`.
stop_pid() {
  local file="$1" program="$2" pid
  if pid=$(live_pid "$file" "$program"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((STOP_DEADLINE_S * 10))); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      echo "ganesha_netns: $program (pid $pid) ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

serving() {
  live_pid "$STATE/ganesha.pid" ganesha.nfsd >/dev/null &&
    timeout 10 ip netns exec "$NETNS" nfs-ls "$URL" >/dev/null 2>&1
}

find_nfs_fuse() {
  if [ -n "${NFS_FUSE:-}" ]; then
    echo "$NFS_FUSE"
    return
  fi
  local here candidate
  here=$(cd "$(dirname "$0")" && pwd)
  for candidate in "$here"/../../../build/*/tests/support/nfs_fuse/nfs_fuse; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  command -v nfs_fuse || die "nfs_fuse not found: build it (ninja nfs_fuse) and set NFS_FUSE"
}

write_config() {
  cat >"$STATE/ganesha.conf" <<CONF
# Written by ganesha_netns.sh; regenerated on every start.
NFS_CORE_PARAM {
  Bind_addr = ::ffff:127.0.0.1;
  NFS_Port = $NFS_PORT;
  MNT_Port = $MNT_PORT;
  Protocols = 3;
  Enable_NLM = false;
  Enable_UDP = false;
  Enable_RQUOTA = false;
}
NFSv4 {
  Graceless = true;
  RecoveryRoot = "$STATE/recovery";
}
EXPORT {
  Export_Id = 1;
  Path = "$EXPORT_DIR";
  Access_Type = RW;
  Squash = No_Root_Squash;
  Protocols = 3;
  Transports = TCP;
  SecType = sys;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
CONF
}

# Reused when it exists: a mounted nfs_fuse lives in this namespace and reconnects to a restarted
# ganesha only there.
ensure_netns() {
  if ip netns list | grep -qw "^$NETNS"; then
    return
  fi
  ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" link add sa-gv0 type veth peer name sa-gv1
  # Both stay down (only lo carries traffic); the addresses only satisfy getaddrinfo(AI_ADDRCONFIG).
  ip -n "$NETNS" addr add 169.254.42.1/16 dev sa-gv0
  ip -n "$NETNS" -6 addr add fe80::42/64 dev sa-gv0
}

stop_servers() {
  stop_pid "$STATE/ganesha.pid" ganesha.nfsd
  stop_pid "$STATE/rpcbind.pid" rpcbind
}

do_stop() {
  if [ -f "$STATE/mounts" ]; then
    while read -r mountpoint; do
      if mountpoint -q "$mountpoint" 2>/dev/null; then
        fusermount3 -u "$mountpoint" 2>/dev/null || fusermount3 -uz "$mountpoint" || true
      fi
    done <"$STATE/mounts"
    rm -f "$STATE/mounts"
  fi
  stop_servers
  if ip netns list | grep -qw "^$NETNS"; then
    ip netns delete "$NETNS" || die "cannot delete network namespace $NETNS"
  fi
}

do_start() {
  if serving; then
    echo "$URL"
    return
  fi
  stop_servers  # whatever a crashed or half-started instance left behind; mounts stay
  mkdir -p "$STATE/recovery" "$EXPORT_DIR"
  write_config
  ensure_netns
  # One shell in the namespace, with a private /run: it starts rpcbind, waits for its socket, and
  # becomes ganesha (so $! below is ganesha's pid).
  ip netns exec "$NETNS" unshare --mount --propagation private -- /bin/sh -c '
    set -e
    mount -t tmpfs -o mode=0755 sa-ganesha-run /run
    # This mount namespace copied every mount of the host, FUSE mounts (nfs_fuse) included; a
    # copy would keep such a mount alive after the host unmounts it, for as long as ganesha runs.
    awk "\$3 ~ /^fuse/ { print \$2 }" /proc/self/mounts | while read -r m; do
      umount -l "$(printf "%b" "$m")" || true
    done
    mkdir -p /run/rpcbind /run/ganesha
    rpcbind -f &
    echo $! >"$1/rpcbind.pid"
    for _ in $(seq 1 100); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done
    [ -S /run/rpcbind.sock ] || { echo "rpcbind did not start" >&2; exit 1; }
    exec ganesha.nfsd -F -f "$1/ganesha.conf" -L "$1/ganesha.log" -p "$1/ganesha.nfsd.pid"
  ' sa-ganesha "$STATE" >>"$STATE/start.log" 2>&1 &
  echo $! >"$STATE/ganesha.pid"
  for _ in $(seq 1 $((START_DEADLINE_S * 10))); do
    serving && break
    # (ip, unshare and sh exec one another and then ganesha: every stage names ganesha.nfsd)
    live_pid "$STATE/ganesha.pid" ganesha.nfsd >/dev/null || break
    sleep 0.1
  done
  if ! serving; then
    echo "ganesha_netns: ganesha did not serve $URL within ${START_DEADLINE_S}s" >&2
    tail -n 20 "$STATE/start.log" "$STATE/ganesha.log" >&2 2>/dev/null || true
    stop_servers
    exit 1
  fi
  echo "$URL"
}

do_mount() {
  [ $# -ge 1 ] || die "usage: $0 [--state DIR] mount MOUNTPOINT [nfs_fuse options]"
  local mountpoint nfs_fuse
  mountpoint=$(realpath -m "$1")
  shift
  serving || die "ganesha is not serving (run: $0 --state $STATE start)"
  [ -e /dev/fuse ] || die "/dev/fuse is missing: FUSE mounts are impossible here"
  nfs_fuse=$(find_nfs_fuse)
  mkdir -p "$mountpoint"
  echo "$mountpoint" >>"$STATE/mounts"
  # nfs_fuse daemonizes once the NFS mount and the FUSE mount both succeeded.
  nsenter --net="/run/netns/$NETNS" "$nfs_fuse" "$URL" "$mountpoint" "$@"
  mountpoint -q "$mountpoint" || die "nfs_fuse returned but $mountpoint is not mounted"
}

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
case "$cmd" in
  start) do_start ;;
  mount) do_mount "$@" ;;
  url) echo "$URL" ;;
  status) serving ;;
  stop) do_stop ;;
  crash)
    pid=$(live_pid "$STATE/ganesha.pid" ganesha.nfsd) || die "ganesha is not running"
    kill -KILL "$pid"
    ;;
  purge)
    do_stop
    rm -rf "$STATE"
    ;;
  *) die "usage: $0 [--state DIR] start|mount|url|status|crash|stop|purge (see the header)" ;;
esac
