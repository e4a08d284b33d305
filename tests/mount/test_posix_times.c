/*
 * test_posix_times.c - which calls update which timestamps: write and
 * truncate move mtime and ctime; chmod, chown, link, unlink, rename and
 * setxattr move only ctime; reads never move atime backwards nor touch
 * mtime or ctime; utimensat with explicit times, UTIME_NOW and UTIME_OMIT;
 * and creating or removing entries updates the parent directory.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_times
 *
 * Works with any timestamp granularity up to one second: mtime is first
 * set to an old explicit value, and before checking that ctime advanced
 * the case waits until the filesystem's clock has visibly moved
 * (mt_tick). atime is not asserted beyond "never backwards", since
 * relatime and noatime mounts are both correct. Each case works in a fresh
 * subdirectory of MIXFS_TEST_DIR and removes it afterwards.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#define OLD_ATIME 1000000000	/* 2001 */
#define OLD_MTIME 1100000000	/* 2004 */

/* Set @path's atime and mtime to the old values. */
static void age(const char *path)
{
	struct timespec ts[2] = { { OLD_ATIME, 0 }, { OLD_MTIME, 0 } };

	CHECK_SYS(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW));
}

/* @t is within a minute of the wall clock: set by the filesystem "now". */
static int recent(struct timespec t)
{
	return labs((long)(t.tv_sec - time(NULL))) < 60;
}

static void write_and_truncate_update_mtime_and_ctime(void **state)
{
	struct stat before[3], st;
	static const char *const names[] = { "w", "t", "ft" };
	int fd, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		mt_write_file(names[i], "0123456789", 10);
		age(names[i]);
		before[i] = mt_lstat(names[i]);
	}
	mt_tick();
	fd = CHECK_SYS(open("w", O_WRONLY));
	CHECK(pwrite(fd, "x", 1, 3) == 1, "pwrite: %s", mt_errname(errno));
	close(fd);
	CHECK_SYS(truncate("t", 4));
	fd = CHECK_SYS(open("ft", O_WRONLY));
	CHECK_SYS(ftruncate(fd, 100));
	close(fd);
	for (i = 0; i < 3; i++) {
		st = mt_lstat(names[i]);
		CHECK(st.st_mtim.tv_sec != OLD_MTIME && recent(st.st_mtim),
		      "%s: mtime %ld after the change, expected now",
		      names[i], (long)st.st_mtim.tv_sec);
		CHECK(mt_ts_cmp(st.st_ctim, before[i].st_ctim) > 0,
		      "%s: ctime did not advance", names[i]);
		CHECK(st.st_atim.tv_sec >= OLD_ATIME, "%s: atime went back",
		      names[i]);
	}
}

static void attribute_changes_update_ctime_but_not_mtime(void **state)
{
	static const char *const names[] = {
		"chmod", "chown", "link", "rename", "unlink", "xattr", "utimes",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct timespec ts[2] = { { OLD_ATIME, 0 }, { OLD_MTIME, 0 } };
	struct stat before[N], st;
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		mt_write_file(names[i], "x", 1);
		age(names[i]);
	}
	CHECK_SYS(link("unlink", "unlink2"));
	for (i = 0; i < N; i++)
		before[i] = mt_lstat(names[i]);
	mt_tick();
	CHECK_SYS(chmod("chmod", 0600));
	CHECK_SYS(chown("chown", MT_UID1, MT_GID1));
	CHECK_SYS(link("link", "link2"));
	CHECK_SYS(rename("rename", "renamed"));
	CHECK_SYS(rename("renamed", "rename"));
	CHECK_SYS(unlink("unlink2"));
	CHECK_SYS(setxattr("xattr", "user.t", "v", 1, 0));
	CHECK_SYS(utimensat(AT_FDCWD, "utimes", ts, 0));	/* same values */
	for (i = 0; i < N; i++) {
		st = mt_lstat(names[i]);
		CHECK(mt_ts_cmp(st.st_ctim, before[i].st_ctim) > 0,
		      "%s did not advance ctime", names[i]);
		CHECK(st.st_mtim.tv_sec == OLD_MTIME && st.st_mtim.tv_nsec == 0,
		      "%s changed mtime to %ld", names[i],
		      (long)st.st_mtim.tv_sec);
		CHECK(st.st_atim.tv_sec == OLD_ATIME,
		      "%s changed atime to %ld", names[i],
		      (long)st.st_atim.tv_sec);
	}
}

