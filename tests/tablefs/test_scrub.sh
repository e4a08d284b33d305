#!/usr/bin/env bash
# test_scrub.sh MIXFS SCRUB_DAMAGE - `mixfs scrub` on real tablefs mounts:
# a clean filesystem scrubs clean with exact byte totals; damage made in
# the data store of an unmounted filesystem (a dir: store's chunk file, a
# RocksDB chunk value) is reported as checksum_error events naming the
# file, with exit 1, while reading the file gives EIO; files created,
# overwritten, truncated and removed during a scrub are not errors; a
# second start is refused; cancel, Ctrl-C and unmount during a scrub; a
# failing read is an io_error; a cache: store's damaged local piece is
# repaired and reported as checksum_corrected. Prints TAP.
set -u
mixfs=$1
damage=$2
tmp=$(mktemp -d /tmp/mixfs-scrub-XXXXXX)
mnt=$tmp/mnt
mkdir -p "$mnt"
n=0; failed=0
ok()  { n=$((n+1)); echo "ok $n - $1"; }
nok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2' want '$3'${4:+; $4}"; fi; }
cleanup() {
	kill $(jobs -p) 2>/dev/null
	mountpoint -q "$mnt" && { "$mixfs" umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
# status KEY: KEY of the mount's status, read from the control file (a
# fresh open reads the status; cheaper than a mixfs process, which takes
# seconds to start under the sanitizers).
status() { sed -n "s/^$1: //p" "$mnt/.mixfs/ctl"; }
# events TYPE: the events of TYPE kept by the filesystem, one a line.
events() { "$mixfs" events "$mnt" --from 1 | grep "\"type\":\"$1\""; }
detail() { grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | sed 's/.*:"//; s/"$//'; }
mount_fs() { "$mixfs" mount "$@" "$mnt" >/dev/null || { echo "Bail out! mount $* failed"; exit 1; }; }
wait_state() {	# wait_state STATE: until the scrub is in STATE (10 s)
	for i in $(seq 200); do [ "$(status scrub_state)" = "$1" ] && return 0; sleep 0.05; done
	return 1
}
# rnd BYTES FILE: random bytes into FILE in large writes (head alone
# writes 4 KiB at a time, each a request rewriting a store chunk).
rnd() { head -c "$1" /dev/urandom | dd of="$2" bs=1M iflag=fullblock status=none; }
# Sum of the sizes of the regular files under the mount.
file_bytes() { find "$mnt" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }

# --- a clean filesystem -------------------------------------------------
store="rocksdb:$tmp/s1"
"$mixfs" mkfs --size 1G "$store" >/dev/null
mount_fs --store "$store"
mkdir -p "$mnt/d/e"
rnd 100 "$mnt/small"
rnd 300000 "$mnt/d/mid"
rnd 3000000 "$mnt/d/e/big"
truncate -s 20M "$mnt/sparse"
printf 'x' | dd of="$mnt/sparse" bs=1 seek=10000000 conv=notrunc 2>/dev/null
ln -s small "$mnt/link"
: > "$mnt/empty"
check "before any scrub, status says idle" "$(status scrub_state)" idle
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "a clean filesystem scrubs with exit 0" "$rc" 0 "$out"
want=$(file_bytes)
check "bytes scanned are exactly the files' bytes" "$(status scrub_bytes_scanned) $(status scrub_bytes_total)" "$want $want"
check "every regular file is counted and scanned" "$(status scrub_files_scanned) $(status scrub_files_total)" "5 5"
check "state done, no errors, none corrected" "$(status scrub_state) $(status scrub_errors) $(status scrub_corrected) $(status scrub_io_errors)" "done 0 0 0"
[ "$(status scrub_records)" -ge 10 ] && ok "the database's records are verified" || nok "the database's records are verified" "records: $(status scrub_records)"
[ "$(status scrub_finished)" -ge "$(status scrub_started)" ] && [ "$(status scrub_started)" -gt 1600000000 ] && ok "start and finish times are set" || nok "start and finish times are set" "$(status scrub_started) $(status scrub_finished)"
grep -q "done" <<<"$out" && grep -q "0 lost, 0 corrected" <<<"$out" && ok "the summary says done and no damage" || nok "the summary says done and no damage" "$out"
out=$("$mixfs" scrub --status "$mnt"); rc=$?
check "--status of a clean scrub exits 0" "$rc" 0 "$out"
check "no checksum_error events" "$(events checksum_error | wc -l)" 0
"$mixfs" scrub --help | grep -q -- "--rate MIB" && ok "scrub --help shows the options" || nok "scrub --help shows the options"
"$mixfs" scrub --rate x "$mnt" 2>/dev/null; check "a bad rate is a usage error" $? 2
"$mixfs" scrub "$tmp" 2>/dev/null; check "a directory that is not a mount is exit 2" $? 2

# --- changes during a scrub; a second start; cancel; Ctrl-C --------------
rm "$mnt/sparse" "$mnt/d/e/big"
for i in 1 2 3 4 5 6; do rnd 2000000 "$mnt/f$i"; done
"$mixfs" scrub --background --rate 2 "$mnt" >/dev/null; rc=$?
check "--background starts a scrub and returns" "$rc" 0
out=$("$mixfs" scrub --background "$mnt" 2>&1); rc=$?
check "a second start while one runs is refused with exit 2" "$rc" 2 "$out"
grep -q "already running" <<<"$out" && ok "the refusal says a scrub is already running" || nok "the refusal says a scrub is already running" "$out"
# Create, overwrite, truncate and remove files while it reads them.
changes=0
while [ "$(status scrub_state)" = running ]; do
	for i in 1 2 3 4 5 6; do
		case $((changes % 4)) in
		0) rnd 700000 "$mnt/f$i" ;;
		1) truncate -s 100000 "$mnt/f$i" ;;
		2) rm -f "$mnt/f$i" ;;
		3) rnd 1500000 "$mnt/f$i"; rnd 9000 "$mnt/new$changes.$i" ;;
		esac
	done
	changes=$((changes+1))
