#!/bin/bash
# tests/bench/nfs_bench.sh: `scripts/bench nfs [nfs_bench options]` — our NFS server against
# nfs-ganesha on this machine, measured by the same client (nfs_bench, libnfs async API) with the
# same arguments. scripts/bench builds the programs in Release and calls this with the build dir:
#
#   nfs_bench.sh BUILD_DIR [nfs_bench options: --quick --seconds S --seq-mib N --rand-mib N
#                           --files N --seed N --rows seq,random,meta]   (passed to both runs)
#
# 1. ours: a fresh shelf (10 sparse 4 GiB file-backed disks + 256 MiB NVRAM in a temp dir),
#    `safs format`, `hostdriver` serving /default on 127.0.0.1 (free ports), nfs_bench against
#    it; then the datastore's dedup and compression (`arrayctl status --json`), the host driver
#    stopped with SIGTERM (must exit 0) and its log checked for errors.
# 2. ganesha: nfs-ganesha (VFS FSAL) exporting a directory in the same temp dir (same file
#    system) from a private network namespace (tests/support/nfs_fuse/ganesha_netns.sh), and the
#    same nfs_bench run inside that namespace.
# 3. `nfs_bench --compare`: both, their ratio, and as the last line of stdout one JSON object
#    (ours unprefixed, ganesha_*, ratio_*).
# Everything it started is stopped and the temp dir removed on exit (NFS_BENCH_KEEP=1 keeps the
# temp dir for a look at the logs). Must run as root (network namespaces).
#
# Environment: NFS_BENCH_TMP [${TMPDIR:-/var/tmp}] where the temp dir goes (put it on a disk,
# not tmpfs: both servers store their data there); NFS_BENCH_TIMEOUT_S [1800] per nfs_bench run.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR [nfs_bench options]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GANESHA_SH="$ROOT/tests/support/nfs_fuse/ganesha_netns.sh"
NFS_BENCH="$BUILD/tests/bench/nfs_bench"
NETSHELF="$BUILD/netshelf/service/netshelf"
SAFS="$BUILD/hostdriver/fs/safs"
HOSTDRIVER="$BUILD/hostdriver/service/hostdriver"
ARRAYCTL="$BUILD/hostdriver/arrayctl/arrayctl"
RUN_TIMEOUT_S=${NFS_BENCH_TIMEOUT_S:-1800}
readonly START_DEADLINE_S=120  # the host driver opens the datastore (replay, checkpoint) first
readonly STOP_DEADLINE_S=60

