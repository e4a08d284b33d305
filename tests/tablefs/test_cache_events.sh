#!/usr/bin/env bash
# test_cache_events.sh MIXFS - a tablefs whose file data is in a cache:
# store (a dir: "remote" here, so no cluster is needed; the wiring is the
# same for rados:) reports its cache's trouble as events: local fills that
# fail give one cache_degraded (warning) and, once a fill works again,
# cache_ok; a cached piece damaged on disk is fetched again from the remote
# and reported as checksum_corrected with the inode and the piece's offset.
# The data read is right throughout, and fsck is clean. Prints TAP.
set -u
mixfs=$1
tmp=$(mktemp -d /tmp/mixfs-cevt-XXXXXX)
mnt=$tmp/mnt
store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what" "${detail:-}"; fi; detail=; }
detail=
cleanup() {
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
# field FILE TYPE KEY: detail KEY of the first event of TYPE in FILE.
field() { grep "\"type\":\"$2\"" "$1" | head -1 | grep -o "\"$3\":\"[^\"]*\"" | sed 's/.*:"//; s/"$//'; }
types() { grep -o '"type":"[a-z_]*"' "$1" | sed 's/.*:"//; s/"$//' | grep -v mounted | xargs; }

# 64 KiB pieces; the cache holds up to 4 MiB.
cache() { echo "cache:local=[$1dir:$tmp/local]\\,max=4M\\,piece=64K:dir:$tmp/remote"; }
"$mixfs" mkfs --data "$(cache "" | sed 's/\\//g')" "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
for f in f1 f2; do head -c 262144 /dev/urandom > "$tmp/$f"; cp "$tmp/$f" "$mnt/$f"; done
ino2=$(stat -c %i "$mnt/f2")
"$mixfs" umount "$mnt"

# The local store's first two creates or writes fail (EIO): the first
# read of f1 fills the cache, so its first fill fails and a later one works.
"$mixfs" mount -o "data=$(cache 'faulty:op=create+write\,count=2\,errno=EIO:')" \
	--store "$store" "$mnt" >/dev/null || { echo "Bail out! mount with a failing cache failed"; exit 1; }
from=$(( $("$mixfs" status "$mnt" | sed -n 's/^events_last_seq: //p') + 1 ))
bad=
for f in f1 f2; do cmp -s "$tmp/$f" "$mnt/$f" || bad="$bad $f"; done
detail="differ:$bad"; check "reads are right while the cache's local store fails" [ -z "$bad" ]
"$mixfs" events "$mnt" --from $from > "$tmp/ev1"
detail=$(cat "$tmp/ev1")
check "a failing local store gives one cache_degraded, then cache_ok once it works" \
	[ "$(types "$tmp/ev1")" = "cache_degraded cache_ok" ]
out="$(grep '"type":"cache_degraded"' "$tmp/ev1" | grep -o '"category":"[a-z]*"') $(field "$tmp/ev1" cache_degraded errno) $(field "$tmp/ev1" cache_degraded ino)"
want="\"category\":\"warning\" EIO $(stat -c %i "$mnt/f1")"
detail="got '$out' want '$want'"
check "cache_degraded is a warning naming the errno and the inode" [ "$out" = "$want" ]
out=$(grep '"type":"cache_ok"' "$tmp/ev1" | grep -o '"category":"[a-z]*"')
detail=$out; check "cache_ok is info" [ "$out" = '"category":"info"' ]
"$mixfs" umount "$mnt"

# Damage f2's cached second piece on disk: the cache reads it from the
# local dir: store, whose checksum refuses it, fetches the piece again
# from the remote and writes it back.
obj=$tmp/local/objects/$(printf %016x "$ino2")
chunk=$(find "$obj" -type f ! -name meta ! -name attr ! -name '*.sum' -size +100k)
if [ "$(echo "$chunk" | grep -c .)" = 1 ]; then
	printf 'CORRUPT' | dd of="$chunk" bs=1 seek=70000 conv=notrunc 2>/dev/null
	ok "f2 is cached in one file of the local store"
else
	nok "f2 is cached in one file of the local store" "$(ls -l "$obj" 2>&1)"
fi
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
from=$(( $("$mixfs" status "$mnt" | sed -n 's/^events_last_seq: //p') + 1 ))
cmp -s "$tmp/f2" "$mnt/f2"; rc=$?
detail="differs"; check "a damaged cached piece reads right" [ $rc = 0 ]
"$mixfs" events "$mnt" --from $from > "$tmp/ev2"
out="$(types "$tmp/ev2") $(field "$tmp/ev2" checksum_corrected ino) $(field "$tmp/ev2" checksum_corrected offset) $(field "$tmp/ev2" checksum_corrected where)"
detail="got '$out': $(cat "$tmp/ev2")"
check "the damaged piece gives checksum_corrected with the inode and the piece's offset" \
	[ "$out" = "checksum_corrected $ino2 65536 cache" ]
out="$("$mixfs" status "$mnt" | sed -n 's/^errors_checksum_corrected: //p') $("$mixfs" status "$mnt" | sed -n 's/^errors_checksum: //p')"
detail=$out; check "status counts it as corrected, not as a checksum error" [ "$out" = "1 0" ]
"$mixfs" umount "$mnt"
out=$("$mixfs" fsck "$store" 2>&1); rc=$?
detail=$out; check "fsck is clean" [ $rc = 0 ]

echo "1..$n"
[ $failed -eq 0 ]