done
[ $changes -ge 2 ] && ok "files changed during the scrub ($changes rounds)" || nok "files changed during the scrub" "only $changes rounds: the scrub was too quick"
check "files changed and removed under the scrub are not errors" "$(status scrub_state) $(status scrub_errors) $(status scrub_io_errors)" "done 0 0"
check "still no checksum_error events" "$(events checksum_error | wc -l)" 0

for i in 1 2 3 4 5 6; do rnd 2000000 "$mnt/f$i"; done
"$mixfs" scrub --background --rate 1 "$mnt" >/dev/null
sleep 1.5
b=$(status scrub_bytes_scanned); secs=$(( $(date +%s) - $(status scrub_started) + 1 ))
# at most a second's worth per second since the start, and one piece
[ "$b" -gt 0 ] && [ "$b" -le $(( (secs + 1) * 1048576 )) ] && ok "--rate 1 reads at most 1 MiB a second ($b bytes in $secs s)" || nok "--rate 1 reads at most 1 MiB a second" "$b bytes in $secs s"
out=$("$mixfs" scrub --cancel "$mnt" 2>&1); rc=$?
check "--cancel stops the running scrub" "$rc $(status scrub_state)" "0 cancelled" "$out"
out=$("$mixfs" scrub --cancel "$mnt" 2>&1); rc=$?
check "--cancel with none running is exit 2" "$rc" 2 "$out"
"$mixfs" scrub --rate 1 "$mnt" > "$tmp/fg" 2>&1 &
fg=$!
wait_state running; sleep 0.3
kill -INT $fg; wait $fg; rc=$?
check "Ctrl-C while watching exits 130" "$rc" 130 "$(cat "$tmp/fg")"
grep -q "goes on in the background" "$tmp/fg" && grep -q -- "--cancel" "$tmp/fg" && ok "Ctrl-C says the scrub goes on and how to stop it" || nok "Ctrl-C says the scrub goes on and how to stop it" "$(cat "$tmp/fg")"
check "after Ctrl-C the scrub still runs" "$(status scrub_state)" running
"$mixfs" scrub --cancel "$mnt" >/dev/null
"$mixfs" umount "$mnt"
out=$("$mixfs" fsck "$store" 2>&1) && ok "fsck clean after the scrubs" || nok "fsck clean after the scrubs" "$out"

# --- unmount during a scrub ---------------------------------------------
# In the foreground (-f) the daemon's own output is kept: a sanitizer
# report at its exit would show there.
"$mixfs" mount -f --store "$store" "$mnt" > "$tmp/daemon" 2>&1 &
daemon=$!
for i in $(seq 200); do [ -e "$mnt/.mixfs/ctl" ] && break; sleep 0.05; done
"$mixfs" scrub --background --rate 1 "$mnt" >/dev/null
wait_state running
t0=$(date +%s%N)
"$mixfs" umount "$mnt"; rc=$?
wait $daemon; drc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "unmount during a scrub succeeds and the daemon exits 0" "$rc $drc" "0 0" "$(cat "$tmp/daemon")"
[ $ms -lt 10000 ] && ok "unmount during a scrub takes ${ms} ms" || nok "unmount during a scrub is quick" "${ms} ms"
grep -q "Sanitizer\|runtime error" "$tmp/daemon" && nok "no sanitizer report from the daemon" "$(cat "$tmp/daemon")" || ok "no sanitizer report from the daemon"
out=$("$mixfs" fsck "$store" 2>&1) && ok "fsck clean after unmount during a scrub" || nok "fsck clean after unmount during a scrub" "$out"

