#!/usr/bin/env bash
# quickstart.sh [--with-ceph] [MOUNTPOINT] - install what is missing, build
# mixfs, and mount the default filesystem (tablefs on RocksDB under
# /var/lib/mixfs) at MOUNTPOINT (default /mnt/mixfs). --with-ceph also
# installs Ceph's daemons, for trying the rados: store on this machine.
# Running it again is harmless.
set -eu
cd "$(dirname "$0")"
. scripts/deps.sh
extra=""
if [ "${1:-}" = --with-ceph ]; then
	extra="ceph-mon ceph-osd ceph-common"
	shift
fi
mnt=${1:-/mnt/mixfs}

mixfs_install_deps $extra
mixfs_build build
mixfs=$PWD/build/tools/mixfs
if [ "$(id -u)" -eq 0 ]; then
	ln -sf "$mixfs" /usr/local/bin/mixfs
	mixfs=mixfs
fi

mkdir -p "$mnt"
if "$mixfs" status "$mnt" >/dev/null 2>&1; then
	echo "mixfs is already mounted on $mnt"
else
	"$mixfs" mount "$mnt"
fi

# Prove it works: a file written through the mount reads back the same.
probe="$mnt/.quickstart-$$"
echo "hello from mixfs" > "$probe"
if [ "$(cat "$probe")" != "hello from mixfs" ]; then
	rm -f "$probe"
	echo "quickstart: a file written to $mnt did not read back" >&2
	exit 1
fi
rm -f "$probe"

cat <<MSG

mixfs is mounted on $mnt and works (a test file was written and read back).
  use it:        cp -r ~/some/files $mnt/ ; ls $mnt
  inspect it:    $mixfs status $mnt
  unmount it:    $mixfs umount $mnt
  mount again:   $mixfs mount $mnt      (same default store, same files)
  check it:      $mixfs fsck rocksdb:/var/lib/mixfs/default   (when unmounted)
MSG
