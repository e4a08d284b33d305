#!/usr/bin/env bash
# test_events.sh MIXFS - events through a real tablefs mount: thresholds
# seen on both the socket feed and .mixfs/events and in status, control
# commands, the sequence continuing across a remount, an I/O error leading
# to io_error and a read-only remount, a stalled store call reported while
# it is stuck, a store that fails for a while and recovers, a corrupted
# data chunk read as EIO and checksum_error, the counters of status, and
# transient store failures retried for store_retry= (then EIO, io_error).
# Prints TAP.
set -u
mixfs=$1
tmp=$(mktemp -d /tmp/mixfs-evt-XXXXXX)
mnt=$tmp/mnt
store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
cleanup() {
	kill $(jobs -p) 2>/dev/null
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
has() { grep -q "\"type\":\"$2\"" "$1"; }
# status KEY: the value of KEY in `mixfs status`.
status() { "$mixfs" status "$mnt" | sed -n "s/^$1: //p"; }
# follow FILE: follow the socket feed into FILE, from the next event on,
# and return once the client is connected (feeder: its pid).
follow() {
	local next=$(($(status events_last_seq) + 1))
	: > "$1"
	"$mixfs" events --follow --from $next "$mnt" > "$1" 2>&1 &
	feeder=$!
	for i in $(seq 100); do [ "$(status events_feed_clients)" -ge 1 ] && break; sleep 0.05; done
}
# Our own lines hold these fields unescaped, so sed reads them (python
# takes seconds to start on a loaded machine).
# store_types FILE: the store_* event types of FILE, in order.
store_types() { grep -o '"type":"store_[a-z]*"' "$1" | sed 's/.*:"//; s/"$//' | xargs; }
# detail FILE TYPE KEY [N]: detail KEY of the Nth (1st) event of TYPE.
detail() { grep "\"type\":\"$2\"" "$1" | sed -n "${4:-1}p" | grep -o "\"$3\":\"[^\"]*\"" | sed 's/.*:"//; s/"$//'; }

"$mixfs" mkfs --size 64M "$store" >/dev/null
"$mixfs" mount -o space_low=50%,space_ok=60% --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }

[ -S "$(cat "$mnt/.mixfs/socket")" ] && ok ".mixfs/socket names a listening socket" || nok ".mixfs/socket names a listening socket"

exec 4<"$mnt/.mixfs/events"
"$mixfs" events --follow "$mnt" > "$tmp/feed" 2>&1 &
feeder=$!
sleep 0.5
dd if=/dev/zero of="$mnt/big" bs=1M count=40 2>/dev/null
fired=$(status watch_1_fired)
rm "$mnt/big"
: > "$tmp/file"
for i in $(seq 100); do cat <&4 >> "$tmp/file"; has "$tmp/file" space_ok && has "$tmp/feed" space_ok && break; sleep 0.1; done
exec 4<&-
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
for f in file feed; do
	if has "$tmp/$f" space_low && has "$tmp/$f" space_ok; then ok "space_low then space_ok through $f"; else nok "space_low then space_ok through $f" "$(cat "$tmp/$f")"; fi
done
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/file"; then ok "every event line parses as JSON"; else nok "every event line parses as JSON"; fi
after=$(status watch_1_fired)
[ "$fired $after" = "1 0" ] && ok "status shows the watch fired while space is low and armed again after" || nok "status shows the watch fired, then armed" "low: '$fired' after: '$after'"
out=$("$mixfs" status "$mnt" | grep '^watch_1:')
[ "$out" = "watch_1: space low 50% ok 60%" ] && ok "status lists the watch with its levels" || nok "status lists the watch with its levels" "$out"

exec 3<>"$mnt/.mixfs/ctl"
echo "threshold space 10% 20%" >&3
answer=$(cat <&3)
[ "$answer" = "watch 2" ] && ok "threshold command answers through ctl" || nok "threshold command answers through ctl" "$answer"
if echo "threshold space 30%% x" >&3 2>/dev/null; then nok "bad command fails the write"; else ok "bad command fails the write"; fi
answer=$(cat <&3)
case $answer in error:*) ok "the reason is readable back" ;; *) nok "the reason is readable back" "$answer" ;; esac
exec 3>&-

