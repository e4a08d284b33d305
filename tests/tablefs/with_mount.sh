#!/usr/bin/env bash
# with_mount.sh MIXFS PROGRAM [ARGS...] - run PROGRAM against a fresh tablefs
# mount: makes a store in a temporary directory, mounts it, runs PROGRAM with
# MIXFS_TEST_DIR set to the mount point (and MIXFS_REF_DIR to a directory on
# the host filesystem), unmounts, and checks the store with mixfs fsck.
# PROGRAM's output (TAP) passes through; a dirty fsck adds a failing case.
set -u
mixfs=$1; shift
tmp=$(mktemp -d /tmp/mixfs-mnt-XXXXXX)
mnt=$tmp/mnt; ref=$tmp/ref
mkdir -p "$mnt" "$ref"
store="rocksdb:$tmp/store"
cleanup() {
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
# A fixed capacity makes free space exact: without one, free space is the
# host's, which RocksDB gives back only when it compacts.
"$mixfs" mkfs --size 16G "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
MIXFS_TEST_DIR=$mnt MIXFS_REF_DIR=$ref "$@"
rc=$?
"$mixfs" umount "$mnt" || { echo "not ok - umount of $mnt failed"; exit 1; }
if ! out=$("$mixfs" fsck "$store" 2>&1); then
	echo "not ok - fsck after the run is not clean"
	echo "$out" | sed 's/^/# /'
	exit 1
fi
exit $rc
