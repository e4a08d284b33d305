#!/usr/bin/env bash
# test_crash_kill.sh MIXFS CRASH_OPS - SIGKILL the tablefs daemon at
# random moments under the random workload (crash_ops random), then:
# fsck must be clean, and after remounting, everything the workload's
# fsyncs acknowledged must be there (crash_ops check; the rules are in
# docs/testing.md, "Crash consistency"). Prints TAP, two cases a kill.
#
# 20 kills (MIXFS_LONG=1: 200; MIXFS_CRASH_ROUNDS=n sets it). The seed
# (MIXFS_SEED) fixes every operation and every kill delay; a quarter of
# the kills are made by the workload itself right before a chosen step,
# which reproduces exactly. MIXFS_CRASH_KEEP=1 keeps the store and the
# journals. Each round works in its own directory r<N>; the one before
# is checked again after each kill, the one before that removed.
set -u
mixfs=$1
ops=$2
. "$(dirname "$0")/lib.sh"

rounds=20
[ "${MIXFS_LONG:-0}" = 1 ] && rounds=200
rounds=${MIXFS_CRASH_ROUNDS:-$rounds}
seed=${MIXFS_SEED:-$(( ($(date +%s%N) / 1000 + $$) % 1000000000 ))}
echo "# seed $seed (rerun with MIXFS_SEED=$seed)"
RANDOM=$((seed % 32768))

make_store
reformatted=
for r in $(seq 1 "$rounds"); do
	root=$mnt/r$r
	journal=$jdir/journal$r
	wseed=$((seed * 1000 + r))
	how=
	if [ $((RANDOM % 4)) = 0 ]; then
		step=$((1 + RANDOM % 500))
		how="at step $step"
		"$ops" random "$root" "$journal" "$wseed" --kill-step "$step" \
			--pid "$daemon" --steps $((step + 1000)) \
			>"$crash_tmp/out$r" 2>&1 &
		wpid=$!
	else
		delay=$((30 + RANDOM % 670))
		how="after $delay ms"
		"$ops" random "$root" "$journal" "$wseed" \
			>"$crash_tmp/out$r" 2>&1 &
		wpid=$!
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	fi
	# The workload stops by itself once the kill has cut it off; with
	# --kill-step it made the kill itself.
	if [ -n "${delay:-}" ]; then
		kill_daemon || bail "daemon $daemon survived SIGKILL"
		wait "$wpid"
		wrc=$?
	else
		wait "$wpid"
		wrc=$?
		kill_daemon || bail "daemon $daemon survived SIGKILL"
	fi
	unmount_dead
	delay=
	wout=$(cat "$crash_tmp/out$r")
	last=$(grep '^I ' "$journal" 2>/dev/null | tail -1 | cut -d' ' -f2)
	repro="reproduce: MIXFS_SEED=$seed, round $r: $ops random ROOT JOURNAL $wseed --kill-step ${last:-1} --pid DAEMON"
	check_round kill ""
done
final_check
echo "1..$tap_n"
[ $tap_failed -eq 0 ]
