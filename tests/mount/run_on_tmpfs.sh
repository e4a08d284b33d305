#!/bin/sh
# run_on_tmpfs.sh - run one mount test program against a fresh tmpfs, the
# POSIX reference, so that the suite itself is proven in every test run.
#
#   run_on_tmpfs.sh [--ref-tmpfs] PROGRAM [ARGS...]
#
# Mounts a tmpfs on a new temporary directory, runs PROGRAM with
# MIXFS_TEST_DIR pointing at it, unmounts and removes the directory, and
# exits with PROGRAM's status. With --ref-tmpfs a second tmpfs is mounted
# for MIXFS_REF_DIR (for test_random_ops); without it test_random_ops uses
# a temporary directory on the host filesystem as its reference.
# Needs root (mount -t tmpfs).
set -u

ref_tmpfs=0
if [ "${1:-}" = --ref-tmpfs ]; then
	ref_tmpfs=1
	shift
fi
if [ $# -lt 1 ]; then
	echo "usage: $0 [--ref-tmpfs] PROGRAM [ARGS...]" >&2
	exit 2
fi

top=$(mktemp -d "${TMPDIR:-/tmp}/mixfs-tmpfs.XXXXXX") || exit 2
# The permission tests run children as other users; they must be able to
# reach the mount point.
chmod 755 "$top"
mkdir "$top/test" "$top/ref"

cleanup() {
	# Lazily when busy (a program killed on timeout may still hold it).
	for m in "$top/test" "$top/ref"; do
		if mountpoint -q "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	rm -rf "$top"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if ! mount -t tmpfs -o size=2g,mode=1777 mixfs-test "$top/test"; then
	echo "$0: cannot mount a tmpfs on $top/test (run as root)" >&2
	exit 1
fi
if [ $ref_tmpfs = 1 ]; then
	if ! mount -t tmpfs -o size=1g,mode=1777 mixfs-ref "$top/ref"; then
		echo "$0: cannot mount a tmpfs on $top/ref" >&2
		exit 1
	fi
	export MIXFS_REF_DIR="$top/ref"
fi

MIXFS_TEST_DIR="$top/test" "$@"
