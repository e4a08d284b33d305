#!/usr/bin/env bash
# ceph_cluster.sh - a throw-away single-node Ceph cluster for the rados:
# tests: one ceph-mon and one ceph-osd (memstore) on 127.0.0.1, no manager,
# no systemd, everything in one directory, stopped by PID.
#
#   ceph_cluster.sh start DIR [cephx]   start a cluster in DIR (must not exist);
#                                       prints the store URI on stdout; with
#                                       cephx, authentication is on and
#                                       DIR/client.mixfs.keyring holds a user
#                                       limited to the pool
#   ceph_cluster.sh stop DIR            stop it (OSD first) and remove DIR
#   ceph_cluster.sh osd-stop DIR        stop the OSD only (clean shutdown)
#   ceph_cluster.sh osd-kill DIR        kill the OSD at once (SIGKILL)
#   ceph_cluster.sh osd-start DIR       start the OSD again
#   ceph_cluster.sh run CMD [ARGS...]   start a cluster in a fresh directory,
#                                       run CMD with MIXFS_RADOS_URI,
#                                       MIXFS_CEPH_DIR and MIXFS_CEPH_SCRIPT
#                                       set, stop the cluster on exit
#
# With `run`, where the Ceph packages are missing CMD runs without
# MIXFS_RADOS_URI (the program leaves its rados: cases out and says so),
# unless CI=true: there a missing package is a failure, so a missing install
# step cannot pass unnoticed.
#
# It deliberately starts no manager daemon (so `ceph df` and
# rados_cluster_stat() report zeros) and keeps admin sockets and log files
# in the daemon sections only: in [global] they would also apply to every
# librados client, and concurrent clients would fight over one socket.
set -u

POOL=mixfs
here=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "ceph_cluster.sh: $*" >&2; exit 1; }

have_ceph() {
	command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
		command -v ceph >/dev/null && command -v monmaptool >/dev/null
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10)); shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -le 0 ] && return 1
		sleep 0.1
	done
}

ceph_cli() { timeout 20 ceph -c "$dir/ceph.conf" "$@"; }

write_conf() {
	local auth=none port=$1
	[ "$cephx" = 1 ] && auth=cephx
	cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = $auth
auth service required = $auth
auth client required = $auth
keyring = $dir/client.admin.keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon mgr mkfs grace = 31536000
paxos propose interval = 0.1
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 4294967296
osd max object size = 134217728
run dir = $dir/run

[mon]
mon data = $dir/mon
admin socket = $dir/run/mon.asok
log file = $dir/log/mon.log
pid file = $dir/run/mon.pid

[osd]
osd data = $dir/osd
admin socket = $dir/run/osd.asok
log file = $dir/log/osd.log
pid file = $dir/run/osd.pid
keyring = $dir/osd/keyring
osd heartbeat grace = 5
# memstore saves its objects only on a clean shutdown, which the fault
# tests need: they stop the OSD and expect their data back after a restart.
osd fast shutdown = false
CONF
}

start_osd() {
	ceph-osd -f -i 0 -c "$dir/ceph.conf" >>"$dir/log/osd.out" 2>&1 &
	echo $! > "$dir/osd.pid"
}

# alive PID: running and not a zombie (a daemon whose starter has exited is
# reaped by init, which may take its time).
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

