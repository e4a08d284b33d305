#!/usr/bin/env bash
# test.sh - install what is missing, build twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), run every test in both.
#
#   ./test.sh          the default suite (well under 20 minutes on 2 cores)
#   ./test.sh --long   adds the long-running suites (stress, crash, soak)
#
# Ends with one line "N passed, M failed[, K skipped]"; exits non-zero on
# any failure.
set -u
cd "$(dirname "$0")"
. scripts/deps.sh

long=0
for a in "$@"; do
	case $a in
	--long) long=1 ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "test.sh: unknown argument '$a'" >&2; exit 2 ;;
	esac
done
export MIXFS_LONG=$long

mixfs_install_deps $MIXFS_TEST_PACKAGES $([ $long = 1 ] && echo $MIXFS_LONG_PACKAGES) ||
	{ echo "0 passed, 1 failed"; exit 1; }

logs=()
for variant in plain sanitize; do
	if [ $variant = plain ]; then
		dir=build; opts=()
	else
		dir=build-san; opts=(-Db_sanitize=address,undefined -Dbuildtype=debug)
	fi
	echo "== $variant build ($dir)"
	if ! mixfs_build "$dir" "${opts[@]}"; then
		echo "build of $dir failed"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "== $variant tests"
	timeout_mult=1
	[ $variant = sanitize ] && timeout_mult=3
	[ $long = 1 ] && timeout_mult=$((timeout_mult * 10))
	meson test -C "$dir" --print-errorlogs --num-processes 2 \
		--timeout-multiplier $timeout_mult 2>&1 |
		grep -Ev '^(Expected Fail|Unexpected Pass|Timeout): +0 *$' || true
	logs+=("$dir/meson-logs/testlog.json")
done

read -r passed failed skipped < <(python3 scripts/count_tests.py "${logs[@]}")
if [ $long = 1 ]; then
	echo "== libFuzzer (tests/fuzz/run_fuzzers.sh)"
	if tests/fuzz/run_fuzzers.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
