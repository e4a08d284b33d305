/*
 * test_posix_names.c - the namespace: name length limits, names made of
 * any byte, deep trees, symbolic links (targets up to PATH_MAX - 1, loops)
 * and hard links with their link counts, for files and directories.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_names
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards. Renames are in test_posix_rename.
 */
#include "mount_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Does readdir of "." return @name exactly once? */
static int listed_once(const char *name)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(".");

	if (!d)
		fail_msg("opendir: %s", mt_errname(errno));
	while ((de = readdir(d)))
		n += strcmp(de->d_name, name) == 0;
	closedir(d);
	return n == 1;
}

static void name_of_255_bytes_works_256_fails_enametoolong(void **state)
{
	char n255[256], m255[256], n256[257];

	(void)state;
	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(m255, 'b', 255);
	m255[255] = '\0';
	memset(n256, 'c', 256);
	n256[256] = '\0';
	mt_write_file(n255, "x", 1);
	CHECK(listed_once(n255), "a 255-byte name is not listed once");
	CHECK_SYS(rename(n255, m255));
	CHECK(listed_once(m255), "renamed 255-byte name is not listed once");
	CHECK_SYS(link(m255, n255));
	CHECK_SYS(unlink(m255));
	CHECK_SYS(mkdir(m255, 0755));
	CHECK_SYS(rmdir(m255));
	CHECK_SYS(symlink(n255, m255));
	CHECK_SYS(unlink(m255));
	CHECK_ERRNO(open(n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	CHECK_ERRNO(mkdir(n256, 0755), ENAMETOOLONG);
	CHECK_ERRNO(symlink("x", n256), ENAMETOOLONG);
	CHECK_ERRNO(link(n255, n256), ENAMETOOLONG);
	CHECK_ERRNO(rename(n255, n256), ENAMETOOLONG);
	CHECK_ERRNO(access(n256, F_OK), ENAMETOOLONG);
	CHECK_SYS(unlink(n255));
}

static void names_with_any_byte_but_slash_round_trip(void **state)
{
	char name[256], got[256];
	struct dirent *de;
	int b, n = 0, found = 0;
	DIR *d;

	(void)state;
	for (b = 1; b < 256; b++)
		if (b != '/')
			name[n++] = (char)b;
	name[n] = '\0';
	mt_write_file(name, "x", 1);
	mt_write_file(" spaces and\nnewline ", "y", 1);
	mt_write_file("\xc3\xa9t\xc3\xa9", "z", 1);	/* UTF-8 */
	mt_write_file("\xff\xfe", "w", 1);		/* not UTF-8 */
	d = opendir(".");
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strlen(de->d_name) == (size_t)n) {
			strcpy(got, de->d_name);
			found++;
		}
	}
	closedir(d);
	CHECK(found == 1 && memcmp(got, name, n) == 0,
	      "a name of every byte 1..255 but '/' did not read back");
	CHECK(mt_lstat(" spaces and\nnewline ").st_size == 1 &&
	      mt_lstat("\xc3\xa9t\xc3\xa9").st_size == 1 &&
	      mt_lstat("\xff\xfe").st_size == 1,
	      "names with spaces, UTF-8 or invalid UTF-8 do not look up");
	/* Names are bytes: no case folding, no normalisation. */
	CHECK_ERRNO(access("\xc3\x89T\xc3\x89", F_OK), ENOENT);
	CHECK_ERRNO(access("e\xcc\x81te\xcc\x81", F_OK), ENOENT);
}

static void deep_tree_of_100_levels(void **state)
{
	char path[PATH_MAX];
	size_t len = 0;
	int i;

	(void)state;
	path[0] = '\0';
	for (i = 0; i < 100; i++) {
		len += sprintf(path + len, "%slevel%03d", i ? "/" : "", i);
		CHECK_SYS(mkdir(path, 0755));
	}
	sprintf(path + len, "/leaf");
	mt_write_file(path, "deep", 4);
	CHECK(mt_lstat(path).st_size == 4, "leaf at depth 100 has wrong size");
	/* Walk back up: each level holds one subdirectory, so nlink is 3. */
	path[len] = '\0';
	CHECK(mt_lstat(path).st_nlink == 2, "deepest directory nlink %lu",
	      (unsigned long)mt_lstat(path).st_nlink);
	for (i = 98; i >= 0; i--) {
		*strrchr(path, '/') = '\0';
		CHECK(mt_lstat(path).st_nlink == 3,
		      "directory at depth %d has nlink %lu, expected 3", i,
		      (unsigned long)mt_lstat(path).st_nlink);
	}
	/* A relative walk from deep inside reaches the top again. */
	sprintf(path, "level000");
	for (i = 1; i < 100; i++)
		sprintf(path + strlen(path), "/level%03d", i);
	CHECK_SYS(chdir(path));
	path[0] = '\0';
	for (i = 0; i < 100; i++)
		strcat(path, "../");
	strcat(path, "level000");
	CHECK(S_ISDIR(mt_lstat(path).st_mode), "../ x100 did not lead back");
	CHECK_SYS(chdir(mt_case_dir()));
	CHECK_SYS(mt_rm_tree("level000"));
}

