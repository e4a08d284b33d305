#!/usr/bin/env bash
# test_crash_ace.sh MIXFS CRASH_OPS - every sequence of up to 2 metadata
# operations (MIXFS_LONG=1: 3) over a small set of names, each followed
# by fsyncs of what it touched (crash_ops ace; the list is in workload.c),
# run through a tablefs mount in batches. After each batch the daemon
# is killed with SIGKILL; fsck must be clean and, after remounting, every
# sequence's result must be there exactly (everything was acknowledged).
# Prints TAP, two cases a batch, and how many sequences ran.
#
# MIXFS_ACE_LEN and MIXFS_ACE_BATCH override the length and the batch
# size (sequences between two kills); MIXFS_CRASH_KEEP=1 keeps the store
# and the journals.
set -u
mixfs=$1
ops=$2
. "$(dirname "$0")/lib.sh"

len=2
batch=100
if [ "${MIXFS_LONG:-0}" = 1 ]; then len=3; batch=250; fi
len=${MIXFS_ACE_LEN:-$len}
batch=${MIXFS_ACE_BATCH:-$batch}
total=$("$ops" ace-count "$len") || bail "crash_ops ace-count failed"
echo "# $total sequences of 1 to $len operations (the rest of every combination fails and is pruned), $batch between kills"

make_store
ran=0
b=0
for ((from = 0; from < total; from += batch)); do
	b=$((b + 1))
	to=$((from + batch < total ? from + batch : total))
	root=$mnt/b$b
	journal=$jdir/ace$b
	what="batch $b: sequences $from-$((to - 1))"
	out=$("$ops" ace "$root" "$journal" "$len" "$from" "$batch" 2>&1)
	rc=$?
	kill_daemon || bail "daemon $daemon survived SIGKILL"
	unmount_dead
	if [ $rc -ne 0 ]; then
		nok "$what ran with POSIX's results" "$out"
	else
		n=${out%% *}
		ran=$((ran + n))
	fi
	if fout=$(fsck_store); then
		ok "$what ($out), SIGKILL: fsck clean"
	else
		nok "$what, SIGKILL: fsck clean" "$fout"
	fi
	mount_store >"$crash_tmp/mount.err" ||
		bail "remount after $what failed: $(cat "$crash_tmp/mount.err")"
	if cout=$("$ops" check "$root" "$journal" 2>&1); then
		ok "$what: every sequence's result is there ($(printf '%s' "$cout" | tail -1 | cut -c1-160))"
	else
		# Name the sequences whose directories differ.
		seqs=$(printf '%s\n' "$cout" | grep -o '/s[0-9]*/' | sort -u | tr -d / | head -5)
		desc=
		for s in $seqs; do
			desc="$desc
$(awk -v s="$s" '$1 == "#" && $2 == "sequence" { on = ($5 == s ":") }
	on && $1 == "#" { sub(/^# /, ""); print }' "$journal")"
		done
		nok "$what: every sequence's result is there" "$cout$desc"
	fi
	rm -rf "$root"
done
echo "# $ran sequences ran"
if [ "$ran" -eq "$total" ]; then
	ok "all $total sequences of up to $len operations ran"
else
	nok "all $total sequences of up to $len operations ran" "only $ran did"
fi
"$mixfs" umount "$mnt" >/dev/null 2>&1 || { kill_daemon; unmount_dead; }
if fout=$(fsck_store); then ok "fsck clean after a clean unmount"; else nok "fsck clean after a clean unmount" "$fout"; fi
echo "1..$tap_n"
[ $tap_failed -eq 0 ]
