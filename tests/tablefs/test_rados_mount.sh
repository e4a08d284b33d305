#!/usr/bin/env bash
# test_rados_mount.sh MIXFS - tablefs with its file data on rados:, through
# a real mount, on the test cluster (run under tests/objstore/ceph_cluster.sh
# run, which sets MIXFS_RADOS_URI, MIXFS_CEPH_DIR and MIXFS_CEPH_SCRIPT):
#
# - the OSD stopped under a live mount while a writer writes: the writer
#   gets EIO within a bounded time (op_timeout= of the URI, store_retry= of
#   the mount), never a hang; metadata stays readable; .mixfs/events has
#   store_unavailable; the OSD started again: new writes work,
#   store_available is emitted, every file fsynced before the outage reads
#   back intact, and fsck is clean after the unmount;
# - a second filesystem whose data is in the same pool and namespace
#   cannot be mounted (nor made) while the first is mounted: the message
#   names the holder's pid;
# - a daemon killed while holding the store: mount and mkfs with force=1
#   break its lock and say whose it was on stderr; mkfs records the URI
#   without force=1.
# Prints TAP.
set -u
mixfs=$1
if [ -z "${MIXFS_RADOS_URI:-}" ]; then
	echo "1..0 # SKIP no Ceph test cluster (MIXFS_RADOS_URI unset)"
	exit 0
fi
ceph=$MIXFS_CEPH_SCRIPT
cdir=$MIXFS_CEPH_DIR
tmp=$(mktemp -d /tmp/mixfs-rados-XXXXXX)
mnt=$tmp/mnt
mkdir -p "$mnt" "$tmp/mnt2"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what" "${detail:-}"; fi; detail=; }
detail=
cleanup() {
	kill $(jobs -p) 2>/dev/null
	for m in "$mnt" "$tmp/mnt2"; do
		mountpoint -q "$m" && { "$mixfs" umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	[ -e "$cdir/osd.pid" ] || "$ceph" osd-start "$cdir"
	rm -rf "$tmp"
}
trap cleanup EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
has() { grep -q "\"type\":\"$2\"" "$1"; }
pid_of() { "$mixfs" status "$1" | sed -n 's/^pid: //p'; }
# uri NAMESPACE [QUERY]: a rados: store of the test pool.
uri() { echo "$MIXFS_RADOS_URI&namespace=$1${2:+&$2}"; }
case $MIXFS_RADOS_URI in *\?*) ;; *) MIXFS_RADOS_URI="$MIXFS_RADOS_URI?" ;; esac

