#!/usr/bin/env bash
# test_bigdir.sh MIXFS - one directory of many entries through a tablefs
# mount: every name made is listed exactly once by readdir, found by
# lookup, still there after a remount, and removed by unlink until the
# directory is empty; fsck is clean at the end. Prints TAP.
#
# Environment:
#   MIXFS_BIGDIR_ENTRIES  entries (default 5000; 10^6 with MIXFS_LONG=1)
set -u
mixfs=$1
entries=${MIXFS_BIGDIR_ENTRIES:-5000}
[ "${MIXFS_LONG:-0}" = 1 ] && [ -z "${MIXFS_BIGDIR_ENTRIES:-}" ] && entries=1000000
tmp=$(mktemp -d /tmp/mixfs-bigdir-XXXXXX)
mnt=$tmp/mnt store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
cleanup() {
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT

# bigdir.py make|check|remove DIR N: names of several lengths (up to 200
# bytes) and kinds, made with mknod or mkdir; check lists the directory
# and looks up a sample; prints what differs and exits 1.
cat > "$tmp/bigdir.py" <<'PY'
import os, stat, sys, time
what, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def name(i):
    return "e%07d-" % i + "x" * (i % 193)
t = time.monotonic()
if what == "make":
    for i in range(n):
        p = os.path.join(d, name(i))
        if i % 97 == 0:
            os.mkdir(p)
        else:
            os.mknod(p, stat.S_IFREG | 0o644)
elif what == "check":
    want = {name(i) for i in range(n)}
    seen = set(); dup = []
    with os.scandir(d) as it:
        for e in it:
            if e.name in seen:
                dup.append(e.name)
            seen.add(e.name)
    if dup:
        sys.exit("listed twice: %d names, e.g. %s" % (len(dup), dup[0]))
    if seen != want:
        sys.exit("listed %d names, made %d; missing e.g. %s, unknown e.g. %s" %
                 (len(seen), n, sorted(want - seen)[:1], sorted(seen - want)[:1]))
    for i in range(0, n, max(1, n // 1000)):
        st = os.lstat(os.path.join(d, name(i)))
        if stat.S_ISDIR(st.st_mode) != (i % 97 == 0):
            sys.exit("%s has the wrong type" % name(i))
    if os.stat(d).st_nlink != 2 + len(range(0, n, 97)):
        sys.exit("st_nlink of the directory is %d, expected %d" %
                 (os.stat(d).st_nlink, 2 + len(range(0, n, 97))))
elif what == "remove":
    for i in range(n):
        p = os.path.join(d, name(i))
        if i % 97 == 0:
            os.rmdir(p)
        else:
            os.unlink(p)
    left = os.listdir(d)
    if left:
        sys.exit("%d entries left after removing all, e.g. %s" % (len(left), left[0]))
print("%.1f s, %.0f entries/s" % (time.monotonic() - t, n / max(time.monotonic() - t, 1e-9)))
PY

echo "1..6"
echo "# one directory of $entries entries (MIXFS_BIGDIR_ENTRIES)"
"$mixfs" mkfs "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
mkdir "$mnt/big"
if out=$(python3 "$tmp/bigdir.py" make "$mnt/big" "$entries" 2>&1); then
	ok "$entries entries made in one directory"; echo "# make: $out"
else
	nok "$entries entries made in one directory" "$out"
fi
if out=$(python3 "$tmp/bigdir.py" check "$mnt/big" "$entries" 2>&1); then
	ok "readdir lists each exactly once, lookups find them, st_nlink counts the subdirectories"; echo "# check: $out"
else
	nok "readdir lists each exactly once, lookups find them, st_nlink counts the subdirectories" "$out"
fi
"$mixfs" umount "$mnt" && "$mixfs" mount --store "$store" "$mnt" >/dev/null ||
	{ echo "Bail out! remount failed"; exit 1; }
if out=$(python3 "$tmp/bigdir.py" check "$mnt/big" "$entries" 2>&1); then
	ok "the same after a remount (cold caches)"; echo "# check after remount: $out"
else
	nok "the same after a remount (cold caches)" "$out"
fi
if out=$(python3 "$tmp/bigdir.py" remove "$mnt/big" "$entries" 2>&1); then
	ok "every entry removed, the directory lists empty"; echo "# remove: $out"
else
	nok "every entry removed, the directory lists empty" "$out"
fi
if rmdir "$mnt/big" 2>&1; then ok "the emptied directory can be removed"; else nok "the emptied directory can be removed"; fi
"$mixfs" umount "$mnt" || { echo "Bail out! umount failed"; exit 1; }
if out=$("$mixfs" fsck "$store" 2>&1); then
	ok "fsck is clean"
else
	nok "fsck is clean" "$out"
fi
[ "$failed" -eq 0 ]