static void read_leaves_mtime_ctime_and_keeps_atime_monotonic(void **state)
{
	struct stat before, st;
	char buf[16];

	(void)state;
	mt_write_file("f", "0123456789", 10);
	age("f");
	before = mt_lstat("f");
	mt_tick();
	CHECK(mt_read_file("f", buf, sizeof(buf)) == 10, "short read");
	st = mt_lstat("f");
	CHECK(mt_ts_cmp(st.st_atim, before.st_atim) >= 0,
	      "read moved atime backwards from %ld to %ld",
	      (long)before.st_atim.tv_sec, (long)st.st_atim.tv_sec);
	CHECK(st.st_atim.tv_sec == OLD_ATIME || recent(st.st_atim),
	      "read set atime to %ld, neither kept nor now",
	      (long)st.st_atim.tv_sec);
	CHECK(mt_ts_cmp(st.st_mtim, before.st_mtim) == 0,
	      "read changed mtime");
	CHECK(mt_ts_cmp(st.st_ctim, before.st_ctim) == 0,
	      "read changed ctime");
}

static void utimensat_sets_now_omits_and_explicit_times(void **state)
{
	struct timespec ts[2];
	struct stat before, st;

	(void)state;
	mt_write_file("f", "x", 1);
	CHECK_SYS(symlink("f", "l"));
	/* Explicit times, with nanoseconds, also beyond 2038 and before
	 * 1970. */
	ts[0] = (struct timespec){ 4102444800LL, 5000 };	/* 2100 */
	ts[1] = (struct timespec){ -315619200LL, 123456789 };	/* 1960 */
	CHECK_SYS(utimensat(AT_FDCWD, "f", ts, 0));
	st = mt_lstat("f");
	CHECK(st.st_atim.tv_sec == 4102444800LL, "atime in 2100 read back as "
	      "%lld", (long long)st.st_atim.tv_sec);
	CHECK(st.st_mtim.tv_sec == -315619200LL, "mtime in 1960 read back as "
	      "%lld", (long long)st.st_mtim.tv_sec);
	CHECK(st.st_atim.tv_nsec <= 5000 && st.st_mtim.tv_nsec <= 123456789,
	      "nanoseconds read back larger than set");
	/* UTIME_OMIT leaves one alone. */
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ OLD_MTIME, 0 };
	CHECK_SYS(utimensat(AT_FDCWD, "f", ts, 0));
	st = mt_lstat("f");
	CHECK(st.st_atim.tv_sec == 4102444800LL && st.st_mtim.tv_sec ==
	      OLD_MTIME, "UTIME_OMIT on atime: atime %lld mtime %lld",
	      (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
	ts[0] = (struct timespec){ OLD_ATIME, 0 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_SYS(utimensat(AT_FDCWD, "f", ts, 0));
	st = mt_lstat("f");
	CHECK(st.st_atim.tv_sec == OLD_ATIME && st.st_mtim.tv_sec ==
	      OLD_MTIME, "UTIME_OMIT on mtime: atime %lld mtime %lld",
	      (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
	/* UTIME_NOW sets the current time (and so does NULL). */
	before = st;
	mt_tick();
	ts[0] = (struct timespec){ 0, UTIME_NOW };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_SYS(utimensat(AT_FDCWD, "f", ts, 0));
	st = mt_lstat("f");
	CHECK(recent(st.st_atim) && st.st_mtim.tv_sec == OLD_MTIME,
	      "UTIME_NOW/UTIME_OMIT gave atime %lld mtime %lld",
	      (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
	CHECK(mt_ts_cmp(st.st_ctim, before.st_ctim) > 0,
	      "utimensat did not advance ctime");
	CHECK_SYS(utimensat(AT_FDCWD, "f", NULL, 0));
	st = mt_lstat("f");
	CHECK(recent(st.st_mtim), "utimensat(NULL) gave mtime %lld",
	      (long long)st.st_mtim.tv_sec);
	/* With AT_SYMLINK_NOFOLLOW the link's own times change. */
	age("f");
	ts[0] = ts[1] = (struct timespec){ 1234567890, 0 };
	CHECK_SYS(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	CHECK(mt_lstat("l").st_mtim.tv_sec == 1234567890,
	      "symlink mtime not set with AT_SYMLINK_NOFOLLOW");
	CHECK(mt_lstat("f").st_mtim.tv_sec == OLD_MTIME,
	      "AT_SYMLINK_NOFOLLOW changed the target's mtime");
	CHECK_SYS(utimensat(AT_FDCWD, "l", ts, 0));
	CHECK(mt_lstat("f").st_mtim.tv_sec == 1234567890,
	      "utimensat through a symlink did not set the target");
}

static void entry_changes_update_parent_mtime_and_ctime(void **state)
{
	static const char *const dirs[] = {
		"create", "mkdir", "unlink", "rmdir", "rename_from",
		"rename_to", "symlink", "link", "mknod",
	};
	enum { N = sizeof(dirs) / sizeof(dirs[0]) };
	struct stat before[N], st;
	int i, fd;

	(void)state;
	for (i = 0; i < N; i++)
		CHECK_SYS(mkdir(dirs[i], 0755));
	mt_write_file("unlink/f", "", 0);
	CHECK_SYS(mkdir("rmdir/d", 0755));
	mt_write_file("rename_from/f", "", 0);
	mt_write_file("outside", "", 0);
	for (i = 0; i < N; i++) {
		age(dirs[i]);
		before[i] = mt_lstat(dirs[i]);
	}
	mt_tick();
	fd = CHECK_SYS(open("create/f", O_CREAT | O_WRONLY, 0644));
	close(fd);
	CHECK_SYS(mkdir("mkdir/d", 0755));
	CHECK_SYS(unlink("unlink/f"));
	CHECK_SYS(rmdir("rmdir/d"));
	CHECK_SYS(rename("rename_from/f", "rename_to/f"));
	CHECK_SYS(symlink("x", "symlink/l"));
	CHECK_SYS(link("outside", "link/f"));
	CHECK_SYS(mkfifo("mknod/p", 0644));
	for (i = 0; i < N; i++) {
		st = mt_lstat(dirs[i]);
		CHECK(st.st_mtim.tv_sec != OLD_MTIME && recent(st.st_mtim),
		      "%s did not update the parent's mtime", dirs[i]);
		CHECK(mt_ts_cmp(st.st_ctim, before[i].st_ctim) > 0,
		      "%s did not update the parent's ctime", dirs[i]);
	}
}

static void new_inode_times_are_now(void **state)
{
	struct stat st;

	(void)state;
	mt_write_file("f", "", 0);
	CHECK_SYS(mkdir("d", 0755));
	CHECK_SYS(symlink("f", "l"));
	st = mt_lstat("f");
	CHECK(recent(st.st_atim) && recent(st.st_mtim) && recent(st.st_ctim),
	      "new file times %lld/%lld/%lld are not now",
	      (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec,
	      (long long)st.st_ctim.tv_sec);
	CHECK(mt_ts_cmp(st.st_mtim, st.st_ctim) == 0,
	      "new file mtime and ctime differ");
	st = mt_lstat("d");
	CHECK(recent(st.st_mtim) && recent(st.st_ctim),
	      "new directory times are not now");
	st = mt_lstat("l");
	CHECK(recent(st.st_mtim) && recent(st.st_ctim),
	      "new symlink times are not now");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(write_and_truncate_update_mtime_and_ctime),
		MT_CASE(attribute_changes_update_ctime_but_not_mtime),
		MT_CASE(read_leaves_mtime_ctime_and_keeps_atime_monotonic),
		MT_CASE(utimensat_sets_now_omits_and_explicit_times),
		MT_CASE(entry_changes_update_parent_mtime_and_ctime),
		MT_CASE(new_inode_times_are_now),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