last=$("$mixfs" status "$mnt" | sed -n 's/^events_last_seq: //p')
"$mixfs" umount "$mnt"
"$mixfs" mount --store "$store" "$mnt" >/dev/null
seqs=$("$mixfs" events "$mnt" --from 1 | python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["seq"]) for l in sys.stdin))')
expect=$(seq -s ' ' 1 $((last + 2)))
[ "$seqs" = "$expect" ] && ok "sequence continues across remount (unmounted, mounted kept)" || nok "sequence continues across remount" "got '$seqs' want '$expect'"
"$mixfs" umount "$mnt"

# Every data write fails: the writer gets EIO, io_error is emitted and the
# default errors=remount-ro makes the filesystem read-only.
"$mixfs" mount -o writeback=off,data=faulty:op=write:mem: --store "$store" "$mnt" >/dev/null || { echo "Bail out! faulty mount failed"; exit 1; }
if head -c 100000 /dev/zero > "$mnt/fails" 2>"$tmp/err"; then nok "a failing store write reaches the writer as an error"; else ok "a failing store write reaches the writer as an error"; fi
"$mixfs" events "$mnt" --from 1 > "$tmp/after"
for t in io_error remounted_ro store_unavailable; do
	has "$tmp/after" $t && ok "$t emitted" || nok "$t emitted" "$(cat "$tmp/after")"
done
if mkdir "$mnt/newdir" 2>"$tmp/err"; then nok "read-only after remount-ro"; else grep -qi "read-only" "$tmp/err" && ok "read-only after remount-ro" || nok "read-only after remount-ro" "$(cat "$tmp/err")"; fi
"$mixfs" status "$mnt" | grep -q '^readonly: 1' && ok "status says readonly" || nok "status says readonly"
"$mixfs" umount "$mnt"
out=$("$mixfs" fsck "$store" 2>&1) && ok "fsck clean afterwards" || nok "fsck clean afterwards" "$out"

# (writeback=off on these mounts: each write() is then one store call, so
# the faults land on the calls the test counts.)
# A stalled store call, then calls that fail and a recovery, on one mount:
# the first data write sleeps 3 s (store_timeout is 1 s), the next three
# fail with EIO (errors=continue keeps the filesystem writable), the rest
# pass. The data goes to a dir: store, whose files the corruption test
# below changes.
store="rocksdb:$tmp/store2"
"$mixfs" mkfs --size 64M "$store" >/dev/null
"$mixfs" mount -o 'writeback=off,errors=continue,store_timeout=1,data=faulty:op=write\,count=1\,delay=3s;op=write\,after=1\,count=3\,errno=EIO:dir:'"$tmp/data2" --store "$store" "$mnt" >/dev/null || { echo "Bail out! faulty mount failed"; exit 1; }
[ "$(status store_timeout_ms)" = 1000 ] && ok "store_timeout=1 reaches the mount" || nok "store_timeout=1 reaches the mount" "$(status store_timeout_ms)"
exec 4<"$mnt/.mixfs/events"
follow "$tmp/feed2"
: > "$tmp/file2"
# wdone appears only once the write has returned.
( dd if=/dev/urandom of="$mnt/slow" bs=100000 count=1 2>/dev/null; echo $? > "$tmp/wdone" ) &
writer=$!
for i in $(seq 100); do has "$tmp/feed2" store_unavailable && break; sleep 0.05; done
if has "$tmp/feed2" store_unavailable && [ ! -e "$tmp/wdone" ]; then
	ok "store_unavailable arrives on the socket while the stalled write is still in flight"
else
	nok "store_unavailable arrives on the socket while the stalled write is still in flight" "write done: $(cat "$tmp/wdone" 2>&1); feed: $(cat "$tmp/feed2")"
