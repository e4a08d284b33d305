#!/usr/bin/env bash
# test_crash_power.sh MIXFS CRASH_OPS - power loss rather than process
# death: the store lives on an ext4 image on a loop device (MIXFS_CRASH_FS
# =xfs for XFS), and at a random moment under the random workload that
# filesystem is shut down without flushing its log (FS_IOC_SHUTDOWN, as
# xfstests' shutdown tests do), so everything not yet on the device is
# lost: RocksDB's unsynced write-ahead log included. Then the daemon is
# killed, the image remounted (its journal replays), and as after a
# SIGKILL: fsck clean, everything acknowledged there. Prints TAP, two
# cases a cut. Why not dm-flakey: docs/testing.md, "Crash consistency".
#
# 6 cuts (MIXFS_LONG=1: 100; MIXFS_CRASH_ROUNDS=n); MIXFS_SEED as in
# test_crash_kill.sh. Needs root (loop devices, mount).
#
# File data in the database (--data same) unless MIXFS_CRASH_DATA says
# otherwise: with data in a store of its own (dir:data) the
# two stores are ordered only by fsync, and after a power cut the
# write-ahead log can hold a batch whose unsynced data the data store
# lost (an object missing or unreadable, chunks whose checksum fails),
# and a file changed after its last fsync can then read as an error
# instead of an acknowledged state: docs/tablefs.md, "Power loss and the
# data store".
# MIXFS_CRASH_DATA=dir:data runs it on that layout.
set -u
export MIXFS_CRASH_DATA=${MIXFS_CRASH_DATA:-same}
mixfs=$1
ops=$2
crash_store=loop
. "$(dirname "$0")/lib.sh"

rounds=6
[ "${MIXFS_LONG:-0}" = 1 ] && rounds=100
rounds=${MIXFS_CRASH_ROUNDS:-$rounds}
seed=${MIXFS_SEED:-$(( ($(date +%s%N) / 1000 + $$) % 1000000000 ))}
echo "# seed $seed (rerun with MIXFS_SEED=$seed); store on $crash_fs over a loop device"
RANDOM=$((seed % 32768))

make_store
reformatted=
for r in $(seq 1 "$rounds"); do
	root=$mnt/r$r
	journal=$jdir/journal$r
	wseed=$((seed * 1000 + r))
	if [ $((RANDOM % 4)) = 0 ]; then
		step=$((1 + RANDOM % 500))
		how="at step $step"
		"$ops" random "$root" "$journal" "$wseed" --power \
			--kill-step "$step" --shutdown "$store_fs" \
			--steps $((step + 1000)) >"$crash_tmp/out$r" 2>&1 &
		wpid=$!
	else
		# The flag made before the cut tells the workload which
		# results came back before the cut began: only those count
		# (crash_cut_flag in journal.h says why).
		delay=$((30 + RANDOM % 670))
		how="after $delay ms"
		flag=$jdir/cut$r
		"$ops" random "$root" "$journal" "$wseed" --power \
			--cut-flag "$flag" >"$crash_tmp/out$r" 2>&1 &
		wpid=$!
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
		: > "$flag"
		store_cut || bail "shutdown of $store_fs failed"
	fi
	# The daemon meets the dead store and fails the workload's next
	# request; should it hang instead, the kill below frees the workload.
	for _ in $(seq 1 100); do alive "$wpid" || break; sleep 0.1; done
	kill_daemon || bail "daemon $daemon survived SIGKILL"
	wait "$wpid"
	wrc=$?
	unmount_dead
	store_remount || bail "remount of the $crash_fs image failed"
	wout=$(cat "$crash_tmp/out$r")
	last=$(grep '^I ' "$journal" 2>/dev/null | tail -1 | cut -d' ' -f2)
	repro="reproduce: MIXFS_SEED=$seed, round $r: $ops random ROOT JOURNAL $wseed --power --kill-step ${last:-1} --shutdown STOREFS"
	check_round cut --power
done
final_check
echo "1..$tap_n"
[ $tap_failed -eq 0 ]