log() { echo "=== nfs bench: $*" >&2; }
die() {
  echo "nfs bench: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (nfs-ganesha runs in a private network namespace)"
for tool in "$NFS_BENCH" "$NETSHELF" "$SAFS" "$HOSTDRIVER"; do
  [ -x "$tool" ] || die "missing $tool (scripts/bench nfs builds it)"
done
command -v ganesha.nfsd >/dev/null || die "nfs-ganesha is not installed (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind)"
command -v rpcbind >/dev/null || die "rpcbind is not installed"
command -v ss >/dev/null || die "ss (iproute2) is needed to find free ports"
command -v python3 >/dev/null || die "python3 is needed to read arrayctl's JSON"

WORK=$(mktemp -d "${NFS_BENCH_TMP:-${TMPDIR:-/var/tmp}}/sa-bench-nfs.XXXXXX")
SHELF_DIR="$WORK/shelf"
GANESHA_DIR="$WORK/ganesha"
export GANESHA_NETNS="sa-bnfs-$$"  # our own namespace: other ganesha instances keep theirs
export GANESHA_NFS_PORT=20490 GANESHA_MNT_PORT=20048  # inside that namespace, so never taken
SHELF_PID=""
HOST_PID=""
GANESHA_STARTED=0

# Sends TERM to a pid we started and waits for it; KILL after STOP_DEADLINE_S. Returns its status.
stop_pid() {
  local pid=$1 name=$2 status=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || status=$?; return "$status"; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((STOP_DEADLINE_S * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "nfs bench: $name (pid $pid) did not stop within ${STOP_DEADLINE_S}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$HOST_PID" ] && { stop_pid "$HOST_PID" hostdriver || true; }
  [ -n "$SHELF_PID" ] && { stop_pid "$SHELF_PID" netshelf || true; }
  if [ "$GANESHA_STARTED" = 1 ]; then
    "$GANESHA_SH" --state "$GANESHA_DIR" stop >/dev/null 2>&1 || true
  fi
  if [ "${NFS_BENCH_KEEP:-0}" = 1 ]; then
    echo "nfs bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets variable $1 to a TCP port nobody on the host listens on (and not handed out before), from
# a per-run range below Linux's ephemeral range (32768-60999): a port in that range can be taken
# by any outgoing connection in the meantime, even the host driver's own connection to its shelf
# ("Address already in use" when it then listens). (Not in a $(...) subshell: it must remember
# the ports it gave out.)
used_ports=""
pick_port() {
  local port=$((21000 + ($$ * 7) % 10000))  # + at most 1000 tries: < 32768
  for _ in $(seq 1 1000); do
    port=$((port + 1))
    case " $used_ports " in *" $port "*) continue ;; esac
    if [ -z "$(ss -Hltn "sport = :$port")" ]; then
      used_ports="$used_ports $port"
      printf -v "$1" '%s' "$port"
      return
    fi
  done
  die "no free TCP port found"
}

# Waits until a pid we started listens on a port, or dies.
wait_listening() {
  local port=$1 pid=$2 name=$3 logfile=$4
  for _ in $(seq 1 $((START_DEADLINE_S * 10))); do
    [ -n "$(ss -Hltn "sport = :$port")" ] && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$logfile" >&2 || true
  die "$name did not listen on port $port"
}

# Runs a command (nfs_bench, perhaps in the namespace) with the run timeout; stdout goes to file
# $1 and is then shown. Returns the command's status.
run_bench() {
  local out=$1 status=0
  shift
  timeout --signal=TERM --kill-after=10 "$RUN_TIMEOUT_S" "$@" >"$out" || status=$?
  cat "$out"
  [ "$status" = 0 ] || echo "nfs bench: exit status $status: $*" >&2
  return "$status"
}

# The host driver's log lines that are not routine, at most 20.
host_log_problems() {
  grep -E 'lvl=(error|warn)|ASSERT failed|terminate called|Sanitizer' "$HOST_LOG" | head -n 20 || true
}

# --- 1. ours ----------------------------------------------------------------------------------
pick_port SHELF_PORT
pick_port NFS_PORT
pick_port MOUNT_PORT
mkdir -p "$SHELF_DIR"
disks=""
for d in 0 1 2 3 4 5 6 7 8 9; do
  [ -n "$disks" ] && disks="$disks, "
  disks="$disks{\"path\": \"$SHELF_DIR/disk$d.img\", \"size_bytes\": 4294967296}"
done
cat >"$SHELF_DIR/shelf.json" <<JSON
{
  "cluster_id": 1, "shelf_id": 1, "listen": "127.0.0.1:$SHELF_PORT",
  "disks": [$disks],
  "nvram": {"path": "$SHELF_DIR/nvram.img", "size_bytes": 268435456, "hosts_max": 16},
  "index_dir": "$SHELF_DIR/index", "registers_path": "$SHELF_DIR/registers.log",
  "log_level": "info"
}
JSON
log "ours: shelf in $SHELF_DIR (10 x 4 GiB sparse disks, 256 MiB NVRAM), 127.0.0.1:$SHELF_PORT"
"$NETSHELF" format --config "$SHELF_DIR/shelf.json" >"$SHELF_DIR/format.log" 2>&1 ||
  { cat "$SHELF_DIR/format.log" >&2; die "netshelf format failed"; }
"$NETSHELF" --config "$SHELF_DIR/shelf.json" >"$SHELF_DIR/netshelf.log" 2>&1 &
SHELF_PID=$!
wait_listening "$SHELF_PORT" "$SHELF_PID" netshelf "$SHELF_DIR/netshelf.log"
"$SAFS" format --shelf "127.0.0.1:$SHELF_PORT" >&2

HOST_OUT="$WORK/hostdriver.out"
HOST_LOG="$WORK/hostdriver.log"
"$HOSTDRIVER" --shelf "127.0.0.1:$SHELF_PORT" --datastore default --listen 127.0.0.1 \
  --nfs-port "$NFS_PORT" --mount-port "$MOUNT_PORT" --export /default --clients 127.0.0.1 \
  --no-root-squash >"$HOST_OUT" 2>"$HOST_LOG" &
HOST_PID=$!
for _ in $(seq 1 $((START_DEADLINE_S * 10))); do
  grep -q '^nfs://' "$HOST_OUT" && break
  kill -0 "$HOST_PID" 2>/dev/null || break
  sleep 0.1
done
OURS_URL=$(grep -m1 '^nfs://' "$HOST_OUT" || true)
if [ -z "$OURS_URL" ]; then
  tail -n 20 "$HOST_LOG" >&2 || true
  die "hostdriver did not start serving"
fi
log "ours: hostdriver (pid $HOST_PID) serving $OURS_URL"
if ! run_bench "$WORK/ours.txt" "$NFS_BENCH" --url "$OURS_URL" --label ours --keep "$@"; then
  echo "nfs bench: nfs_bench failed against our server; the host driver's log says:" >&2
  host_log_problems >&2
  die "stopped before the ganesha run (NFS_BENCH_KEEP=1 keeps $WORK)"
fi

if [ -x "$ARRAYCTL" ]; then
  sleep 2.5  # the host driver publishes its figures every 2 s
  if "$ARRAYCTL" status --shelf "127.0.0.1:$SHELF_PORT" --json >"$WORK/status.json" 2>&1; then
    python3 - "$WORK/status.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
def find(node):
    if isinstance(node, dict):
        if "dedup_ratio" in node and "compression_ratio" in node:
            yield node
        for value in node.values():
            yield from find(value)
    elif isinstance(node, list):
        for value in node:
            yield from find(value)
found = list(find(status))
if not found:
    hosts = ", ".join(f"host {h.get('id')}: {h.get('state')}" for h in status.get("hosts", []))
    print(f"ours: arrayctl status lists no datastore figures ({hosts or 'no hosts'}): "
          "dedup and compression not shown")
for d in found:
    mib = lambda key: d.get(key, 0) / 2**20
    print(f"ours: datastore {d.get('name', '?')} after the run: logical {mib('logical_bytes'):.1f} MiB, "
          f"unique {mib('unique_bytes'):.1f} MiB, stored {mib('stored_bytes'):.1f} MiB; "
          f"dedup {d['dedup_ratio']:.2f}x, compression {d['compression_ratio']:.2f}x, "
          f"reduction {d.get('reduction_ratio', 0):.2f}x; blocks written {d.get('blocks_written', 0)}, "
          f"dedup hits {d.get('dedup_hits', 0)}, chunks stored {d.get('chunks_stored', 0)}")
PY
  else
    echo "ours: arrayctl status failed:" && cat "$WORK/status.json"
  fi
else
  echo "ours: (no arrayctl in this build: dedup and compression figures not shown)"
fi

log "ours: stopping the host driver"
host_status=0
stop_pid "$HOST_PID" hostdriver || host_status=$?
HOST_PID=""
stop_pid "$SHELF_PID" netshelf || true
SHELF_PID=""
errors=$(grep -c -E 'lvl=error|ASSERT failed|terminate called|Sanitizer' "$HOST_LOG" || true)
warnings=$(grep -c 'lvl=warn' "$HOST_LOG" || true)
echo "ours: hostdriver exit status $host_status after SIGTERM; its log: $errors error lines, $warnings warnings"
if [ "$errors" != 0 ] || [ "$warnings" != 0 ]; then host_log_problems; fi
[ "$host_status" = 0 ] || die "hostdriver exited with status $host_status (log: $HOST_LOG; NFS_BENCH_KEEP=1 keeps it)"
[ "$errors" = 0 ] || die "hostdriver logged errors (log: $HOST_LOG; NFS_BENCH_KEEP=1 keeps it)"

# --- 2. ganesha -------------------------------------------------------------------------------
log "ganesha: starting nfs-ganesha in network namespace $GANESHA_NETNS, exporting $GANESHA_DIR/export"
GANESHA_STARTED=1
GANESHA_URL=$("$GANESHA_SH" --state "$GANESHA_DIR" start)
log "ganesha: serving $GANESHA_URL"
run_bench "$WORK/ganesha.txt" ip netns exec "$GANESHA_NETNS" "$NFS_BENCH" --url "$GANESHA_URL" \
  --label ganesha --keep "$@" || die "nfs_bench failed against nfs-ganesha (its log: $GANESHA_DIR/ganesha.log)"
"$GANESHA_SH" --state "$GANESHA_DIR" stop >&2
GANESHA_STARTED=0

# --- 3. both ----------------------------------------------------------------------------------
"$NFS_BENCH" --compare "$WORK/ours.txt" "$WORK/ganesha.txt"
