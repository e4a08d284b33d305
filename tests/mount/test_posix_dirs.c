/*
 * test_posix_dirs.c - directories: readdir returns every entry exactly
 * once (also while entries are deleted during the scan), telldir/seekdir
 * and rewinddir, and the errors of mkdir and rmdir.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_dirs
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards. Directory link counts are in test_posix_names, renames in
 * test_posix_rename, directory timestamps in test_posix_times.
 */
#include "mount_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NENT 1000

/* Entry i: a name whose length varies up to 255 bytes, and a type. */
static void entry_name(char *buf, int i)
{
	int len = sprintf(buf, "e%04d_", i), want = 6 + (i * 37) % 250;

	for (; len < want; len++)
		buf[len] = 'a' + (i + len) % 26;
	buf[len] = '\0';
}

static int entry_index(const char *name)
{
	char expect[256];
	int i;

	if (sscanf(name, "e%4d_", &i) != 1 || i < 0 || i >= NENT)
		return -1;
	entry_name(expect, i);
	return strcmp(expect, name) == 0 ? i : -1;
}

static void make_entries(int n)
{
	char name[256];
	int i, fd;

	for (i = 0; i < n; i++) {
		entry_name(name, i);
		switch (i % 4) {
		case 0:
			CHECK_SYS(mkdir(name, 0755));
			break;
		case 1:
			CHECK_SYS(symlink("target", name));
			break;
		default:
			fd = CHECK_SYS(open(name, O_CREAT | O_WRONLY, 0644));
			close(fd);
		}
	}
}

static unsigned char entry_dtype(int i)
{
	return i % 4 == 0 ? DT_DIR : i % 4 == 1 ? DT_LNK : DT_REG;
}

static void readdir_returns_each_of_1000_entries_once(void **state)
{
	static int seen[NENT];
	struct dirent *de;
	int i, dots = 0;
	DIR *d;

	(void)state;
	memset(seen, 0, sizeof(seen));
	make_entries(NENT);
	d = opendir(".");
	assert_non_null(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		i = entry_index(de->d_name);
		CHECK(i >= 0, "readdir returned unknown name '%.40s...'",
		      de->d_name);
		CHECK(++seen[i] == 1, "readdir returned entry %d twice", i);
		CHECK(de->d_type == DT_UNKNOWN || de->d_type == entry_dtype(i),
		      "entry %d has d_type %d, expected %d", i, de->d_type,
		      entry_dtype(i));
		if (de->d_type != DT_UNKNOWN && de->d_ino != 0)
			CHECK(de->d_ino == mt_lstat(de->d_name).st_ino,
			      "d_ino of entry %d is not its st_ino", i);
	}
	CHECK(errno == 0, "readdir failed: %s", mt_errname(errno));
	closedir(d);
	CHECK(dots <= 2, "readdir returned %d dot entries", dots);
	for (i = 0; i < NENT; i++)
		CHECK(seen[i] == 1, "readdir missed entry %d of %d", i, NENT);
}

static void readdir_while_unlinking_empties_directory(void **state)
{
	static int seen[NENT];
	struct dirent *de;
	int i, removed = 0;
	DIR *d;

	(void)state;
	memset(seen, 0, sizeof(seen));
	CHECK_SYS(mkdir("victim", 0755));
	CHECK_SYS(chdir("victim"));
	make_entries(NENT);
	/* As rm -r does: remove each entry as soon as it is returned. */
	d = opendir(".");
	assert_non_null(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		i = entry_index(de->d_name);
		CHECK(i >= 0, "readdir returned unknown name");
		CHECK(++seen[i] == 1, "readdir returned entry %d again after "
		      "it was removed", i);
		if (i % 4 == 0)
			CHECK_SYS(rmdir(de->d_name));
		else
			CHECK_SYS(unlink(de->d_name));
		removed++;
	}
	CHECK(errno == 0, "readdir failed: %s", mt_errname(errno));
	closedir(d);
	CHECK(removed == NENT, "one pass of readdir while removing saw %d of "
	      "%d entries", removed, NENT);
	CHECK_SYS(chdir(".."));
	CHECK_SYS(rmdir("victim"));
}

static void rmdir_of_nonempty_fails_enotempty(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("a", 0755));
	mt_write_file("a/f", "", 0);
	CHECK_ERRNO(rmdir("a"), ENOTEMPTY);
	CHECK_SYS(unlink("a/f"));
	CHECK_SYS(mkdir("a/sub", 0755));
	CHECK_ERRNO(rmdir("a"), ENOTEMPTY);
	CHECK_SYS(rmdir("a/sub"));
	CHECK_SYS(symlink("a", "a/l"));
	CHECK_ERRNO(rmdir("a"), ENOTEMPTY);
	CHECK_SYS(unlink("a/l"));
	CHECK_SYS(mkfifo("a/p", 0644));
	CHECK_ERRNO(rmdir("a"), ENOTEMPTY);
	CHECK_SYS(unlink("a/p"));
	CHECK_SYS(rmdir("a"));
	CHECK_ERRNO(access("a", F_OK), ENOENT);
	CHECK_ERRNO(rmdir("a"), ENOENT);
}