# --- damage in a dir: data store ------------------------------------------
store="rocksdb:$tmp/s2"
"$mixfs" mkfs --size 1G --data dir:data "$store" >/dev/null
mount_fs --store "$store"
mkdir "$mnt/sub"
rnd 300000 "$mnt/sub/victim"
rnd 300000 "$mnt/fine"
ino=$(stat -c %i "$mnt/sub/victim")
"$mixfs" umount "$mnt"
chunk=$(find "$tmp/s2/data/objects/$(printf %016x "$ino")" -type f ! -name meta ! -name attr ! -name '*.sum' -size +200k)
if [ "$(echo "$chunk" | grep -c .)" = 1 ]; then
	# bytes 100000..100006: inside the 4 KiB chunk at 98304
	printf 'CORRUPT' | dd of="$chunk" bs=1 seek=100000 conv=notrunc 2>/dev/null
	ok "the file's data is one file of the dir: store"
else
	nok "the file's data is one file of the dir: store" "$chunk"
fi
mount_fs --store "$store"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "a scrub that finds damage exits 1" "$rc" 1 "$out"
grep -q "lost ino $ino offset 98304 length 4096 path /sub/victim" <<<"$out" && ok "the summary names the damaged file and range" || nok "the summary names the damaged file and range" "$out"
ev=$(events checksum_error)
check "one checksum_error event" "$(grep -c . <<<"$ev")" 1 "$ev"
check "it names the op, inode, path, offset, length and store" "$(detail "$ev" op) $(detail "$ev" ino) $(detail "$ev" path) $(detail "$ev" offset) $(detail "$ev" length) $(detail "$ev" store)" "scrub $ino /sub/victim 98304 4096 data"
check "status counts one error, the file and its neighbour scanned" "$(status scrub_errors) $(status scrub_files_scanned) $(status scrub_bytes_scanned)" "1 2 600000"
if cat "$mnt/sub/victim" > /dev/null 2> "$tmp/err"; then nok "reading the damaged file fails"; else grep -q "Input/output error" "$tmp/err" && ok "reading the damaged file fails with EIO" || nok "reading the damaged file fails with EIO" "$(cat "$tmp/err")"; fi
cmp -s <(head -c 98304 "$mnt/sub/victim" 2>/dev/null) <(head -c 98304 "$tmp/s2/data/objects/$(printf %016x "$ino")/$(basename "$chunk")") && ok "the bytes before the damage still read" || nok "the bytes before the damage still read"
out=$("$mixfs" scrub --status "$mnt"); rc=$?
check "--status after a scrub with damage exits 1" "$rc" 1 "$out"
"$mixfs" umount "$mnt"

# A data store whose reads fail: io_error, counted, exit 1.
mount_fs -o "errors=continue,data=faulty:op=read\,errno=EIO:dir:$tmp/s2/data" --store "$store"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "a scrub whose reads fail exits 1" "$rc" 1 "$out"
check "each failing file is an I/O error in status" "$(status scrub_io_errors) $(status readonly)" "2 0"
ev=$(events io_error | grep '"op":"scrub"' | head -1)
check "io_error names the scrub and the errno" "$(detail "$ev" op) $(detail "$ev" errno)" "scrub EIO" "$ev"
"$mixfs" umount "$mnt"