fi
wait $writer
[ "$(cat "$tmp/wdone")" = 0 ] && ok "the stalled write completes once the store answers" || nok "the stalled write completes once the store answers" "dd exit $(cat "$tmp/wdone")"
feed=$tmp/feed2
out="$(detail $feed store_unavailable op) $(detail $feed store_unavailable errno) $(detail $feed store_unavailable timeout_ms)"
ms=$(detail $feed store_unavailable stalled_ms)
[ "$out" = "write ETIMEDOUT 1000" ] && [ "${ms:-0}" -ge 1000 ] && ok "the stall names the operation and how long it has been stuck" || nok "the stall names the operation and how long it has been stuck" "$out stalled_ms=$ms"
# Three writes fail, then one goes through. conv=notrunc: nothing but
# the writes, whose results are the only news about the store.
fails=0
for i in 1 2 3 4 5; do
	if dd if=/dev/urandom of="$mnt/w" bs=100000 count=1 conv=notrunc 2>/dev/null; then break; fi
	fails=$((fails+1))
done
[ $fails = 3 ] && ok "three failing store writes reach the writers, the fourth succeeds" || nok "three failing store writes reach the writers, the fourth succeeds" "failed $fails"
want="store_unavailable store_available store_unavailable store_available"
for i in $(seq 100); do cat <&4 >> "$tmp/file2"; [ "$(store_types "$tmp/file2")" = "$want" ] && [ "$(store_types "$tmp/feed2")" = "$want" ] && break; sleep 0.1; done
exec 4<&-
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
for f in file2 feed2; do
	got=$(store_types "$tmp/$f")
	[ "$got" = "$want" ] && ok "one outage each for the stall and the failures, each ended by store_available, through ${f%2}" || nok "outages through ${f%2}" "got '$got' want '$want'"
done
down=$(detail $feed store_available down_ms)
out="$(detail $feed store_available failed_calls) $(detail $feed store_available failed_calls 2)"
[ "${down:-0}" -ge 2500 ] && [ "$out" = "0 3" ] && ok "store_available says how long the store was down and how many calls failed" || nok "store_available details" "down_ms=$down failed_calls: $out"
json=$("$mixfs" status --json "$mnt")
out=$(for k in store_available store_stalled_calls store_failed_calls store_outages errors_io store_calls_in_flight; do echo "$json" | grep -o "\"$k\": [0-9]*" | sed 's/.*: //'; done | xargs)
w=$(echo "$json" | grep -o '"ops_write": [0-9]*' | sed 's/.*: //')
c=$(echo "$json" | grep -o '"ops_create": [0-9]*' | sed 's/.*: //')
[ "$out" = "1 1 3 2 3 0" ] && [ "${w:-0}" -ge 5 ] && [ "${c:-0}" -ge 2 ] && ok "status --json counts the stall, the failed calls, the outages, the I/O errors and the requests" || nok "status --json counters" "$out ops_write=$w ops_create=$c"
out=$("$mixfs" status --prometheus "$mnt")
mp=$(realpath "$mnt")
for g in "mixfs_store_failed_calls{mountpoint=\"$mp\"} 3" "mixfs_store_stalled_calls{mountpoint=\"$mp\"} 1" "mixfs_errors_io{mountpoint=\"$mp\"} 3" "# TYPE mixfs_ops_write gauge"; do
	echo "$out" | grep -qxF "$g" || { nok "status --prometheus has the counters as gauges" "missing '$g' in: $out"; g=; break; }
done
[ -n "$g" ] && ok "status --prometheus has the counters as gauges"
[ "$(status readonly)" = 0 ] && ok "errors=continue keeps the filesystem writable" || nok "errors=continue keeps the filesystem writable"

# A corrupted data chunk: one chunk's bytes in the dir: store changed
# behind the filesystem's back. Reading it fails with EIO, and
# checksum_error names the inode.
head -c 100000 /dev/urandom > "$mnt/victim"
ino=$(stat -c %i "$mnt/victim")
"$mixfs" umount "$mnt"
chunk=$(find "$tmp/data2/objects/$(printf %016x "$ino")" -type f ! -name meta ! -name attr ! -name '*.sum' -size +90k 2>&1)
if [ "$(echo "$chunk" | grep -c .)" = 1 ] && [ -f "$chunk" ]; then
	printf 'CORRUPT' | dd of="$chunk" bs=1 seek=50000 conv=notrunc 2>/dev/null
	ok "the file's data is in one file of the dir: store"
else
	nok "the file's data is in one file of the dir: store" "$chunk"
