#!/usr/bin/env bash
# test_crash_check.sh CRASH_OPS - the checker itself, on a directory of
# the host filesystem (no crash, no mount): a tree that matches its
# journal passes, and each kind of damage a crash could do to
# acknowledged state is reported, naming the path. Without this, a
# checker that never complains would pass every crash test. Prints TAP.
set -u
ops=$1
tmp=$(mktemp -d /tmp/mixfs-crashcheck-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; return 0; }

# Every sequence of one operation, all acknowledged.
if ! out=$("$ops" ace "$tmp/t" "$tmp/j" 1 0 1000 2>&1); then
	echo "Bail out! crash_ops ace failed: $out"; exit 1
fi
if out=$("$ops" check "$tmp/t" "$tmp/j" 2>&1); then
	ok "an undamaged tree passes ($out)"
else
	nok "an undamaged tree passes" "$out"
fi

# The directory of the sequence that is exactly "OP ARGS".
seq_dir() {
	awk -v want="$*" '$1 == "#" && $2 == "sequence" { s = $5; sub(/:$/, "", s); next }
		$1 == "#" { line = $0; sub(/^#   /, "", line); if (line == want) { print s; exit } }' "$tmp/j"
}

# Damage accumulates, one sequence's directory each; expect_report
# NAME PATTERN: the check must fail and print PATTERN.
damaged=
expect_report() {
	local out
	if out=$("$ops" check "$tmp/t" "$tmp/j" 2>&1); then
		nok "$1" "the check passed: $out"
	elif printf '%s\n' "$out" | grep -q -- "$2"; then
		ok "$1"
	else
		nok "$1" "no line matching '$2' in:
$out"
	fi
}

s=$(seq_dir "write foo 0 3000 1000")
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1234); b = f.read(1); f.seek(1234); f.write(bytes([b[0] ^ 0x5a]))' "$tmp/t/$s/foo"
expect_report "a changed byte of acknowledged data is reported" "$s/foo: contents .* differ: byte 1234"
damaged="$damaged $s"

s=$(seq_dir "truncate A/foo 90000")
truncate -s 89999 "$tmp/t/$s/A/foo"
expect_report "a lost tail of an acknowledged size is reported" "$s/A/foo: contents .* size is 89999"
damaged="$damaged $s"

s=$(seq_dir "create bar")
rm "$tmp/t/$s/bar"
expect_report "a missing acknowledged create is reported" "$s/bar: missing"
damaged="$damaged $s"

s=$(seq_dir "unlink foo")
echo x >"$tmp/t/$s/foo"
expect_report "a name whose unlink was acknowledged is reported when present" "$s/foo: present, but its absence was acknowledged"
damaged="$damaged $s"

s=$(seq_dir "rename foo bar")
ln "$tmp/t/$s/bar" "$tmp/t/$s/foo"
expect_report "a half-done acknowledged rename (both names) is reported" "$s/foo: present, but its absence was acknowledged"
damaged="$damaged $s"
s=$(seq_dir "rename foo A/bar")
rm "$tmp/t/$s/A/bar"
expect_report "a half-done acknowledged rename (neither name) is reported" "$s/A/bar: missing"
damaged="$damaged $s"

s=$(seq_dir "rmdir B")
mkdir "$tmp/t/$s/B"
expect_report "a directory whose rmdir was acknowledged is reported when present" "$s/B: present, but its absence was acknowledged"
damaged="$damaged $s"

s=$(seq_dir "link A/foo bar")
touch "$tmp/t/$s/stray"
expect_report "an entry that was never made is reported" "$s/stray: present, but its absence was acknowledged"
damaged="$damaged $s"

s=$(seq_dir "rename A B")
mv "$tmp/t/$s/B" "$tmp/t/$s/A"
expect_report "an acknowledged directory rename found undone is reported" "$s/B: missing"
damaged="$damaged $s"

s=$(seq_dir "rename foo A/foo")
cp "$tmp/t/$s/A/foo" "$tmp/t/$s/A/copy"
mv "$tmp/t/$s/A/copy" "$tmp/t/$s/A/foo"
expect_report "another inode under an acknowledged name is reported" "$s/A/foo: found a file (ino [0-9]*); allowed: file #"
damaged="$damaged $s"

# Nothing but the damage is reported.
out=$("$ops" check "$tmp/t" "$tmp/j" 2>&1)
extra=$(printf '%s\n' "$out" | grep "^$tmp/t/" | grep -v -E "^$tmp/t/($(echo $damaged | tr ' ' '|'))/")
if [ -z "$extra" ]; then
	ok "nothing undamaged is reported"
else
	nok "nothing undamaged is reported" "$extra"
fi

# A random run, never crashed: nothing is reported, whatever was or was
# not acknowledged when it stopped.
seed=${MIXFS_SEED:-$(( ($(date +%s%N) / 1000 + $$) % 1000000000 ))}
steps=600
[ "${MIXFS_LONG:-0}" = 1 ] && steps=20000
"$ops" random "$tmp/r" "$tmp/jr" "$seed" --steps $steps >/dev/null 2>&1
if out=$("$ops" check "$tmp/r" "$tmp/jr" 2>&1); then
	ok "a random run of $steps steps on the host filesystem passes (seed $seed)"
else
	nok "a random run of $steps steps on the host filesystem passes (seed $seed)" "$out"
fi

# An operation with no result (the daemon died under it) is possible,
# not required: both outcomes pass.
"$ops" random "$tmp/u" "$tmp/ju" "$seed" --steps 50 >/dev/null 2>&1
grep -v '^E$' "$tmp/ju" >"$tmp/ju2"
printf 'I 51 create zz\n' >>"$tmp/ju2"
a=$("$ops" check "$tmp/u" "$tmp/ju2" 2>&1); ra=$?
touch "$tmp/u/zz"
b=$("$ops" check "$tmp/u" "$tmp/ju2" 2>&1); rb=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ]; then
	ok "an operation cut off by the crash may or may not have happened"
else
	nok "an operation cut off by the crash may or may not have happened" "without: $a
with: $b"
fi

echo "1..$n"
[ $failed -eq 0 ]