static void symlink_loops_fail_eloop(void **state)
{
	char name[16], target[16];
	struct stat st;
	int i;

	(void)state;
	CHECK_SYS(symlink("b", "a"));
	CHECK_SYS(symlink("a", "b"));
	CHECK_SYS(symlink("self", "self"));
	CHECK_ERRNO(open("a", O_RDONLY), ELOOP);
	CHECK_ERRNO(stat("self", &st), ELOOP);
	CHECK_ERRNO(open("self", O_CREAT | O_WRONLY, 0644), ELOOP);
	CHECK_ERRNO(mkdir("self/x", 0755), ELOOP);
	CHECK(S_ISLNK(mt_lstat("a").st_mode), "lstat of a loop is not a link");
	/* O_NOFOLLOW on a symlink fails ELOOP, even when it resolves. */
	mt_write_file("file", "x", 1);
	CHECK_SYS(symlink("file", "tofile"));
	CHECK_ERRNO(open("tofile", O_RDONLY | O_NOFOLLOW), ELOOP);
	/* A chain of 30 links resolves; one of 50 is a loop to Linux. */
	for (i = 1; i <= 50; i++) {
		sprintf(name, "c%d", i);
		sprintf(target, i == 1 ? "file" : "c%d", i - 1);
		CHECK_SYS(symlink(target, name));
	}
	CHECK_SYS(stat("c30", &st));
	CHECK(S_ISREG(st.st_mode), "chain of 30 links is not the file");
	CHECK_ERRNO(stat("c50", &st), ELOOP);
}

static void symlink_targets_up_to_4095_bytes_read_back(void **state)
{
	static const size_t lens[] = { 1, 60, 61, 255, 256, 1000, 4095 };
	char target[4097], got[4200], name[16];
	ssize_t n;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (k = 0; k < lens[i]; k++)	/* components of <= 200 bytes */
			target[k] = k % 201 == 200 ? '/' : 'a' + (k + i) % 26;
		target[lens[i]] = '\0';
		sprintf(name, "l%zu", lens[i]);
		CHECK_SYS(symlink(target, name));
		n = readlink(name, got, sizeof(got));
		CHECK(n == (ssize_t)lens[i] && memcmp(got, target, n) == 0,
		      "readlink of a %zu-byte target returned %zd bytes%s",
		      lens[i], n, n == (ssize_t)lens[i] ? " that differ" : "");
		CHECK(mt_lstat(name).st_size == (off_t)lens[i],
		      "symlink with %zu-byte target has st_size %lld",
		      lens[i], (long long)mt_lstat(name).st_size);
		CHECK((mt_lstat(name).st_mode & 0777) == 0777,
		      "symlink mode %o", mt_lstat(name).st_mode & 0777);
	}
	/* A short buffer truncates without a terminator. */
	memset(got, '#', 10);
	CHECK(readlink("l1000", got, 5) == 5 && got[5] == '#',
	      "readlink into a 5-byte buffer did not return exactly 5");
	memset(target, 'x', 4096);
	target[4096] = '\0';
	CHECK_ERRNO(symlink(target, "toolong"), ENAMETOOLONG);
	CHECK_ERRNO(symlink("", "empty"), ENOENT);
	mt_write_file("file", "", 0);
	CHECK_ERRNO(readlink("file", got, sizeof(got)), EINVAL);
	CHECK_ERRNO(symlink("x", "file"), EEXIST);
}

