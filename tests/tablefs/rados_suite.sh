#!/usr/bin/env bash
# rados_suite.sh MIXFS DATA PROGRAM... - run each PROGRAM through
# with_mount.sh --data DATA (a fresh tablefs per program, its file data in
# a RADOS namespace of its own) on the one test cluster that
# tests/objstore/ceph_cluster.sh run started, and print their cases as one
# TAP stream: numbered anew, each named after its program. A cluster
# takes seconds to start; one per program would cost more than most
# programs take.
#
# A program that bails out or exits non-zero without a failing case adds
# a failing case of its own. Without a cluster (MIXFS_RADOS_URI unset: no
# Ceph installed, and not CI=true, where ceph_cluster.sh fails first) the
# whole run reports itself skipped, as the rados: tests of the objstore
# suite do.
set -u
mixfs=$1; data=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${MIXFS_RADOS_URI:-}" ]; then
	echo "1..0 # SKIP no Ceph test cluster (MIXFS_RADOS_URI unset)"
	exit 0
fi
out=$(mktemp /tmp/mixfs-radossuite-XXXXXX)
trap 'rm -f "$out"' EXIT
n=0; failed=0
for prog in "$@"; do
	name=$(basename "$prog")
	"$here/with_mount.sh" --data "$data" "$mixfs" "$prog" > "$out"
	rc=$?
	bad=0
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			n=$((n + 1))
			status=ok
			case $line in "not ok "*) status="not ok"; bad=1; failed=$((failed + 1)) ;; esac
			desc=$(printf '%s\n' "${line#"$status "}" | sed 's/^[0-9]*//; s/^ *-\{0,1\} *//')
			echo "$status $n - $name: $desc" ;;
		"Bail out!"*)
			n=$((n + 1)); bad=1; failed=$((failed + 1))
			echo "not ok $n - $name: ${line#Bail out! }" ;;
		[0-9]*..[0-9]*) ;;
		*) echo "$line" ;;
		esac
	done < "$out"
	if [ $rc -ne 0 ] && [ $bad -eq 0 ]; then
		n=$((n + 1)); failed=$((failed + 1))
		echo "not ok $n - $name: exited with status $rc"
	fi
done
echo "1..$n"
[ $failed -eq 0 ]