static void rmdir_of_dot_fails_einval(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	CHECK_ERRNO(rmdir("."), EINVAL);
	CHECK_ERRNO(rmdir("d/."), EINVAL);
	CHECK_ERRNO(rmdir("d/.."), ENOTEMPTY);
	CHECK_SYS(symlink("d", "ld"));
	CHECK_ERRNO(rmdir("ld"), ENOTDIR);
	CHECK(S_ISDIR(mt_lstat("d").st_mode), "rmdir of '.' removed it");
	/* The working directory itself may be removed; then it is empty
	 * and creating in it fails. */
	CHECK_SYS(chdir("d"));
	CHECK_SYS(rmdir("../d"));
	CHECK_ERRNO(open("x", O_CREAT | O_WRONLY, 0644), ENOENT);
	CHECK_SYS(chdir(mt_case_dir()));
}

static void mkdir_over_existing_fails_eexist(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	mt_write_file("f", "", 0);
	CHECK_SYS(symlink("nowhere", "dangling"));
	CHECK_ERRNO(mkdir("d", 0755), EEXIST);
	CHECK_ERRNO(mkdir("f", 0755), EEXIST);
	CHECK_ERRNO(mkdir("dangling", 0755), EEXIST);
	CHECK_ERRNO(mkdir("missing/d", 0755), ENOENT);
	CHECK_SYS(mkdir("t/", 0755));	/* a trailing slash is allowed */
	CHECK(S_ISDIR(mt_lstat("t").st_mode), "mkdir t/ made no directory");
}

static void telldir_seekdir_resumes_at_same_entry(void **state)
{
	static char names[NENT][256];
	struct dirent *de;
	int n = 0, k, i;
	long pos;
	DIR *d;

	(void)state;
	make_entries(300);
	d = opendir(".");
	assert_non_null(d);
	for (k = 0; k < 120 && (de = readdir(d)); k++)
		;
	pos = telldir(d);
	CHECK(pos != -1, "telldir: %s", mt_errname(errno));
	while ((de = readdir(d)))
		strcpy(names[n++], de->d_name);
	CHECK(n > 100, "only %d entries after the first 120 of 302", n);
	/* seekdir back, twice: the same sequence each time. */
	for (k = 0; k < 2; k++) {
		seekdir(d, pos);
		for (i = 0; i < n; i++) {
			de = readdir(d);
			CHECK(de && strcmp(de->d_name, names[i]) == 0,
			      "after seekdir, entry %d is '%.20s', expected "
			      "'%.20s'", i, de ? de->d_name : "(end)",
			      names[i]);
		}
		CHECK(readdir(d) == NULL, "entries after the end on resume");
	}
	closedir(d);
}

static void rewinddir_sees_new_entries(void **state)
{
	struct dirent *de;
	int before = 0, after = 0, found = 0;
	DIR *d;

	(void)state;
	make_entries(10);
	d = opendir(".");
	assert_non_null(d);
	while ((de = readdir(d)))
		before++;
	mt_write_file("late", "", 0);
	rewinddir(d);
	while ((de = readdir(d))) {
		after++;
		found += strcmp(de->d_name, "late") == 0;
	}
	closedir(d);
	CHECK(found == 1 && after == before + 1,
	      "after rewinddir, %d entries (before %d) and 'late' seen %d "
	      "times", after, before, found);
}

static void empty_directory_lists_only_dots(void **state)
{
	struct dirent *de;
	int other = 0, dot = 0, dotdot = 0;
	DIR *d;

	(void)state;
	CHECK_SYS(mkdir("e", 0755));
	d = opendir("e");
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, "."))
			dot++;
		else if (!strcmp(de->d_name, ".."))
			dotdot++;
		else
			other++;
		/* POSIX leaves '.' and '..' optional; if listed, they must
		 * be the directory and its parent. */
		if (!strcmp(de->d_name, ".") && de->d_ino)
			CHECK(de->d_ino == mt_lstat("e").st_ino,
			      "'.' entry has the wrong inode");
		if (!strcmp(de->d_name, "..") && de->d_ino)
			CHECK(de->d_ino == mt_lstat(".").st_ino,
			      "'..' entry has the wrong inode");
	}
	closedir(d);
	CHECK(other == 0 && dot <= 1 && dotdot <= 1,
	      "empty directory lists %d other entries, '.' %d times, '..' "
	      "%d times", other, dot, dotdot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(readdir_returns_each_of_1000_entries_once),
		MT_CASE(readdir_while_unlinking_empties_directory),
		MT_CASE(rmdir_of_nonempty_fails_enotempty),
		MT_CASE(rmdir_of_dot_fails_einval),
		MT_CASE(mkdir_over_existing_fails_eexist),
		MT_CASE(telldir_seekdir_resumes_at_same_entry),
		MT_CASE(rewinddir_sees_new_entries),
		MT_CASE(empty_directory_lists_only_dots),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