# --- the OSD goes away under a live mount ---------------------------------
# op_timeout=3: a call on the stopped OSD fails after 3 s; store_retry=2:
# the mount retries a timed-out call for 2 s more; store_timeout=1: a
# stuck call is reported after 1 s. A write() can thus take one call, a
# pause and one more call: 2 x 3 + 2 s; the bound allows 10 s more.
op_timeout=3; retry=2
bound_ms=$(( (2 * op_timeout + retry + 10) * 1000 ))
store="rocksdb:$tmp/s1"
"$mixfs" mkfs --data "$(uri osd "op_timeout=$op_timeout")" "$store" >/dev/null ||
	{ echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount -o "writeback=off,errors=continue,store_retry=$retry,store_timeout=1" \
	--store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
bad=
for i in 1 2 3 4; do
	head -c $((i * 1500000 + 17)) /dev/urandom > "$tmp/f$i"
	dd if="$tmp/f$i" of="$mnt/f$i" bs=1M conv=fsync 2>/dev/null || bad="$bad f$i"
done
detail="failed:$bad"; check "files written and fsynced to rados:" [ -z "$bad" ]

# The writer rewrites one 100 kB block until a write fails; wdone holds
# the time it failed, wlast how long that write() took.
( while :; do
	t=$(now_ms)
	dd if=/dev/urandom of="$mnt/w" bs=100000 count=1 conv=notrunc 2>"$tmp/werr" || break
  done
  e=$(now_ms); echo $((e - t)) > "$tmp/wlast"; echo $e > "$tmp/wdone" ) &
writer=$!
sleep 1
t0=$(now_ms)
"$ceph" osd-stop "$cdir"
stopped=$(now_ms)
for i in $(seq $((bound_ms / 100 + 200))); do [ -e "$tmp/wdone" ] && break; sleep 0.1; done
if [ -e "$tmp/wdone" ]; then
	took=$(( $(cat "$tmp/wdone") - t0 )); last=$(cat "$tmp/wlast")
	detail="the failing write() took $last ms (bound $bound_ms ms): $(cat "$tmp/werr")"
	check "a writer on the stopped OSD gets EIO from a write() that returns within $bound_ms ms" \
		eval '[ "$last" -le "$bound_ms" ] && grep -q "Input/output error" "$tmp/werr"'
	echo "# osd-stop took $((stopped - t0)) ms; the writer failed $took ms after it began; its last write() took $last ms"
else
	kill $writer 2>/dev/null
	nok "a writer on the stopped OSD gets EIO within a bounded time" "no error $(( $(now_ms) - t0 )) ms after the OSD stopped"
fi
wait $writer 2>/dev/null
# The metadata is in the local RocksDB database: listing and stat work.
t=$(now_ms); names=$(ls "$mnt" 2>&1 | xargs); t1=$(now_ms)
size=$(stat -c %s "$mnt/f4" 2>&1); t2=$(now_ms)
echo "# with the OSD down: ls took $((t1 - t)) ms, stat $((t2 - t1)) ms"
detail="'$names' '$size' after $((t1 - t)) + $((t2 - t1)) ms"
check "with the OSD down, directory listings and stat still work at once" \
	eval '[ "$names" = "f1 f2 f3 f4 w" ] && [ "$size" = $(stat -c %s "$tmp/f4") ] && [ $((t2 - t)) -lt 2000 ]'
"$mixfs" events "$mnt" --from 1 > "$tmp/ev1"
detail=$(cat "$tmp/ev1")
check ".mixfs/events has store_unavailable and io_error for the outage" \
	eval 'grep -q "\"type\":\"store_unavailable\"" "$tmp/ev1" && grep -q "\"type\":\"io_error\"" "$tmp/ev1"'

"$ceph" osd-start "$cdir"
t0=$(now_ms); wrote=
while [ $(( $(now_ms) - t0 )) -lt 90000 ]; do
	if dd if=/dev/urandom of="$mnt/after" bs=100000 count=3 conv=fsync 2>/dev/null; then wrote=1; break; fi
	sleep 0.5
done
echo "# a write worked $(( $(now_ms) - t0 )) ms after osd-start"
detail="none within 90 s"; check "once the OSD is back, new writes and fsync work" [ -n "$wrote" ]
"$mixfs" events "$mnt" --from 1 > "$tmp/ev2"
detail=$(grep '"store_' "$tmp/ev2")
check "store_available follows store_unavailable" \
	eval 'grep -o "\"type\":\"store_[a-z]*\"" "$tmp/ev2" | tail -1 | grep -q store_available'
bad=
for i in 1 2 3 4; do cmp -s "$tmp/f$i" "$mnt/f$i" || bad="$bad f$i"; done
detail="differ:$bad"; check "every file fsynced before the outage reads back intact" [ -z "$bad" ]
"$mixfs" umount "$mnt"
out=$("$mixfs" fsck "$store" 2>&1); rc=$?
detail=$out; check "fsck is clean after the outage" [ $rc = 0 ]

# --- two filesystems, one pool and namespace ------------------------------
data=$(uri shared)
"$mixfs" mkfs --data "$data" "rocksdb:$tmp/a" >/dev/null &&
"$mixfs" mkfs --data "$data" "rocksdb:$tmp/b" >/dev/null ||
	{ echo "Bail out! mkfs of the shared-namespace filesystems failed"; exit 1; }
"$mixfs" mount --store "rocksdb:$tmp/a" "$mnt" >/dev/null || { echo "Bail out! mount of a failed"; exit 1; }
holder=$(pid_of "$mnt")
head -c 300000 /dev/urandom > "$tmp/shared"
cp "$tmp/shared" "$mnt/shared" && sync "$mnt/shared"
out=$("$mixfs" mount --store "rocksdb:$tmp/b" "$tmp/mnt2" 2>&1); rc=$?
detail="exit $rc: $out"
check "a second mount of the pool and namespace fails naming the holder's pid" \
	eval '[ $rc != 0 ] && ! mountpoint -q "$tmp/mnt2" && echo "$out" | grep -q "namespace .shared. is in use by client\..* pid $holder\b"'
out=$("$mixfs" mkfs --data "$data" "rocksdb:$tmp/c" 2>&1); rc=$?
detail="exit $rc: $out"
check "mkfs on the namespace in use fails naming the holder's pid" \
	eval '[ $rc != 0 ] && echo "$out" | grep -q "is in use by client\..* pid $holder\b"'

# --- a lock left by a dead daemon, broken with force=1 --------------------
kill -9 "$holder"
while kill -0 "$holder" 2>/dev/null; do sleep 0.05; done
umount -l "$mnt"
out=$("$mixfs" mount --store "rocksdb:$tmp/a" "$mnt" 2>&1); rc=$?
detail="exit $rc: $out"
check "the dead daemon's lock still refuses a plain mount, naming it" \
	eval '[ $rc != 0 ] && echo "$out" | grep -q "pid $holder\b"'
out=$("$mixfs" mount -o "data=$data&force=1" --store "rocksdb:$tmp/a" "$mnt" 2>&1 >/dev/null); rc=$?
detail="exit $rc: $out"
check "mount with force=1 breaks the lock and says whose it was on stderr" \
	eval '[ $rc = 0 ] && echo "$out" | grep -q "broke the lock of client\..* pid $holder\b"'
cmp -s "$tmp/shared" "$mnt/shared"; rc=$?
detail="differs"; check "the file synced by the dead daemon reads back" [ $rc = 0 ]
holder=$(pid_of "$mnt")
kill -9 "$holder"
while kill -0 "$holder" 2>/dev/null; do sleep 0.05; done
umount -l "$mnt"
out=$("$mixfs" mkfs --force --data "$data&force=1" "rocksdb:$tmp/c" 2>&1 >/dev/null); rc=$?
detail="exit $rc: $out"
check "mkfs with force=1 breaks the lock and says whose it was on stderr" \
	eval '[ $rc = 0 ] && echo "$out" | grep -q "broke the lock of client\..* pid $holder\b"'
# force=1 was for that one open: a mount of the new filesystem while it is
# mounted elsewhere is refused, not forced.
"$mixfs" mount --store "rocksdb:$tmp/b" "$tmp/mnt2" >/dev/null &&
	out=$("$mixfs" mount --store "rocksdb:$tmp/c" "$mnt" 2>&1); rc=$?
detail="exit $rc: $out"
check "mkfs does not record force=1: the new filesystem's mount does not break a live lock" \
	eval '[ $rc != 0 ] && echo "$out" | grep -q "is in use by client"'
mountpoint -q "$tmp/mnt2" && "$mixfs" umount "$tmp/mnt2"
out=$("$mixfs" fsck "rocksdb:$tmp/c" 2>&1); rc=$?
detail=$out; check "fsck of the filesystem made with force=1 is clean" [ $rc = 0 ]

echo "1..$n"
[ $failed -eq 0 ]
