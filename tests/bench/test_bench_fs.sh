#!/usr/bin/env bash
# test_bench_fs.sh MIXFS - `mixfs bench fs` works end to end: a quick run on
# tmpfs and tablefs prints a row per target and workload phase, writes JSON
# that parses and holds every figure, and leaves no mount or temporary
# directory behind, also when it is stopped half way. Asserts no timing.
# Prints TAP.
set -u
mixfs=$1
tmp=$(mktemp -d /tmp/mixfs-benchtest-XXXXXX)
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "$2" | sed 's/^/# /'; }
mounts_under() { grep -c " $1" /proc/self/mounts; }
cleanup() {
	grep " $tmp" /proc/self/mounts | awk '{print $2}' | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$tmp"
}
trap cleanup EXIT

out=$("$mixfs" bench --help 2>&1)
if echo "$out" | grep -q '^  fs '; then ok "mixfs bench --help offers fs"; else nok "mixfs bench --help offers fs" "$out"; fi

out=$("$mixfs" bench fs --targets tmpfs,nosuchfs 2>&1); rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q "unknown target 'nosuchfs'"; then ok "an unknown target is refused by name"; else nok "an unknown target is refused by name" "rc=$rc: $out"; fi

out=$("$mixfs" bench fs --list 2>&1)
if echo "$out" | grep -q '^  tablefs ' && echo "$out" | grep -q '^  passthrough_ll-always '; then ok "--list names every mixfs driver and both passthrough_ll modes"; else nok "--list names every mixfs driver and both passthrough_ll modes" "$out"; fi

mkdir -p "$tmp/work"
"$mixfs" bench fs --quick --runs 1 --targets tmpfs,tablefs --workloads meta,small \
	--dir "$tmp/work" --json "$tmp/out.json" > "$tmp/table" 2> "$tmp/log"; rc=$?
if [ $rc -eq 0 ]; then ok "a quick run on tmpfs and tablefs succeeds"; else nok "a quick run on tmpfs and tablefs succeeds" "rc=$rc: $(tail -5 "$tmp/log")"; fi

missing=""
for row in meta-create meta-stat meta-readdir meta-unlink small-write small-read; do
	for t in tmpfs tablefs; do
		grep -Eq "^$row +$t +[0-9]+\.[0-9] " "$tmp/table" || missing="$missing $row/$t"
	done
done
if [ -z "$missing" ]; then ok "the table has a figure for every phase on every target"; else nok "the table has a figure for every phase on every target" "missing:$missing
$(cat "$tmp/table")"; fi

if grep -Eq '^meta-create +tablefs +[0-9.]+ ops/s +- +[0-9.]+ +[0-9.]+ +[0-9]+$' "$tmp/table"; then ok "tablefs rows carry a tmpfs ratio, daemon CPU and peak RSS"; else nok "tablefs rows carry a tmpfs ratio, daemon CPU and peak RSS" "$(grep '^meta-create' "$tmp/table")"; fi

out=$(python3 - "$tmp/out.json" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
m = d["machine"]
assert m["kernel"] and m["cores"] >= 1 and d["date"], "machine info or date missing"
rows = {(r["row"], r["target"]): r for r in d["results"]}
assert len(rows) == 12, "want 6 phases x 2 targets, got %d" % len(rows)
for (row, t), r in rows.items():
    assert r["median"] is not None and r["median"] > 0, "%s on %s has no figure" % (row, t)
    assert len(r["runs"]) == 1, "%s on %s: %d runs, want 1" % (row, t, len(r["runs"]))
    if t == "tmpfs":
        assert r["vs_tmpfs"] == 1 and r["daemon_cpu_s"] is None, "tmpfs row %s: %r" % (row, r)
    else:
        assert r["vs_tmpfs"] is not None and r["peak_rss_mib"] > 0, "tablefs row %s: %r" % (row, r)
    assert r["vs_passthrough_ll"] is None, "no passthrough_ll ran, yet %s has a ratio to it" % row
PY
)
if [ $? -eq 0 ]; then ok "the JSON parses and holds every figure with machine details"; else nok "the JSON parses and holds every figure with machine details" "$out"; fi

left=$(ls -A "$tmp/work"); m=$(mounts_under "$tmp/work")
if [ -z "$left" ] && [ "$m" -eq 0 ]; then ok "nothing is left mounted or on disk after a run"; else nok "nothing is left mounted or on disk after a run" "mounts: $m, left: $left"; fi

# Stopped during a long random-I/O phase: the mounts go, the daemon goes.
mkdir -p "$tmp/work2"
"$mixfs" bench fs --runs 1 --scale 0.01 --seconds 60 --targets tablefs --workloads rand \
	--dir "$tmp/work2" > "$tmp/table2" 2> "$tmp/log2" &
bench=$!
for i in $(seq 1 100); do
	[ "$(mounts_under "$tmp/work2")" -gt 0 ] && break
	sleep 0.1
done
sleep 1
kill -TERM $bench
wait $bench; rc=$?
sleep 0.5
left=$(ls -A "$tmp/work2"); m=$(mounts_under "$tmp/work2")
if [ $rc -eq 130 ] && [ -z "$left" ] && [ "$m" -eq 0 ]; then ok "a stopped run unmounts and removes everything"; else nok "a stopped run unmounts and removes everything" "rc=$rc mounts=$m left=$left
$(tail -3 "$tmp/log2")"; fi
if ! pgrep -f "mixfs mount --store rocksdb:$tmp/work2" >/dev/null; then ok "a stopped run leaves no daemon"; else nok "a stopped run leaves no daemon"; fi

echo "1..$n"
[ $failed -eq 0 ]