# --- damage in a RocksDB chunk value (the default layout) -----------------
store="rocksdb:$tmp/s3"
"$mixfs" mkfs --size 1G "$store" >/dev/null
mount_fs --store "$store"
mkdir "$mnt/dir"
rnd 500000 "$mnt/dir/victim2"
ino=$(stat -c %i "$mnt/dir/victim2")
"$mixfs" umount "$mnt"
out=$("$damage" "$tmp/s3" "$ino" 2 2>&1) && ok "a byte of a RocksDB chunk flipped" || nok "a byte of a RocksDB chunk flipped" "$out"
mount_fs --store "$store"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "damage in a RocksDB chunk: exit 1" "$rc" 1 "$out"
ev=$(events checksum_error)
check "the event names the file and the whole 64 KiB chunk" "$(grep -c . <<<"$ev") $(detail "$ev" ino) $(detail "$ev" path) $(detail "$ev" offset) $(detail "$ev" length)" "1 $ino /dir/victim2 131072 65536" "$ev"
if cat "$mnt/dir/victim2" > /dev/null 2> "$tmp/err"; then nok "reading the file with the damaged chunk fails"; else grep -q "Input/output error" "$tmp/err" && ok "reading the file with the damaged chunk fails with EIO" || nok "reading the file with the damaged chunk fails with EIO" "$(cat "$tmp/err")"; fi
"$mixfs" umount "$mnt"

# --- damage in a RocksDB table block: metadata ----------------------------
store="rocksdb:$tmp/s5"
"$mixfs" mkfs --size 1G "$store" >/dev/null
mount_fs --store "$store"
mkdir "$mnt/many"
for i in $(seq 1500); do echo "file $i, inline in its inode record" > "$mnt/many/f$i"; done
"$mixfs" umount "$mnt"
# The next mount replays the log into a table file.
mount_fs --store "$store"
"$mixfs" umount "$mnt"
sst=$(ls -S "$tmp/s5"/*.sst | head -1)
size=$(stat -c %s "$sst")
printf '\xff\xfe\xfd\xfc' | dd of="$sst" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
mount_fs --store "$store"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "damage in a table block of the database: exit 1" "$rc" 1 "$out"
grep -q "lost database records after key" <<<"$out" && ok "the summary names the records' place" || nok "the summary names the records' place" "$out"
ev=$(events checksum_error)
check "one checksum_error event for the metadata" "$(grep -c . <<<"$ev") $(detail "$ev" store)" "1 metadata" "$ev"
grep -q '"error":"Corruption' <<<"$ev" && ok "the event carries RocksDB's sentence" || nok "the event carries RocksDB's sentence" "$ev"
f=$(status scrub_files_scanned)
[ "$f" -ge 1300 ] && [ "$f" -lt 1500 ] && ok "the walk goes on past the damaged block ($f of 1500 files)" || nok "the walk goes on past the damaged block" "$f of 1500 files"
"$mixfs" umount "$mnt"

# --- a cache: store repairs a damaged local piece -------------------------
store="rocksdb:$tmp/s4"
"$mixfs" mkfs --size 1G --data "cache:local=[dir:$tmp/cache],max=64M:dir:$tmp/remote" "$store" >/dev/null || { echo "Bail out! mkfs with a cache: data store failed"; exit 1; }
mount_fs --store "$store"
head -c 2500000 /dev/urandom > "$tmp/orig"
cp "$tmp/orig" "$mnt/cached"
ino=$(stat -c %i "$mnt/cached")
"$mixfs" umount "$mnt"
mount_fs --store "$store"
cat "$mnt/cached" > /dev/null	# fills the cache
"$mixfs" umount "$mnt"
piece=$(find "$tmp/cache/objects/$(printf %016x "$ino")" -type f ! -name meta ! -name attr ! -name '*.sum' -size +500k | head -1)
if [ -n "$piece" ]; then
	printf 'CORRUPT' | dd of="$piece" bs=1 seek=5000 conv=notrunc 2>/dev/null
	ok "a piece of the file is in the local store"
else
	nok "a piece of the file is in the local store" "$(find "$tmp/cache" -type f | head)"
fi
mount_fs --store "$store"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "a scrub whose damage a cache repaired exits 0" "$rc" 0 "$out"
check "status counts one range corrected, none lost" "$(status scrub_corrected) $(status scrub_errors)" "1 0"
ev=$(events checksum_corrected | grep '"op":"scrub"')
check "the repair is reported once (by the scrub, not also by the cache)" "$(events checksum_corrected | wc -l)" 1
check "checksum_corrected names the file, the range and the local store" "$(detail "$ev" ino) $(detail "$ev" path) $(detail "$ev" offset) $(detail "$ev" length) $(detail "$ev" store)" "$ino /cached 4096 4096 local" "$ev"
cmp -s "$tmp/orig" "$mnt/cached" && ok "the file reads back whole" || nok "the file reads back whole"
out=$("$mixfs" scrub "$mnt" 2>&1); rc=$?
check "a second scrub finds it repaired" "$rc $(status scrub_corrected) $(status scrub_errors)" "0 0 0" "$out"
"$mixfs" umount "$mnt"

echo "1..$n"
[ $failed = 0 ]
