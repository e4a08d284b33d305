#!/usr/bin/env bash
# with_mount.sh [--data URI] MIXFS PROGRAM [ARGS...] - run PROGRAM against a
# fresh tablefs mount: makes a store in a temporary directory, mounts it,
# runs PROGRAM with MIXFS_TEST_DIR set to the mount point (and
# MIXFS_REF_DIR to a directory on the host filesystem), unmounts, and
# checks the store with mixfs fsck.
# PROGRAM's output (TAP) passes through; a dirty fsck adds a failing case.
#
# --data URI: file data in the store URI (mkfs --data) instead of the
# metadata's RocksDB database. "@TMP@" in URI stands for the temporary
# directory (for a cache:'s local part). A rados: URI without namespace=
# gets one of its own, so that several runs share a pool without sharing
# a store. --data rados gives the rados: store MIXFS_RADOS_URI names (set
# by tests/objstore/ceph_cluster.sh run); without it (no Ceph installed,
# and not CI=true, where ceph_cluster.sh fails first) the run reports
# itself skipped, as the rados: tests of the objstore suite do.
set -u
data=
if [ "${1:-}" = --data ]; then data=$2; shift 2; fi
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
if [ -n "$data" ]; then
	# "rados" alone: the test cluster's store, or none without Ceph.
	case $data in
	rados|*:rados)
		if [ -z "${MIXFS_RADOS_URI:-}" ]; then
			echo "1..0 # SKIP no Ceph test cluster (MIXFS_RADOS_URI unset)"
			exit 0
		fi
		data=${data%rados}$MIXFS_RADOS_URI ;;
	esac
	data=${data//@TMP@/$tmp}
	case $data in
	*rados:*namespace=*) ;;
	*rados:*\?*) data="$data&namespace=${tmp##*/}" ;;
	*rados:*) data="$data?namespace=${tmp##*/}" ;;
	esac
fi
# A fixed capacity makes free space exact: without one, free space is the
# host's, which RocksDB gives back only when it compacts.
"$mixfs" mkfs --size 16G ${data:+--data "$data"} "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
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
