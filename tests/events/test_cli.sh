#!/usr/bin/env bash
# test_cli.sh MIXFS_EVENTS EVT_TESTD EXAMPLES_DIR - the `mixfs events`
# command against a live feed (served by evt_testd), and the example hooks
# with stand-in scontrol and kubectl that record their arguments. Prints TAP.
set -u
EVENTS=$1
TESTD=$2
EXAMPLES=$3
T=$(mktemp -d /tmp/mixfs-evt-cli-XXXXXX)
SOCK=$T/feed.sock
n=0
failed=0
trap 'kill "$DPID" 2>/dev/null; rm -rf "$T"' EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=1
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "# $l"; done
}
check() {	# check NAME COMMAND...: ok when COMMAND succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

coproc D { exec "$TESTD" "$SOCK"; }
DPID=$D_PID
read -r ready <&"${D[0]}"
[ "$ready" = ok ] || { echo "Bail out! evt_testd did not start"; exit 1; }

d() {	# send one command to the daemon, wait for its "ok"
	local ans
	echo "$*" >&"${D[1]}"
	read -r ans <&"${D[0]}"
	[ "$ans" = ok ] || { echo "# daemon: '$*' -> $ans"; return 1; }
}

valid_json_lines() {	# every line of $1 parses as JSON
	python3 -c '
import json, sys
for no, line in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(line.decode("utf-8"))
' "$1"
}

seqs() {	# the seq of every line of $1, on one line
	sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'
}

# --- bad usage: one line naming the problem, then the usage, exit 2 -------
usage_case() {	# usage_case EXPECTED-FIRST-LINE ARGS...
	local want=$1; shift
	"$EVENTS" "$@" >"$T/out" 2>"$T/err"
	local rc=$? first
	first=$(head -n1 "$T/err")
	if [ $rc -eq 2 ] && [ "$first" = "$want" ] && grep -q '^usage: mixfs events' "$T/err" &&
	   [ ! -s "$T/out" ]; then
		ok "bad usage exits 2: $*"
	else
		not_ok "bad usage exits 2: $*" "exit $rc, first line: $first"
	fi
}
usage_case "mixfs events: unknown option '--bogus'" "$SOCK" --bogus
usage_case "mixfs events: missing SOCKET or MOUNTPOINT"
usage_case "mixfs events: --from 'abc' is not a sequence number" "$SOCK" --from abc
usage_case "mixfs events: --from needs a value" "$SOCK" --from
usage_case "mixfs events: --filter: unknown event type 'space_full'" "$SOCK" --filter type=space_full
usage_case "mixfs events: --filter: unknown key 'colour' (use category or type)" "$SOCK" --filter colour=red
usage_case "mixfs events: unexpected argument 'extra'" "$SOCK" extra

"$EVENTS" "$T/nosuch.sock" >/dev/null 2>"$T/err"
rc=$?
check "an unreachable feed exits 1 with a message" \
	test $rc -eq 1 -a -s "$T/err"

# --- printing ---------------------------------------------------------------
d emit mounted driver=test
d emit space_low free=10 total=1000 free_pct=1.00 low=5%
d emit io_error op=write 'path=/d/we"ird\x0aname\xff'
d emit store_unavailable op=read errno=ETIMEDOUT
d emit checksum_corrected ino=7
d emit remounted_ro
d emit space_ok free=900 total=1000

"$EVENTS" "$SOCK" >"$T/all" 2>"$T/err"
rc=$?
check "without --follow every kept event is printed and it exits 0" \
	test $rc -eq 0 -a "$(seqs "$T/all")" = "1 2 3 4 5 6 7"
check "every printed line is valid JSON" valid_json_lines "$T/all"

"$EVENTS" "$SOCK" --from 5 >"$T/out" 2>&1
check "--from starts at that event" test "$(seqs "$T/out")" = "5 6 7"

"$EVENTS" "$SOCK" --filter 'type=space_low|remounted_ro,type=space_ok' >"$T/out" 2>&1
check "--filter type= keeps those types" test "$(seqs "$T/out")" = "2 6 7"
"$EVENTS" "$SOCK" --filter category=warning,type=store_unavailable >"$T/out" 2>&1
check "--filter with two keys needs both" test "$(seqs "$T/out")" = "4"

mkdir -p "$T/mnt/.mixfs"
echo "$SOCK" >"$T/mnt/.mixfs/socket"
"$EVENTS" "$T/mnt" --from 7 >"$T/out" 2>&1
check "a mount point is resolved through .mixfs/socket" test "$(seqs "$T/out")" = "7"
"$EVENTS" "$T" >/dev/null 2>"$T/err"
check "a directory that is no mixfs mount exits 1" \
	test $? -eq 1 -a -n "$(grep -l 'mixfs mount' "$T/err")"

# --- --exec ----------------------------------------------------------------
cat >"$T/hook" <<'EOF'
#!/bin/sh
{
	printf '%s|%s|%s|%s|%s|%s\n' "$MIXFS_EVENT_SEQ" "$MIXFS_EVENT_TYPE" \
		"$MIXFS_EVENT_CATEGORY" "$MIXFS_EVENT_UUID" "$MIXFS_EVENT_MOUNT" \
		"${MIXFS_EVENT_FREE:-}"
	cat
} >>"$HOOK_OUT"
if [ -n "${MIXFS_EVENT_PATH:-}" ]; then printf '%s' "$MIXFS_EVENT_PATH" >"$HOOK_OUT.path"; fi
EOF
chmod +x "$T/hook"
HOOK_OUT=$T/hook.out "$EVENTS" "$SOCK" --exec "$T/hook" >"$T/out" 2>"$T/err"
rc=$?
check "--exec prints nothing itself and exits 0" test $rc -eq 0 -a ! -s "$T/out"
check "--exec runs the command once per event, in order, env and stdin set" \
	test "$(grep -c '^[0-9]*|' "$T/hook.out")" -eq 7 -a \
	"$(sed -n 3p "$T/hook.out")" = "2|space_low|threshold|42424242-4242-4242-4242-424242424242|/mnt/cli|10"
check "--exec gives the hook the event's JSON line on stdin" \
	cmp <(sed -n 4p "$T/hook.out") <(sed -n 2p "$T/all")
check "a detail that is not UTF-8 reaches the hook as its exact bytes" \
	cmp "$T/hook.out.path" <(printf '/d/we"ird\nname\377')

HOOK_OUT=$T/hook2.out "$EVENTS" "$SOCK" --exec 'cat >/dev/null; echo "$MIXFS_EVENT_SEQ" >>"$HOOK_OUT"; exit 3' \
	>"$T/out" 2>"$T/err"
rc=$?
check "a failing command is reported for each event without stopping" \
	test $rc -eq 0 -a "$(grep -c 'command exited with status 3 for event' "$T/err")" -eq 7 -a \
	"$(tr '\n' ' ' <"$T/hook2.out")" = "1 2 3 4 5 6 7 "

# --- --follow, across a daemon restart ---------------------------------------
"$EVENTS" "$SOCK" --follow --from 6 >"$T/follow" 2>"$T/follow.err" &
FPID=$!
wait_lines() {	# wait_lines FILE N: up to 10 s for FILE to hold N lines
	for _ in $(seq 100); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
d emit fsck_needed
wait_lines "$T/follow" 3
d flush
d restart
d emit mounted
d emit space_low free=1 total=1000
wait_lines "$T/follow" 5
kill "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
check "--follow gets new events live and resumes after a daemon restart" \
	test "$(seqs "$T/follow")" = "6 7 8 9 10"
check "--follow says it reconnected" grep -q 'reconnecting (from 9)' "$T/follow.err"

# --- the example hooks with stand-in scontrol and kubectl ------------------
mkdir -p "$T/bin"
for tool in scontrol kubectl; do
	cat >"$T/bin/$tool" <<EOF
#!/bin/sh
{ printf '%s' "$tool"; for a in "\$@"; do printf ' [%s]' "\$a"; done; echo; } >>"$T/calls"
EOF
	chmod +x "$T/bin/$tool"
done
host=$(hostname)
: >"$T/calls"
PATH="$T/bin:$PATH" "$EVENTS" "$SOCK" --exec "$EXAMPLES/slurm-drain.sh" >/dev/null 2>"$T/err"
want="scontrol [update] [NodeName=$host] [State=DRAIN] [Reason=mixfs /mnt/cli: free space below 5% (1.00% free) (event 2)]
scontrol [update] [NodeName=$host] [State=DRAIN] [Reason=mixfs /mnt/cli: object store unavailable (ETIMEDOUT) (event 4)]
scontrol [update] [NodeName=$host] [State=DRAIN] [Reason=mixfs /mnt/cli: remounted read-only (event 6)]
scontrol [update] [NodeName=$host] [State=DRAIN] [Reason=mixfs /mnt/cli: free space below its threshold (?% free) (event 10)]"
if [ "$(cat "$T/calls")" = "$want" ] && [ ! -s "$T/err" ]; then
	ok "the Slurm hook drains the node on space_low, store_unavailable, remounted_ro only"
else
	not_ok "the Slurm hook drains the node on space_low, store_unavailable, remounted_ro only" \
		"calls:" "$(cat "$T/calls")" "stderr: $(cat "$T/err")"
fi

d emit store_available op=read down_ms=5 failed_calls=2
: >"$T/calls"
PATH="$T/bin:$PATH" "$EVENTS" "$SOCK" --exec "$EXAMPLES/k8s-taint.sh" >/dev/null 2>"$T/err"
want="kubectl [taint] [nodes] [$host] [mixfs-space=low:NoSchedule] [--overwrite]
kubectl [taint] [nodes] [$host] [mixfs-store=unavailable:NoSchedule] [--overwrite]
kubectl [taint] [nodes] [$host] [mixfs-readonly=true:NoSchedule] [--overwrite]
kubectl [taint] [nodes] [$host] [mixfs-space:NoSchedule-]
kubectl [taint] [nodes] [$host] [mixfs-space=low:NoSchedule] [--overwrite]
kubectl [taint] [nodes] [$host] [mixfs-store:NoSchedule-]"
if [ "$(cat "$T/calls")" = "$want" ] && [ ! -s "$T/err" ]; then
	ok "the Kubernetes hook taints on trouble and removes the taint when it clears"
else
	not_ok "the Kubernetes hook taints on trouble and removes the taint when it clears" \
		"calls:" "$(cat "$T/calls")" "stderr: $(cat "$T/err")"
fi

echo quit >&"${D[1]}"; wait "$DPID" 2>/dev/null
echo "1..$n"
exit $failed
