#!/usr/bin/env bash
# test_crash_known.sh MIXFS - exact reproducers for crash problems the
# random tests found in tablefs, each one SIGKILLing the daemon at a
# chosen place: gdb stops it when a request reaches a function
# (tfs_txn_commit, objstore_write) and kills it there. Prints TAP. The
# file's data always reads back as acknowledged; fsck is what fails.
# Registered only when MIXFS_CRASH_STRICT=1 is set at `meson setup`
# time, because four cases fail until tablefs is fixed (docs/testing.md,
# "Crash consistency", known problems). Needs gdb and a daemon with
# symbols.
set -u
mixfs=$1
ops=/bin/true
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || bail "gdb is needed"

# kill_at FUNCTION CMD...: run CMD in the mount while gdb holds the
# daemon and kills it when it enters FUNCTION.
kill_at() {
	local fn=$1
	shift
	gdb -q -nx -p "$daemon" -batch -ex "break $fn" \
		-ex continue -ex 'kill' >"$crash_tmp/gdb.out" 2>&1 &
	local g=$!
	for _ in $(seq 1 200); do
		grep -q '^Continuing' "$crash_tmp/gdb.out" 2>/dev/null && break
		sleep 0.05
	done
	"$@" 2>/dev/null
	wait "$g"
	kill_daemon || bail "daemon $daemon survived"
	unmount_dead
}

kill_at_commit() { kill_at tfs_txn_commit "$@"; }

fresh() {
	if mounted; then "$mixfs" umount "$mnt" >/dev/null 2>&1 || { kill_daemon; unmount_dead; }; fi
	"$mixfs" mkfs --force --size 16G "$store" >/dev/null || bail "mkfs failed"
	mount_store >/dev/null || bail "mount failed"
}

sync_file() { python3 -c 'import os,sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.close(fd)' "$@"; }

# 1. An inline file (100 bytes) grows past inline_max (4 KiB): tablefs
# writes the new object first, then the inode record saying the data is
# in it. Killed between the two, the object stays behind an inode that
# still says "inline".
fresh
head -c 100 /dev/urandom >"$mnt/f"
sync_file "$mnt/f" "$mnt"
sum=$(md5sum <"$mnt/f")
kill_at_commit dd if=/dev/urandom of="$mnt/f" bs=5000 count=1 conv=notrunc status=none
if out=$(fsck_store); then
	ok "killed between moving an inline file to an object and its inode record: fsck clean"
else
	nok "killed between moving an inline file to an object and its inode record: fsck clean" "$out
gdb: $(grep -m1 'Breakpoint 1,' "$crash_tmp/gdb.out")"
fi
mount_store >/dev/null || bail "remount failed"
if [ "$(md5sum <"$mnt/f")" = "$sum" ]; then
	ok "the inline file still holds its acknowledged 100 bytes"
else
	nok "the inline file still holds its acknowledged 100 bytes" "size now $(stat -c %s "$mnt/f")"
fi
# The same leftover, once the file is removed, becomes an object with
# no inode at all.
rm -f "$mnt/f"
"$mixfs" umount "$mnt" >/dev/null 2>&1 || { kill_daemon; unmount_dead; }
if out=$(fsck_store); then
	ok "after removing that file: fsck clean"
else
	nok "after removing that file: fsck clean" "$out"
fi

# 1b. The same, killed before the object got any data (between creating
# it and writing the inline bytes into it): once the file is removed, an
# empty object with no inode is left.
fresh
head -c 100 /dev/urandom >"$mnt/e"
sync_file "$mnt/e" "$mnt"
kill_at objstore_write dd if=/dev/urandom of="$mnt/e" bs=5000 count=1 conv=notrunc status=none
mount_store >/dev/null || bail "remount failed"
rm -f "$mnt/e"
"$mixfs" umount "$mnt" >/dev/null 2>&1 || { kill_daemon; unmount_dead; }
if out=$(fsck_store); then
	ok "killed before an inline file's new object got data, then removed: fsck clean"
else
	nok "killed before an inline file's new object got data, then removed: fsck clean" "$out
gdb: $(grep -m1 'Breakpoint 1,' "$crash_tmp/gdb.out")"
fi

# 2. An object file grows: the object is written before the inode
# record with the new size.
fresh
head -c 10000 /dev/urandom >"$mnt/g"
sync_file "$mnt/g" "$mnt"
sum=$(md5sum <"$mnt/g")
kill_at_commit dd if=/dev/urandom of="$mnt/g" bs=5000 count=1 oflag=append conv=notrunc status=none
if out=$(fsck_store); then
	ok "killed between extending a file's object and its inode record: fsck clean"
else
	nok "killed between extending a file's object and its inode record: fsck clean" "$out"
fi
mount_store >/dev/null || bail "remount failed"
if [ "$(md5sum <"$mnt/g")" = "$sum" ]; then
	ok "the file still holds its acknowledged 10000 bytes"
else
	nok "the file still holds its acknowledged 10000 bytes" "size now $(stat -c %s "$mnt/g")"
fi

# 3. A file is truncated down: the object shrinks before the inode.
head -c 20000 /dev/urandom >"$mnt/h"
sync_file "$mnt/h" "$mnt"
kill_at_commit truncate -s 5000 "$mnt/h"
if out=$(fsck_store); then
	ok "killed between shrinking a file's object and its inode record: fsck clean"
else
	nok "killed between shrinking a file's object and its inode record: fsck clean" "$out"
fi
mount_store >/dev/null || bail "remount failed"
size=$(stat -c %s "$mnt/h")
if [ "$size" = 20000 ] || [ "$size" = 5000 ]; then
	ok "the truncated file has its old or its new size ($size)"
else
	nok "the truncated file has its old or its new size" "size $size"
fi
"$mixfs" umount "$mnt" >/dev/null 2>&1 || { kill_daemon; unmount_dead; }
echo "1..$tap_n"
[ $tap_failed -eq 0 ]