static void hard_links_share_inode_and_count_nlink(void **state)
{
	struct stat a, b, c;
	char buf[8];

	(void)state;
	mt_write_file("a", "one", 3);
	CHECK(mt_lstat("a").st_nlink == 1, "new file nlink %lu",
	      (unsigned long)mt_lstat("a").st_nlink);
	CHECK_SYS(mkdir("sub", 0755));
	CHECK_SYS(link("a", "b"));
	CHECK_SYS(link("b", "sub/c"));
	a = mt_lstat("a");
	b = mt_lstat("b");
	c = mt_lstat("sub/c");
	CHECK(a.st_ino == b.st_ino && b.st_ino == c.st_ino,
	      "hard links have different inode numbers");
	CHECK(a.st_nlink == 3 && b.st_nlink == 3 && c.st_nlink == 3,
	      "nlink after two links is %lu/%lu/%lu, expected 3",
	      (unsigned long)a.st_nlink, (unsigned long)b.st_nlink,
	      (unsigned long)c.st_nlink);
	mt_write_file("sub/c", "two", 3);	/* O_TRUNC through one name */
	CHECK(mt_read_file("a", buf, sizeof(buf)) == 3 &&
	      memcmp(buf, "two", 3) == 0, "a write through one link is not "
	      "seen through another");
	CHECK_SYS(chmod("b", 0600));
	CHECK((mt_lstat("a").st_mode & 0777) == 0600,
	      "chmod through one link did not change the other");
	CHECK_SYS(unlink("a"));
	CHECK(mt_lstat("b").st_nlink == 2, "nlink after unlink is %lu",
	      (unsigned long)mt_lstat("b").st_nlink);
	CHECK_SYS(unlink("sub/c"));
	CHECK(mt_lstat("b").st_nlink == 1, "nlink after two unlinks is %lu",
	      (unsigned long)mt_lstat("b").st_nlink);
	CHECK_ERRNO(link("sub", "sublink"), EPERM);
	CHECK_ERRNO(link("b", "sub"), EEXIST);
	CHECK_ERRNO(link("missing", "x"), ENOENT);
	/* link() does not follow a symlink: it links the symlink itself. */
	CHECK_SYS(symlink("b", "sl"));
	CHECK_SYS(link("sl", "sl2"));
	CHECK(S_ISLNK(mt_lstat("sl2").st_mode) &&
	      mt_lstat("sl2").st_ino == mt_lstat("sl").st_ino,
	      "link of a symlink did not link the symlink");
	CHECK(mt_lstat("sl").st_nlink == 2, "symlink nlink %lu",
	      (unsigned long)mt_lstat("sl").st_nlink);
}

static void dir_nlink_is_two_plus_subdirs(void **state)
{
	char name[16];
	int i;

	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	CHECK(mt_lstat("d").st_nlink == 2, "empty directory nlink %lu",
	      (unsigned long)mt_lstat("d").st_nlink);
	for (i = 0; i < 5; i++) {
		sprintf(name, "d/s%d", i);
		CHECK_SYS(mkdir(name, 0755));
	}
	mt_write_file("d/file", "x", 1);
	CHECK_SYS(symlink("s0", "d/link"));
	CHECK_SYS(mkfifo("d/fifo", 0644));
	CHECK(mt_lstat("d").st_nlink == 7,
	      "nlink of a directory with 5 subdirectories and 3 other "
	      "entries is %lu, expected 7",
	      (unsigned long)mt_lstat("d").st_nlink);
	CHECK_SYS(rmdir("d/s3"));
	CHECK(mt_lstat("d").st_nlink == 6, "nlink after rmdir is %lu",
	      (unsigned long)mt_lstat("d").st_nlink);
	CHECK(mt_lstat(".").st_nlink == 3, "case directory nlink %lu",
	      (unsigned long)mt_lstat(".").st_nlink);
	CHECK(mt_lstat("d/s0/..").st_ino == mt_lstat("d").st_ino,
	      "'..' of a subdirectory is not its parent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(name_of_255_bytes_works_256_fails_enametoolong),
		MT_CASE(names_with_any_byte_but_slash_round_trip),
		MT_CASE(deep_tree_of_100_levels),
		MT_CASE(symlink_loops_fail_eloop),
		MT_CASE(symlink_targets_up_to_4095_bytes_read_back),
		MT_CASE(hard_links_share_inode_and_count_nlink),
		MT_CASE(dir_nlink_is_two_plus_subdirs),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
