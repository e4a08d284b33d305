#!/usr/bin/env bash
# test_ctl_access.sh MIXFS - who may use a mount's control surfaces.
#
# The control file `.mixfs/ctl` takes commands (and answers status) only
# for root and the mount's owner; `.mixfs/events` and `.mixfs/socket` may
# be read by anyone who can enter the mount; the event feed's Unix socket
# is mode 0660, so only its owner, its group and root may connect
# (docs/events.md). Checked as other users (uid 12345, 12346: setpriv) on
# a mount made by root, and on a mount made by an unprivileged user.
#
# The user's mount: fusermount3 wants the user in /etc/passwd, so the
# mount is made as `nobody`. Where /dev/fuse is mode 0600 (containers),
# no user may open it, so that part runs in a private mount namespace
# whose /dev/fuse is a node of the same device with mode 0666; nothing
# outside the namespace changes.
#
# Prints TAP. Needs root, setpriv and unshare (util-linux).
set -u
mixfs=$(realpath "$1")
tmp=$(mktemp -d /tmp/mixfs-access-XXXXXX)
chmod 755 "$tmp"
mnt=$tmp/mnt
store="rocksdb:$tmp/store"
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
# check NAME CMD...: a case that passes when CMD succeeds.
check() { local name=$1 out; shift; if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi; }
# as UID[:GID[:GROUPS]] CMD...: run CMD as that user (groups: comma list).
as() {
	local u=${1%%:*} rest g groups
	rest=${1#*:}; [ "$rest" = "$1" ] && rest=$u
	g=${rest%%:*}; groups=${rest#*:}; [ "$groups" = "$rest" ] && groups=
	shift
	if [ -n "$groups" ]; then
		setpriv --reuid "$u" --regid "$g" --groups "$groups" -- "$@"
	else
		setpriv --reuid "$u" --regid "$g" --clear-groups -- "$@"
	fi
}
cleanup() {
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT

"$mixfs" mkfs --size 1G "$store" >/dev/null || { echo "Bail out! mkfs failed"; exit 1; }
"$mixfs" mount --store "$store" "$mnt" >/dev/null || { echo "Bail out! mount failed"; exit 1; }
sock=$(cat "$mnt/.mixfs/socket")

# --- a mount made by root ---------------------------------------------------

check "root writes a command to ctl and reads the answer" \
	sh -c "exec 3<>'$mnt/.mixfs/ctl' && echo status >&3 && grep -q '^driver: tablefs' <&3"
out=$(as 12345 sh -c "echo status > '$mnt/.mixfs/ctl'" 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q 'Permission denied'; then
	ok "another user cannot write a command to ctl (EACCES)"
else
	nok "another user cannot write a command to ctl (EACCES)" "$out"
fi
out=$(as 12345:12345:0 cat "$mnt/.mixfs/ctl" 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q 'Permission denied'; then
	ok "another user, even in root's group, cannot read ctl"
else
	nok "another user, even in root's group, cannot read ctl" "$out"
fi
out=$(as 12345 "$mixfs" status "$mnt" 2>&1)
[ $? -ne 0 ] && ok "mixfs status as another user fails" || nok "mixfs status as another user fails" "$out"
out=$(as 12345 "$mixfs" umount "$mnt" 2>&1)
if [ $? -ne 0 ] && mountpoint -q "$mnt"; then
	ok "mixfs umount as another user fails and the mount stays"
else
	nok "mixfs umount as another user fails and the mount stays" "$out"
fi
st=$(stat -c '%a %u' "$mnt/.mixfs/ctl" "$mnt/.mixfs/events" "$mnt/.mixfs/socket" | xargs)
[ "$st" = "600 0 444 0 444 0" ] && ok "ctl is 0600, events and socket 0444, all root's" \
	|| nok "ctl is 0600, events and socket 0444, all root's" "modes and owners: $st"
check "another user reads .mixfs/socket" as 12345 cat "$mnt/.mixfs/socket"
check "another user opens .mixfs/events for reading" as 12345 sh -c "exec 3<'$mnt/.mixfs/events'"
out=$(as 12345 sh -c "exec 3>'$mnt/.mixfs/events'" 2>&1)
[ $? -ne 0 ] && ok "nobody opens .mixfs/events for writing" || nok "nobody opens .mixfs/events for writing" "$out"

st=$(stat -c '%a %u %g' "$sock")
[ "$st" = "660 0 0" ] && ok "the event socket is mode 0660, root:root" \
	|| nok "the event socket is mode 0660, root:root" "mode, owner, group: $st"
check "root connects to the event socket" sh -c "'$mixfs' events '$sock' | grep -q '\"type\":\"mounted\"'"
out=$(as 12345 "$mixfs" events "$sock" 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q 'Permission denied'; then
	ok "another user cannot connect to the event socket"
else
	nok "another user cannot connect to the event socket" "$out"
fi
out=$(as 12345 "$mixfs" events "$mnt" 2>&1)
[ $? -ne 0 ] && ok "nor through the mount point" || nok "nor through the mount point" "$out"
# Allowed: a member of the socket's group.
check "a user with the socket's group as a supplementary group connects" \
	as 12345:12345:0 sh -c "'$mixfs' events '$sock' | grep -q '\"type\":\"mounted\"'"
chgrp 4242 "$sock"
check "after chgrp of the socket, a member of that group connects" \
	as 12346:12346:4242 sh -c "'$mixfs' events '$sock' | grep -q '\"type\":\"mounted\"'"
out=$(as 12345 "$mixfs" events "$sock" 2>&1)
[ $? -ne 0 ] && ok "and a user outside it still cannot" || nok "and a user outside it still cannot" "$out"
"$mixfs" umount "$mnt" || nok "umount of root's mount"

# --- a mount made by an unprivileged user -----------------------------------

uid=$(id -u nobody) gid=$(id -g nobody)
mkdir -p "$tmp/u/mnt" "$tmp/u/run" "$tmp/u/dev"
chown -R "$uid:$gid" "$tmp/u"
chmod 700 "$tmp/u/run"
chmod 755 "$tmp/u"
cat > "$tmp/u/inside.sh" <<EOF
# Runs in a private mount namespace; prints TAP lines without numbers.
mixfs=$mixfs; u=$tmp/u
EOF
cat >> "$tmp/u/inside.sh" <<'EOF'
say() { if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1"; [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'; fi; }
mount -t tmpfs -o mode=755 mixfs-dev "$u/dev" || exit 1
mknod -m 666 "$u/dev/fuse" c 10 229 && mount --bind "$u/dev/fuse" /dev/fuse || exit 1
own() { setpriv --reuid nobody --regid nogroup --clear-groups -- env HOME="$u" XDG_RUNTIME_DIR="$u/run" "$@"; }
own "$mixfs" mkfs "rocksdb:$u/store" >/dev/null || exit 1
out=$(own "$mixfs" mount --store "rocksdb:$u/store" "$u/mnt" 2>&1)
say "an unprivileged user mounts" $? "$out"
out=$(own stat -c '%a %U' "$u/mnt/.mixfs/ctl" 2>&1)
[ "$out" = "600 nobody" ]; say "ctl of a user's mount is 0600 and the user's" $? "$out"
out=$(own sh -c "exec 3<>'$u/mnt/.mixfs/ctl' && echo status >&3 && cat <&3" 2>&1)
echo "$out" | grep -q '^driver: tablefs'; say "the mount's owner writes a command to ctl" $? "$out"
out=$(own "$mixfs" status "$u/mnt" 2>&1)
say "mixfs status works for the mount's owner" $? "$out"
sock=$(own cat "$u/mnt/.mixfs/socket")
out=$(stat -c '%a %U' "$sock" 2>&1)
[ "$out" = "660 nobody" ]; say "the user's event socket is 0660 and the user's" $? "$out"
out=$(own "$mixfs" events "$sock" 2>&1)
echo "$out" | grep -q '"type":"mounted"'; say "the mount's owner connects to the event socket" $? "$out"
out=$(setpriv --reuid 12345 --regid 12345 --clear-groups -- "$mixfs" events "$sock" 2>&1)
[ $? -ne 0 ]; say "another user cannot connect to the user's event socket" $? "$out"
out=$(setpriv --reuid 12345 --regid 12345 --clear-groups -- sh -c "echo status > '$u/mnt/.mixfs/ctl'" 2>&1)
[ $? -ne 0 ]; say "another user cannot write to the user's ctl" $? "$out"
out=$(own "$mixfs" umount "$u/mnt" 2>&1)
say "mixfs umount works for the mount's owner" $? "$out"
mountpoint -q "$u/mnt" && umount -l "$u/mnt"
exit 0
EOF
out=$(unshare -m --propagation private bash "$tmp/u/inside.sh" 2>&1)
rc=$?
if [ $rc -ne 0 ] || ! echo "$out" | grep -q '^ok - an unprivileged user mounts'; then
	nok "a user's mount in a private namespace could be set up" "$out"
fi
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) n=$((n+1)); failed=$((failed+1)); echo "not ok $n - ${line#not ok - }" ;;
	"# "*) echo "$line" ;;
	esac
done <<< "$out"
echo "1..$n"
[ $failed -eq 0 ]
