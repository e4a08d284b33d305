#!/usr/bin/env bash
# run_fuzzers.sh - build every fuzz target with clang and libFuzzer
# (AddressSanitizer and UndefinedBehaviorSanitizer on) in a build
# directory of its own, run each for a while, fail on any crash, leak or
# timeout.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET]
#
# Default: 90 s per target (9 targets two at a time, about 10 minutes on
# 2 cores with the build). Environment: MIXFS_FUZZ_BUILD (default build-libfuzzer, beside
# this tree's meson.build), MIXFS_FUZZ_JOBS (parallel fuzzers, default 2),
# MIXFS_FUZZ_TARGETS (names to run, default all, e.g. "tablefs feed").
# Each target starts from its seed corpus and its regress inputs; what
# libFuzzer adds goes to a scratch corpus under the build directory (the
# checked-in corpus stays as it is). A crash is written to
# BUILD/tests/fuzz/findings/TARGET/; copy it to tests/fuzz/regress/TARGET/
# once fixed. Inputs libFuzzer merely found slow (slow-unit-*, over 10 s)
# are listed but do not fail the run: on a loaded machine any input can
# be; an input over -timeout (20 s) fails it. Needs clang and its
# libFuzzer runtime (Debian: clang and libclang-rt-14-dev, which clang
# only recommends).
set -u
cd "$(dirname "$0")/../.."
secs=${1:-90}
build=${MIXFS_FUZZ_BUILD:-build-libfuzzer}
jobs=${MIXFS_FUZZ_JOBS:-2}

if ! command -v clang >/dev/null; then
	echo "run_fuzzers.sh: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
probe=$(mktemp -d)
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" 2>/dev/null; then
	rm -rf "$probe"
	echo "run_fuzzers.sh: clang cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev)" >&2
	exit 1
fi
rm -rf "$probe"
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
targets=${MIXFS_FUZZ_TARGETS:-$(sed -n "s/^  '\([a-z_]*\)' : {.*/\1/p" tests/fuzz/meson.build)}
exes=()
for t in $targets; do exes+=("tests/fuzz/libfuzzer_$t"); done
ninja -C "$build" "${exes[@]}" >/dev/null || {
	ninja -C "$build" "${exes[@]}" | tail -20
	echo "run_fuzzers.sh: the build failed" >&2
	exit 1
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fail=0
run_one() {
	local t=$1 exe=$build/tests/fuzz/libfuzzer_$1
	local work=$build/tests/fuzz/work/$t find=$build/tests/fuzz/findings/$t
	local dirs=(tests/fuzz/corpus/$t)
	rm -rf "$find"
	mkdir -p "$work" "$find"
	[ -d tests/fuzz/regress/$t ] && dirs+=(tests/fuzz/regress/$t)
	"$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$find/" "$work" "${dirs[@]}" \
		>"$build/tests/fuzz/$t.log" 2>&1
	echo $? >"$build/tests/fuzz/$t.rc"
}
running=0
for t in $targets; do
	run_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for t in $targets; do
	log=$build/tests/fuzz/$t.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	rc=$(cat "$build/tests/fuzz/$t.rc")
	slow=$(ls "$build/tests/fuzz/findings/$t" | grep -c '^slow-unit-')
	if [ "$rc" != 0 ] || ls "$build/tests/fuzz/findings/$t" | grep -qv '^slow-unit-'; then
		echo "FAIL $t (exit $rc): ${execs:-?} runs, $cov; inputs in $build/tests/fuzz/findings/$t:"
		ls "$build/tests/fuzz/findings/$t"
		grep -m1 -E 'ERROR|SUMMARY|deadly' "$log"
		fail=1
	else
		note=
		[ "$slow" -gt 0 ] && note=", $slow slow inputs (not failures)"
		echo "ok   $t: ${execs:-?} runs in ${secs} s, $cov$note"
	fi
done
exit $fail