fi
"$mixfs" mount -o "data=dir:$tmp/data2" --store "$store" "$mnt" >/dev/null || { echo "Bail out! dir: data remount failed"; exit 1; }
follow "$tmp/feed3"
if cat "$mnt/victim" > /dev/null 2> "$tmp/err"; then nok "reading a corrupted chunk fails"; else grep -q "Input/output error" "$tmp/err" && ok "reading a corrupted chunk fails with EIO" || nok "reading a corrupted chunk fails with EIO" "$(cat "$tmp/err")"; fi
for i in $(seq 50); do has "$tmp/feed3" checksum_error && break; sleep 0.1; done
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
out="$(grep -c '"type":"checksum_error"' "$tmp/feed3" | sed 's/^[1-9][0-9]*$/some/') $(grep '"type":"checksum_error"' "$tmp/feed3" | head -1 | grep -o '"category":"[a-z]*"') $(detail "$tmp/feed3" checksum_error op) $(detail "$tmp/feed3" checksum_error ino)"
[ "$out" = "some \"category\":\"error\" read $ino" ] && ok "checksum_error on the feed names the inode" || nok "checksum_error on the feed names the inode" "$out; feed: $(cat "$tmp/feed3")"
n_ck=$(status errors_checksum)
[ "${n_ck:-0}" -ge 1 ] && ok "status counts checksum errors" || nok "status counts checksum errors" "errors_checksum: '$n_ck'"
[ "$(status readonly)" = 0 ] && ok "a bad chunk does not make the filesystem read-only" || nok "a bad chunk does not make the filesystem read-only"
"$mixfs" umount "$mnt"

# Transient failures are retried for store_retry= (default 5 s): the first
# three data-store writes time out, the next attempt goes through; the
# writer sees success, the feed one outage and its end.
store="rocksdb:$tmp/store4"
"$mixfs" mkfs --size 64M "$store" >/dev/null
"$mixfs" mount -o 'writeback=off,errors=continue,data=faulty:op=write\,count=3\,errno=ETIMEDOUT:dir:'"$tmp/data4" --store "$store" "$mnt" >/dev/null || { echo "Bail out! faulty mount failed"; exit 1; }
follow "$tmp/feed4"
if dd if=/dev/urandom of="$mnt/r" bs=100000 count=1 2>"$tmp/err"; then ok "a write whose store calls time out three times succeeds on a retry"; else nok "a write whose store calls time out three times succeeds on a retry" "$(cat "$tmp/err")"; fi
for i in $(seq 50); do has "$tmp/feed4" store_available && break; sleep 0.1; done
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
out="$(store_types "$tmp/feed4") $(detail "$tmp/feed4" store_available failed_calls)"
[ "$out" = "store_unavailable store_available 3" ] && ok "the retried failures are one outage of three failed calls" || nok "the retried failures are one outage of three failed calls" "$out"
"$mixfs" umount "$mnt"
# A store that stays down: after store_retry=1 the write fails with EIO,
# and io_error and store_unavailable (once) are emitted.
"$mixfs" mount -o 'writeback=off,errors=continue,store_retry=1,data=faulty:op=write\,errno=ETIMEDOUT:dir:'"$tmp/data4" --store "$store" "$mnt" >/dev/null || { echo "Bail out! faulty mount failed"; exit 1; }
follow "$tmp/feed5"
t0=$(date +%s%N)
if dd if=/dev/urandom of="$mnt/r" bs=100000 count=1 conv=notrunc 2>"$tmp/err"; then nok "a write to a store that stays down fails with EIO"; else
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	grep -q "Input/output error" "$tmp/err" && [ $ms -ge 1000 ] && ok "a write to a store that stays down fails with EIO after the retries" || nok "a write to a store that stays down fails with EIO after the retries" "after $ms ms: $(cat "$tmp/err")"
fi
for i in $(seq 50); do has "$tmp/feed5" io_error && break; sleep 0.1; done
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
out="$(store_types "$tmp/feed5") $(grep -c '"type":"io_error"' "$tmp/feed5" | sed 's/^[1-9][0-9]*$/some/')"
[ "$out" = "store_unavailable some" ] && ok "one store_unavailable and an io_error for the failed write" || nok "one store_unavailable and an io_error for the failed write" "$out; feed: $(cat "$tmp/feed5")"
"$mixfs" umount "$mnt"

echo "1..$n"
[ $failed -eq 0 ]