stop_pid() {	# stop_pid FILE SECONDS: SIGTERM, SIGKILL after SECONDS (0: at once)
	local pid n
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	rm -f "$1"
	n=$(($2 * 10))
	if [ $n -gt 0 ]; then
		kill "$pid" 2>/dev/null || return 0
		while alive "$pid" && [ $n -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
	fi
	kill -9 "$pid" 2>/dev/null
	while alive "$pid"; do sleep 0.02; done
	return 0
}

# Without a manager no command lists PG states; a write waits until its PG
# is active, so one probe write says the pool serves I/O (the other PGs of
# the same new pool peer at the same moment, and a client's op to one not
# yet active just waits for it).
pool_ready() {
	timeout 20 rados -c "$dir/ceph.conf" -p "$POOL" put mixfs.probe \
		"$dir/ceph.conf" && rados -c "$dir/ceph.conf" -p "$POOL" rm mixfs.probe
}

cmd_start() {
	local port uuid key
	have_ceph || die "ceph-mon, ceph-osd and ceph-common are not installed"
	[ -e "$dir" ] && die "$dir exists"
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" || exit 1
	fsid=$(cat /proc/sys/kernel/random/uuid)
	port=$(free_port) || die "no free port"
	write_conf "$port"
	ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null || die "ceph-authtool failed"
	ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key \
		-n client.admin --cap mon 'allow *' --cap osd 'allow *' \
		--cap mds 'allow *' --cap mgr 'allow *' >/dev/null
	ceph-authtool "$dir/mon.keyring" --import-keyring \
		"$dir/client.admin.keyring" >/dev/null
	monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" \
		"$dir/monmap" >/dev/null || die "monmaptool failed"
	ceph-mon --mkfs -i a -c "$dir/ceph.conf" --monmap "$dir/monmap" \
		--keyring "$dir/mon.keyring" >>"$dir/log/mon.out" 2>&1 ||
		die "ceph-mon --mkfs failed (see $dir/log)"
	ceph-mon -f -i a -c "$dir/ceph.conf" >>"$dir/log/mon.out" 2>&1 &
	echo $! > "$dir/mon.pid"
	uuid=$(cat /proc/sys/kernel/random/uuid)
	key=$(ceph-authtool --gen-print-key) || die "ceph-authtool failed"
	printf '{"cephx_secret": "%s"}\n' "$key" > "$dir/osd-secret.json"
	ceph-authtool --create-keyring "$dir/osd/keyring" --name osd.0 \
		--add-key "$key" >/dev/null
	[ "$(ceph_cli osd new "$uuid" -i "$dir/osd-secret.json" \
		2>>"$dir/log/cli.err")" = 0 ] ||
		die "the monitor did not register osd.0 (see $dir/log)"
	ceph-osd -i 0 --mkfs --osd-uuid "$uuid" -c "$dir/ceph.conf" \
		>>"$dir/log/osd.out" 2>&1 || die "ceph-osd --mkfs failed"
	start_osd
	ceph_cli osd pool create "$POOL" 8 8 >/dev/null 2>>"$dir/log/cli.err" ||
		die "pool create failed"
	# A capacity for stores opened without size=: with no manager the
	# cluster reports no figures, and a quota is a real one of the pool.
	ceph_cli osd pool set-quota "$POOL" max_bytes $((8 << 30)) \
		>/dev/null 2>>"$dir/log/cli.err" || die "setting the pool quota failed"
	wait_for 30 pool_ready || die "the pool did not become active"
	if [ "$cephx" = 1 ]; then
		# A user of its own with the least the backend needs.
		ceph_cli auth get-or-create client.mixfs mon 'allow r' \
			osd "allow rwx pool=$POOL" -o "$dir/client.mixfs.keyring" \
			2>>"$dir/log/cli.err" || die "creating client.mixfs failed"
	fi
	echo "rados:$POOL?conf=$dir/ceph.conf"
}

# The cluster is thrown away: nothing to save, so no clean shutdown. The
# OSD goes first: one whose monitor is gone waits on its way down.
cmd_stop() {
	stop_pid "$dir/osd.pid" 0
	stop_pid "$dir/mon.pid" 0
	rm -rf "$dir"
}

cmd_run() {
	local uri
	if ! have_ceph; then
		if [ "${CI:-}" = true ]; then
			echo "ceph_cluster.sh: ceph-mon/ceph-osd/ceph-common missing on CI" >&2
			echo "1..1"
			echo "not ok 1 - the Ceph packages are installed"
			exit 1
		fi
		echo "ceph_cluster.sh: Ceph packages missing: running without rados:" >&2
		exec "$@"
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mixfs-ceph-XXXXXX") || exit 1
	rmdir "$dir"
	trap 'cmd_stop' EXIT
	trap 'exit 143' TERM INT	# the EXIT trap stops the cluster
	if ! uri=$(cmd_start); then
		tail -n 20 "$dir"/log/* >&2	# the directory goes with the trap
		echo "1..1"
		echo "not ok 1 - the test cluster starts"
		exit 1
	fi
	MIXFS_RADOS_URI=$uri MIXFS_CEPH_DIR=$dir MIXFS_CEPH_SCRIPT=$here "$@"
}

cephx=0
case "${1:-}" in
start)	[ $# -ge 2 ] || die "usage: start DIR [cephx]"
	dir=$2; [ "${3:-}" = cephx ] && cephx=1; cmd_start ;;
stop)	[ $# -eq 2 ] || die "usage: stop DIR"; dir=$2; cmd_stop ;;
osd-stop) dir=$2; stop_pid "$dir/osd.pid" 10 ;;
osd-kill) dir=$2; stop_pid "$dir/osd.pid" 0 ;;
osd-start) dir=$2; start_osd ;;
run)	shift; [ $# -ge 1 ] || die "usage: run CMD [ARGS...]"; cmd_run "$@" ;;
*)	die "usage: start DIR [cephx] | stop DIR | osd-stop DIR | osd-kill DIR | osd-start DIR | run CMD..." ;;
esac
