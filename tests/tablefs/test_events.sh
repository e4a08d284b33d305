#!/usr/bin/env bash
# test_events.sh MIXFS - events through a real tablefs mount: thresholds
# seen on both the socket feed and .mixfs/events, control commands, the
# sequence continuing across a remount, and an I/O error leading to
# io_error and a read-only remount. Prints TAP.
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

"$mixfs" mkfs --size 64M "$store" >/dev/null
"$mixfs" mount -o space_low=50%,space_ok=60% --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }

[ -S "$(cat "$mnt/.mixfs/socket")" ] && ok ".mixfs/socket names a listening socket" || nok ".mixfs/socket names a listening socket"

exec 4<"$mnt/.mixfs/events"
"$mixfs" events --follow "$mnt" > "$tmp/feed" 2>&1 &
feeder=$!
sleep 0.5
head -c 40000000 /dev/zero > "$mnt/big"
rm "$mnt/big"
: > "$tmp/file"
for i in $(seq 100); do cat <&4 >> "$tmp/file"; has "$tmp/file" space_ok && has "$tmp/feed" space_ok && break; sleep 0.1; done
exec 4<&-
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
for f in file feed; do
	if has "$tmp/$f" space_low && has "$tmp/$f" space_ok; then ok "space_low then space_ok through $f"; else nok "space_low then space_ok through $f" "$(cat "$tmp/$f")"; fi
done
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/file"; then ok "every event line parses as JSON"; else nok "every event line parses as JSON"; fi

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
"$mixfs" mount -o data=faulty:op=write:mem: --store "$store" "$mnt" >/dev/null || { echo "Bail out! faulty mount failed"; exit 1; }
if head -c 100000 /dev/zero > "$mnt/fails" 2>"$tmp/err"; then nok "a failing store write reaches the writer as an error"; else ok "a failing store write reaches the writer as an error"; fi
"$mixfs" events "$mnt" --from 1 > "$tmp/after"
for t in io_error remounted_ro store_unavailable; do
	has "$tmp/after" $t && ok "$t emitted" || nok "$t emitted" "$(cat "$tmp/after")"
done
if mkdir "$mnt/newdir" 2>"$tmp/err"; then nok "read-only after remount-ro"; else grep -qi "read-only" "$tmp/err" && ok "read-only after remount-ro" || nok "read-only after remount-ro" "$(cat "$tmp/err")"; fi
"$mixfs" status "$mnt" | grep -q '^readonly: 1' && ok "status says readonly" || nok "status says readonly"
"$mixfs" umount "$mnt"
out=$("$mixfs" fsck "$store" 2>&1) && ok "fsck clean afterwards" || nok "fsck clean afterwards" "$out"

echo "1..$n"
[ $failed -eq 0 ]
