#!/usr/bin/env bash
# test_stress.sh MIXFS STRESS_OPS - several processes doing mixed
# operations on a tablefs mount for a fixed time (stress_ops.c says which
# and what each checks), while the daemon's memory is sampled from
# /proc/PID/status; then unmount, and `mixfs fsck` must be clean.
#
# Environment:
#   MIXFS_STRESS_SECONDS  length of the run (default 20; 600 with MIXFS_LONG=1)
#   MIXFS_STRESS_PROCS    processes (default 4)
#   MIXFS_SEED            seed of the workload (default: time and pid)
#   MIXFS_STRESS_RSS_MB   bound on the daemon's peak resident memory
#                         (VmHWM) and its RSS after the run (default 400;
#                         meson sets a larger one under the sanitizers)
#
# The figures (peak and final RSS, the largest RSS seen at each quarter of
# the run, operations done) are printed as "# " lines. Prints TAP.
set -u
mixfs=$1 ops=$2
secs=${MIXFS_STRESS_SECONDS:-20}
[ "${MIXFS_LONG:-0}" = 1 ] && [ -z "${MIXFS_STRESS_SECONDS:-}" ] && secs=600
procs=${MIXFS_STRESS_PROCS:-4}
seed=${MIXFS_SEED:-$(( $(date +%s) ^ $$ ))}
bound=${MIXFS_STRESS_RSS_MB:-400}
tmp=$(mktemp -d /tmp/mixfs-stress-XXXXXX)
mnt=$tmp/mnt store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
# kb PID FIELD: a field of /proc/PID/status in KiB (empty when gone).
kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }

echo "1..6"
echo "# stress: $procs processes, $secs s, seed $seed (MIXFS_SEED), RSS bound $bound MiB"
"$mixfs" mkfs --size 16G "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
pid=$("$mixfs" status "$mnt" | sed -n 's/^pid: //p')
[ -n "$pid" ] || { echo "Bail out! no daemon pid in mixfs status"; exit 1; }
start_rss=$(kb "$pid" VmRSS)

# One sample a second: seconds since start and VmRSS.
( t=0; while kill -0 "$pid" 2>/dev/null; do echo "$t $(kb "$pid" VmRSS)"; sleep 1; t=$((t+1)); done ) > "$tmp/rss" &
sampler=$!

out=$("$ops" "$mnt" "$secs" "$procs" "$seed" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	ok "$procs processes of mixed operations for $secs s, every read checked"
	echo "# $out"
else
	nok "$procs processes of mixed operations for $secs s, every read checked" \
		"$(printf '%s\n' "$out" | head -20; echo "rerun: MIXFS_SEED=$seed MIXFS_STRESS_SECONDS=$secs")"
fi

if kill -0 "$pid" 2>/dev/null && stat "$mnt/shared" >/dev/null 2>&1; then
	ok "the daemon is alive and the mount answers after the run"
else
	nok "the daemon is alive and the mount answers after the run"
fi
sleep 2	# let flushes and compactions started by the run settle
hwm=$(kb "$pid" VmHWM) end_rss=$(kb "$pid" VmRSS)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; sampler=
quarters=$(awk -v s="$secs" 'NF == 2 && $2 != "" { q = int(4 * $1 / (s + 1)); if (q > 3) q = 3; if ($2 > m[q]) m[q] = $2 }
	END { for (q = 0; q < 4; q++) printf "%d ", m[q] / 1024 }' "$tmp/rss")
echo "# daemon RSS: $((start_rss / 1024)) MiB at mount, peak (VmHWM) $((${hwm:-0} / 1024)) MiB, $((${end_rss:-0} / 1024)) MiB after the run; largest per quarter of the run: $quarters MiB"
if [ -n "$hwm" ] && [ $((hwm / 1024)) -lt "$bound" ]; then
	ok "the daemon's peak RSS stays under $bound MiB"
else
	nok "the daemon's peak RSS stays under $bound MiB" "VmHWM ${hwm:-?} kB"
fi
if [ -n "$end_rss" ] && [ $((end_rss / 1024)) -lt "$bound" ]; then
	ok "the daemon's RSS after the run is under $bound MiB"
else
	nok "the daemon's RSS after the run is under $bound MiB" "VmRSS ${end_rss:-?} kB"
fi

if out=$("$mixfs" umount "$mnt" 2>&1); then ok "umount"; else nok "umount" "$out"; fi
if out=$("$mixfs" fsck "$store" 2>&1); then
	ok "fsck after the run is clean"
else
	nok "fsck after the run is clean" "$out"
fi
[ $failed -eq 0 ]
