#!/usr/bin/env bash
# test_mount.sh MIXFS - the mixfs command and a real tablefs mount: mkfs,
# mount, persistence across remount, a killed daemon, refusals with clear
# messages, status. Prints TAP.
set -u
mixfs=$1
tmp=$(mktemp -d /tmp/mixfs-cmd-XXXXXX)
mnt=$tmp/mnt
store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()   { n=$((n+1)); echo "ok $n - $1"; }
nok()  { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "$2" | sed 's/^/# /'; }
check() { local name=$1; shift; if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi; }
unmount_all() { mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }; }
cleanup() { unmount_all; pkill -9 -f "mixfs mount --store $store" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

check "mkfs makes a filesystem" "$mixfs" mkfs "$store"
out=$("$mixfs" mkfs "$store" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q -- --force; then ok "mkfs refuses to overwrite without --force"; else nok "mkfs refuses to overwrite without --force" "$out"; fi

check "mount returns once the mount is ready" "$mixfs" mount --store "$store" "$mnt"
if mountpoint -q "$mnt"; then ok "mount point is mounted"; else nok "mount point is mounted"; fi

echo hello > "$mnt/f" && [ "$(cat "$mnt/f")" = hello ] && ok "write and read back through the mount" || nok "write and read back through the mount"
mkdir -p "$mnt/d/e" && head -c 3000000 /dev/urandom > "$mnt/d/e/big" && sync
sum=$(md5sum < "$mnt/d/e/big")

out=$("$mixfs" status "$mnt" 2>&1)
if echo "$out" | grep -q '^driver: tablefs' && echo "$out" | grep -q '^uuid: '; then ok "status reports driver and uuid"; else nok "status reports driver and uuid" "$out"; fi
out=$("$mixfs" status --json "$mnt" 2>&1)
if echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["driver"]=="tablefs"' 2>/dev/null; then ok "status --json parses"; else nok "status --json parses" "$out"; fi
# Prometheus text format: HELP and TYPE before each family's samples, every
# sample "name{labels} number", the figures those of status.
inodes=$("$mixfs" status "$mnt" | sed -n 's/^inodes_allocated: //p')
out=$("$mixfs" status --prometheus "$mnt" 2>&1)
if echo "$out" | python3 -c '
import re, sys
typed = set(); samples = {}
for line in sys.stdin.read().splitlines():
    if line.startswith("# TYPE "):
        typed.add(line.split()[2]); continue
    if line.startswith("#"):
        continue
    m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)", line)
    assert m, "bad line: " + line
    assert m.group(1) in typed, "no TYPE before " + m.group(1)
    assert re.fullmatch(r"([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)+", m.group(2)), "bad labels: " + line
    float(m.group(3))
    samples[m.group(1)] = (m.group(2), m.group(3))
assert samples["mixfs_inodes_allocated"][1] == sys.argv[1], samples["mixfs_inodes_allocated"]
assert "driver=\"tablefs\"" in samples["mixfs_info"][0]
assert "mountpoint=\"" + sys.argv[2] + "\"" in samples["mixfs_space_free_bytes"][0]
' "$inodes" "$(realpath "$mnt")" 2>&1; then ok "status --prometheus is valid exposition format with status's figures"; else nok "status --prometheus is valid exposition format with status's figures" "$out"; fi
out=$("$mixfs" status --prometheus "$mnt" "$tmp" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "not a mounted mixfs"; then ok "status --prometheus fails on a path that is no mount"; else nok "status --prometheus fails on a path that is no mount" "$out"; fi

mkdir -p "$tmp/mnt2"
out=$("$mixfs" mount --store "$store" "$tmp/mnt2" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -qi 'in use'; then ok "second mount of a store in use fails clearly"; else nok "second mount of a store in use fails clearly" "$out"; fi

check "umount waits for the daemon" "$mixfs" umount "$mnt"
if ! mountpoint -q "$mnt"; then ok "unmounted"; else nok "unmounted"; fi
check "fsck is clean after unmount" "$mixfs" fsck "$store"

"$mixfs" mount --store "$store" "$mnt" >/dev/null
if [ "$(cat "$mnt/f" 2>&1)" = hello ] && [ "$(md5sum < "$mnt/d/e/big")" = "$sum" ]; then ok "data survives remount"; else nok "data survives remount"; fi

# A daemon killed during writes: fsynced files survive, fsck is clean.
pid=$("$mixfs" status "$mnt" | sed -n 's/^pid: //p')
for i in $(seq 1 20); do head -c 10000 /dev/urandom > "$mnt/sync$i"; done
python3 - "$mnt" <<'PY'
import os, sys
for i in range(1, 21):
    fd = os.open(os.path.join(sys.argv[1], f"sync{i}"), os.O_RDONLY)
    os.fsync(fd); os.close(fd)
fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)
PY
md5sum "$mnt"/sync* | sed "s|$mnt/||" > "$tmp/sums"
( for i in $(seq 1 200); do head -c 50000 /dev/urandom > "$mnt/unsynced$i" 2>/dev/null || break; done ) &
writer=$!
sleep 0.3
kill -9 "$pid"
wait $writer 2>/dev/null
umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "fsck is clean after kill -9" "$mixfs" fsck "$store"
"$mixfs" mount --store "$store" "$mnt" >/dev/null
if (cd "$mnt" && md5sum -c --quiet "$tmp/sums") >/dev/null 2>&1; then ok "fsynced files intact after kill -9"; else nok "fsynced files intact after kill -9"; fi
"$mixfs" umount "$mnt"

touch "$mnt/stray"
out=$("$mixfs" mount --store "$store" "$mnt" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'not empty'; then ok "non-empty mount point refused"; else nok "non-empty mount point refused" "$out"; unmount_all; fi
rm -f "$mnt/stray"

out=$("$mixfs" mount --bogus "$mnt" 2>&1); rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q usage; then ok "bad option exits 2 with usage"; else nok "bad option exits 2 with usage" "$out"; fi
out=$("$mixfs" mount -o nosuchopt --store "$store" "$mnt" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q nosuchopt; then ok "unknown mount option named in the error"; else nok "unknown mount option named in the error" "$out"; unmount_all; fi
out=$("$mixfs" mount -o writeback=sometimes --store "$store" "$mnt" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q writeback=sometimes; then ok "bad writeback= value named in the error"; else nok "bad writeback= value named in the error" "$out"; unmount_all; fi
# The mount option that turns the kernel's writeback cache off.
if "$mixfs" mount -o writeback=off --store "$store" "$mnt" >/dev/null 2>&1; then
	head -c 1000000 /dev/urandom > "$tmp/wb" && cp "$tmp/wb" "$mnt/wb" && sync -f "$mnt"
	if cmp -s "$tmp/wb" "$mnt/wb"; then ok "writeback=off mount writes and reads back"; else nok "writeback=off mount writes and reads back"; fi
	"$mixfs" umount "$mnt"
else
	nok "writeback=off mount writes and reads back" "mount failed"
fi
# A full store: ENOSPC reaches the writer (at write() without the
# writeback cache, at fsync() or close() with it), what was there before
# is intact, and removing a file makes room again.
for wb in on off; do
	small="rocksdb:$tmp/small-$wb"
	"$mixfs" mkfs --size 8M "$small" >/dev/null
	if "$mixfs" mount -o writeback=$wb --store "$small" "$mnt" >/dev/null 2>&1; then
		echo keep > "$mnt/keep" && sync -f "$mnt"
		out=$(dd if=/dev/urandom of="$mnt/fill" bs=1M count=20 conv=fsync 2>&1); rc=$?
		if [ $rc -ne 0 ] && echo "$out" | grep -q "No space left"; then ok "writeback=$wb: filling the store fails with ENOSPC"; else nok "writeback=$wb: filling the store fails with ENOSPC" "$out"; fi
		# --size bounds data and metadata together: df's total is
		# the size, and the data stored stays within it (st_blocks:
		# with the writeback cache the size is the kernel's, not
		# what reached the store).
		total=$(df -B1 --output=size "$mnt" | tail -1 | tr -d ' ')
		held=$(stat -c '%b * %B' "$mnt/fill")
		if [ "$total" = 8388608 ] && [ $((held)) -le 8388608 ]; then ok "writeback=$wb: df shows the 8M size, the data stored is within it"; else nok "writeback=$wb: df shows the 8M size, the data stored is within it" "df total $total, fill holds $((held)) bytes"; fi
		out=$(cp /etc/services "$mnt/svc" 2>&1); rc=$?
		if [ $rc -ne 0 ] && echo "$out" | grep -q "No space left"; then ok "writeback=$wb: cp into the full store reports ENOSPC"; else nok "writeback=$wb: cp into the full store reports ENOSPC" "$out"; fi
		rm -f "$mnt/fill" "$mnt/svc"
		if cp /etc/services "$mnt/svc" && cmp -s /etc/services "$mnt/svc" && [ "$(cat "$mnt/keep")" = keep ]; then ok "writeback=$wb: room again after rm, old file intact"; else nok "writeback=$wb: room again after rm, old file intact"; fi
		"$mixfs" umount "$mnt"
		check "writeback=$wb: fsck clean after the store was full" "$mixfs" fsck "$small"
	else
		nok "writeback=$wb: mount of a small store"
	fi
done
# POSIX ACLs (-o acl), checked by the kernel against real unprivileged
# users; without the option an ACL cannot be set.
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
chmod 755 "$tmp"
if "$mixfs" mount --store "$store" "$mnt" >/dev/null 2>&1; then
	echo x > "$mnt/noacl"
	out=$(setfacl -m u:4001:r "$mnt/noacl" 2>&1); rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q "not supported"; then ok "without -o acl setting an ACL fails with EOPNOTSUPP"; else nok "without -o acl setting an ACL fails with EOPNOTSUPP" "$out"; fi
	rm -f "$mnt/noacl"
	"$mixfs" umount "$mnt"
fi
if "$mixfs" mount -o acl --store "$store" "$mnt" >/dev/null 2>&1; then
	chmod 755 "$mnt"
	echo secret > "$mnt/acl_f" && chmod 600 "$mnt/acl_f"
	if ! as 4001 cat "$mnt/acl_f" >/dev/null 2>&1 && setfacl -m u:4001:r "$mnt/acl_f" && [ "$(as 4001 cat "$mnt/acl_f" 2>&1)" = secret ] && ! as 4002 cat "$mnt/acl_f" >/dev/null 2>&1; then ok "acl: an ACL entry grants one other user read access"; else nok "acl: an ACL entry grants one other user read access" "$(getfacl -n "$mnt/acl_f" 2>&1)"; fi
	mode=$(stat -c %a "$mnt/acl_f")
	if [ "$mode" = 640 ]; then ok "acl: the mode's group bits show the ACL mask"; else nok "acl: the mode's group bits show the ACL mask" "mode $mode, expected 640"; fi
	setfacl -x u:4001 "$mnt/acl_f"
	if ! as 4001 cat "$mnt/acl_f" >/dev/null 2>&1; then ok "acl: removing the entry denies access again"; else nok "acl: removing the entry denies access again"; fi
	# A default ACL: what 4001 makes with umask 077 is readable and
	# writable by 4002 all the same, and a subdirectory inherits it.
	mkdir "$mnt/acl_d" && setfacl -m u:4001:rwx "$mnt/acl_d" && setfacl -d -m u:4002:rwx,o::- "$mnt/acl_d"
	as 4001 sh -c "umask 077; echo made > '$mnt/acl_d/made'; mkdir '$mnt/acl_d/sub'; echo deep > '$mnt/acl_d/sub/deep'"
	if [ "$(as 4002 cat "$mnt/acl_d/made" 2>&1)" = made ] && as 4002 sh -c "echo more >> '$mnt/acl_d/made'" && [ "$(as 4002 cat "$mnt/acl_d/sub/deep" 2>&1)" = deep ] && ! as 4003 cat "$mnt/acl_d/made" >/dev/null 2>&1; then ok "acl: new files and directories inherit the default ACL in place of the umask"; else nok "acl: new files and directories inherit the default ACL in place of the umask" "$(getfacl -n "$mnt/acl_d/made" "$mnt/acl_d/sub" 2>&1)"; fi
	if getfacl -n "$mnt/acl_d/sub" 2>/dev/null | grep -q "^default:user:4002:rwx"; then ok "acl: a new directory takes its parent's default ACL as its own"; else nok "acl: a new directory takes its parent's default ACL as its own" "$(getfacl -n "$mnt/acl_d/sub" 2>&1)"; fi
	chmod 600 "$mnt/acl_d/made"
	if ! as 4002 cat "$mnt/acl_d/made" >/dev/null 2>&1 && getfacl -n "$mnt/acl_d/made" 2>/dev/null | grep -q "^mask::---"; then ok "acl: chmod sets the ACL mask (go-rwx denies the named user)"; else nok "acl: chmod sets the ACL mask (go-rwx denies the named user)" "$(getfacl -n "$mnt/acl_d/made" 2>&1)"; fi
	chmod 660 "$mnt/acl_d/made"
	"$mixfs" umount "$mnt"
	"$mixfs" mount -o acl --store "$store" "$mnt" >/dev/null
	if [ "$(as 4002 head -n1 "$mnt/acl_d/made" 2>&1)" = made ] && ! as 4001 cat "$mnt/acl_f" >/dev/null 2>&1; then ok "acl: ACLs survive a remount"; else nok "acl: ACLs survive a remount" "$(getfacl -n "$mnt/acl_d/made" 2>&1)"; fi
	# Without a default ACL the umask applies as before.
	touch "$mnt/acl_root_umask"; mode=$(stat -c %a "$mnt/acl_root_umask")
	if [ "$mode" = "$(printf '%o' $((0666 & ~0$(umask))))" ]; then ok "acl: without a default ACL the umask applies"; else nok "acl: without a default ACL the umask applies" "mode $mode with umask $(umask)"; fi
	"$mixfs" umount "$mnt"
	check "acl: fsck is clean" "$mixfs" fsck "$store"
else
	nok "acl: mount with -o acl"
fi

# A read-only mount: what is there reads, nothing changes, and the command
# still reaches it through the control file.
if "$mixfs" mount -o ro --store "$store" "$mnt" >/dev/null 2>&1; then
	if [ "$(md5sum < "$mnt/d/e/big")" = "$sum" ]; then ok "ro: files read back"; else nok "ro: files read back"; fi
	out=$(touch "$mnt/ro-new" 2>&1); rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q "Read-only"; then ok "ro: a create fails with EROFS"; else nok "ro: a create fails with EROFS" "$out"; fi
	out=$("$mixfs" status "$mnt" 2>&1)
	if echo "$out" | grep -q '^driver: tablefs'; then ok "ro: status answers"; else nok "ro: status answers" "$out"; fi
	check "ro: umount" "$mixfs" umount "$mnt"
	if mountpoint -q "$mnt"; then nok "ro: unmounted"; umount -l "$mnt"; else ok "ro: unmounted"; fi
else
	nok "ro: mount -o ro"
fi

out=$("$mixfs" mount --store "rocksdb:$tmp/nothing-here" "$mnt" 2>&1); rc=$?
if [ $rc -ne 0 ]; then ok "mount of a missing store fails"; else nok "mount of a missing store fails" "$out"; unmount_all; fi
# SIGTERM to `mixfs mount` while the daemon starts: whatever the moment,
# nothing stays behind (no mount, no daemon) once the command has ended.
left=
for d in 0.05 0.1 0.15 0.2 0.3 0.4; do
	"$mixfs" mount --store "$store" "$mnt" >/dev/null 2>&1 & p=$!
	sleep $d; kill -TERM $p 2>/dev/null; wait $p; rc=$?
	# Exit 0: the mount was done before the signal; ours to unmount.
	[ $rc -eq 0 ] && { "$mixfs" umount "$mnt" || left="$left umount-failed@$d"; }
	mountpoint -q "$mnt" && { left="$left mounted@$d"; umount -l "$mnt"; }
	pgrep -f "mixfs mount --store $store" >/dev/null && left="$left daemon@$d"
	pkill -9 -f "mixfs mount --store $store" 2>/dev/null
done
if [ -z "$left" ]; then ok "an interrupted mount leaves no mount and no daemon"; else nok "an interrupted mount leaves no mount and no daemon" "left:$left"; fi
out=$("$mixfs" frobnicate 2>&1); rc=$?
if [ $rc -eq 2 ]; then ok "unknown command exits 2"; else nok "unknown command exits 2" "$out"; fi

echo "1..$n"
[ $failed -eq 0 ]
