#!/usr/bin/env bash
# test_bench_rados.sh MIXFS - `mixfs bench fs --rados URI` end to end on the
# test cluster (under tests/objstore/ceph_cluster.sh run): a quick seq run
# on tablefs-rados and tablefs-cache-rados gives a figure for each row,
# leaves no mount behind, and leaves nothing in the pool but each
# instance's superblock object. Asserts no timing. Prints TAP.
set -u
mixfs=$1
if [ -z "${MIXFS_RADOS_URI:-}" ]; then
	echo "1..0 # SKIP no Ceph test cluster (MIXFS_RADOS_URI unset)"
	exit 0
fi
tmp=$(mktemp -d /tmp/mixfs-benchrados-XXXXXX)
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "$2" | sed 's/^/# /'; }
cleanup() {
	grep " $tmp" /proc/self/mounts | awk '{print $2}' | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$tmp"
}
trap cleanup EXIT

out=$("$mixfs" bench fs --rados "$MIXFS_RADOS_URI" --list 2>&1)
if echo "$out" | grep -q '^  tablefs-rados ' && echo "$out" | grep -q '^  tablefs-cache-rados '; then ok "--rados adds tablefs-rados and tablefs-cache-rados"; else nok "--rados adds tablefs-rados and tablefs-cache-rados" "$out"; fi

mkdir -p "$tmp/work"
"$mixfs" bench fs --quick --runs 1 --rados "$MIXFS_RADOS_URI" \
	--targets tablefs-rados,tablefs-cache-rados --workloads seq \
	--dir "$tmp/work" > "$tmp/table" 2> "$tmp/log"; rc=$?
if [ $rc -eq 0 ]; then ok "a quick seq run on both rados targets succeeds"; else nok "a quick seq run on both rados targets succeeds" "rc=$rc: $(tail -5 "$tmp/log")"; fi
missing=""
for row in seq-write seq-read; do
	for t in tablefs-rados tablefs-cache-rados; do
		grep -Eq "^$row +$t +[0-9]+\.[0-9] " "$tmp/table" || missing="$missing $row/$t"
	done
done
if [ -z "$missing" ]; then ok "the table has a figure for both rows on both targets"; else nok "the table has a figure for both rows on both targets" "missing:$missing
$(cat "$tmp/table")"; fi
left=$(grep -c " $tmp" /proc/self/mounts)
if [ "$left" = 0 ]; then ok "no mount is left behind"; else nok "no mount is left behind" "$(grep " $tmp" /proc/self/mounts)"; fi
conf=$(echo "$MIXFS_RADOS_URI" | sed -n 's/.*[?&]conf=\([^&]*\).*/\1/p')
pool=$(echo "$MIXFS_RADOS_URI" | sed 's/^rados:\([^?]*\).*/\1/')
objs=$(rados ${conf:+-c "$conf"} -p "$pool" ls --all 2>&1 | grep mixfs-bench-)
names=$(echo "$objs" | awk '{print $2}' | sort -u | xargs)
count=$(echo "$objs" | grep -c .)
if [ "$names" = "mixfs.super" ] && [ "$count" = 2 ]; then ok "the pool keeps only the two instances' superblock objects"; else nok "the pool keeps only the two instances' superblock objects" "$objs"; fi

echo "1..$n"
[ $failed -eq 0 ]
