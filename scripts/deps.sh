# deps.sh - sourced by quickstart.sh and test.sh: install the Debian packages
# mixfs needs, running apt-get only when one is missing.

# librados-dev builds the rados: backend.
MIXFS_PACKAGES="meson ninja-build pkg-config gcc libc6-dev python3
  libfuse3-dev fuse3 librocksdb-dev uuid-dev libcmocka-dev libxxhash-dev
  libunistring-dev librados-dev"
# What only the tests need: ceph-mon, ceph-osd and ceph-common run the
# throw-away cluster of the rados: tests (tests/objstore/ceph_cluster.sh);
# e2fsprogs makes the ext4 image of the power-loss test (tests/crash); acl
# (setfacl, getfacl) drives the ACL tests.
# test.sh installs them; quickstart.sh with --with-ceph installs Ceph.
MIXFS_TEST_PACKAGES="ceph-mon ceph-osd ceph-common e2fsprogs acl"
# ./test.sh --long only: libFuzzer (clang only recommends its runtime).
MIXFS_LONG_PACKAGES="clang libclang-rt-14-dev"

mixfs_install_deps() {
	local missing="" p
	for p in $MIXFS_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing (run as root, or install them)" >&2
		return 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# mixfs_build DIR [meson options...]: configure DIR once, then build it.
mixfs_build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
