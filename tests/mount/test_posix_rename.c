/*
 * test_posix_rename.c - every rule of rename(2) and renameat2(2) on Linux:
 * replacing files and empty directories, the type and emptiness errors,
 * moving a directory into itself, RENAME_NOREPLACE, RENAME_EXCHANGE across
 * directories (with '..' and parent link counts), renaming a name onto
 * another link of the same inode, and parent nlink when directories move.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_rename
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards. Timestamps touched by rename are in test_posix_times.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static long rename2(const char *from, const char *to, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
}

static void expect_content(const char *path, const char *want)
{
	char buf[64];
	size_t n = mt_read_file(path, buf, sizeof(buf));

	CHECK(n == strlen(want) && memcmp(buf, want, n) == 0,
	      "%s holds '%.*s', expected '%s'", path, (int)n, buf, want);
}

static unsigned long nlink_of(const char *path)
{
	return (unsigned long)mt_lstat(path).st_nlink;
}

static void rename_over_file_replaces_it(void **state)
{
	ino_t ino;
	int fd;
	char buf[8];

	(void)state;
	mt_write_file("a", "new", 3);
	mt_write_file("b", "old", 3);
	ino = mt_lstat("a").st_ino;
	fd = CHECK_SYS(open("b", O_RDONLY));
	CHECK_SYS(rename("a", "b"));
	CHECK_ERRNO(access("a", F_OK), ENOENT);
	CHECK(mt_lstat("b").st_ino == ino, "b is not the renamed inode");
	expect_content("b", "new");
	/* The replaced file lives on through its open descriptor. */
	CHECK(pread(fd, buf, 3, 0) == 3 && memcmp(buf, "old", 3) == 0,
	      "the replaced file's data is gone from its open descriptor");
	close(fd);
	/* A symlink is replaced, not followed. */
	mt_write_file("target", "t", 1);
	CHECK_SYS(symlink("target", "link"));
	CHECK_SYS(rename("b", "link"));
	CHECK(S_ISREG(mt_lstat("link").st_mode), "symlink was not replaced");
	expect_content("target", "t");
}

static void rename_dir_over_empty_dir_replaces_it(void **state)
{
	ino_t ino;

	(void)state;
	CHECK_SYS(mkdir("a", 0755));
	mt_write_file("a/f", "x", 1);
	CHECK_SYS(mkdir("b", 0755));
	ino = mt_lstat("a").st_ino;
	CHECK(nlink_of(".") == 4, "nlink of parent with two dirs %lu",
	      nlink_of("."));
	CHECK_SYS(rename("a", "b"));
	CHECK_ERRNO(access("a", F_OK), ENOENT);
	CHECK(mt_lstat("b").st_ino == ino, "b is not the renamed directory");
	expect_content("b/f", "x");
	CHECK(nlink_of(".") == 3, "parent nlink after replacing a directory "
	      "is %lu, expected 3", nlink_of("."));
}

static void rename_over_nonempty_dir_fails_enotempty(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("a", 0755));
	CHECK_SYS(mkdir("b", 0755));
	mt_write_file("b/keep", "k", 1);
	CHECK_ERRNO(rename("a", "b"), ENOTEMPTY);
	CHECK(S_ISDIR(mt_lstat("a").st_mode), "a failed rename lost the source");
	expect_content("b/keep", "k");
	CHECK_ERRNO(rename2("a", "b", 0), ENOTEMPTY);
}

static void rename_type_mismatch_fails(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	CHECK_SYS(mkdir("e", 0755));
	mt_write_file("f", "f", 1);
	CHECK_ERRNO(rename("d", "f"), ENOTDIR);
	CHECK_ERRNO(rename("f", "e"), EISDIR);
	CHECK_ERRNO(rename("f", "d/"), ENOTDIR);
	CHECK_ERRNO(rename("f/", "g"), ENOTDIR);
	CHECK_ERRNO(rename("missing", "g"), ENOENT);
	CHECK_ERRNO(rename("f", "missing/g"), ENOENT);
	CHECK(S_ISDIR(mt_lstat("d").st_mode) && S_ISREG(mt_lstat("f").st_mode)
	      && S_ISDIR(mt_lstat("e").st_mode),
	      "a failed rename changed the namespace");
	CHECK_SYS(rename("d", "d2/"));
	CHECK(S_ISDIR(mt_lstat("d2").st_mode), "directory was not renamed");
}

static void rename_dir_into_own_subtree_fails_einval(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("a", 0755));
	CHECK_SYS(mkdir("a/b", 0755));
	CHECK_SYS(mkdir("a/b/c", 0755));
	CHECK_ERRNO(rename("a", "a/b/c/a"), EINVAL);
	CHECK_ERRNO(rename("a", "a/x"), EINVAL);
	CHECK_ERRNO(rename("a/b", "a/b/c/x"), EINVAL);
	/* Over an existing directory inside itself: still EINVAL or
	 * ENOTEMPTY, never a cycle. */
	CHECK_ERRNO2(rename("a/b", "a/b/c"), EINVAL, ENOTEMPTY);
	CHECK_ERRNO2(rename("a", "a/b/c/.."), EINVAL, EBUSY);
	CHECK(S_ISDIR(mt_lstat("a/b/c").st_mode), "tree changed");
	CHECK_ERRNO(rename(".", "x"), EBUSY);
	CHECK_ERRNO(rename("a/.", "x"), EBUSY);
	/* Moving a subtree up is fine. */
	CHECK_SYS(rename("a/b/c", "c"));
	CHECK(mt_lstat("c/..").st_ino == mt_lstat(".").st_ino,
	      "'..' of a moved directory is not its new parent");
}

static void rename_noreplace_on_existing_fails_eexist(void **state)
{
	(void)state;
	mt_write_file("a", "a", 1);
	mt_write_file("b", "b", 1);
	CHECK_SYS(mkdir("d", 0755));
	CHECK_ERRNO(rename2("a", "b", RENAME_NOREPLACE), EEXIST);
	CHECK_ERRNO(rename2("a", "d", RENAME_NOREPLACE), EEXIST);
	CHECK_SYS(symlink("nowhere", "dangling"));
	CHECK_ERRNO(rename2("a", "dangling", RENAME_NOREPLACE), EEXIST);
	expect_content("a", "a");
	expect_content("b", "b");
	CHECK_SYS(rename2("a", "c", RENAME_NOREPLACE));
	expect_content("c", "a");
	CHECK_ERRNO(rename2("c", "b", RENAME_NOREPLACE | RENAME_EXCHANGE),
		    EINVAL);
}

static void rename_exchange_file_and_dir_across_dirs(void **state)
{
	ino_t file_ino, dir_ino;

	(void)state;
	CHECK_SYS(mkdir("p", 0755));
	CHECK_SYS(mkdir("q", 0755));
	mt_write_file("p/f", "file", 4);
	CHECK_SYS(mkdir("q/d", 0755));
	CHECK_SYS(mkdir("q/d/sub", 0755));
	mt_write_file("q/d/inner", "in", 2);
	file_ino = mt_lstat("p/f").st_ino;
	dir_ino = mt_lstat("q/d").st_ino;
	CHECK(nlink_of("p") == 2 && nlink_of("q") == 3,
	      "parent nlinks before exchange %lu/%lu", nlink_of("p"),
	      nlink_of("q"));
	CHECK_SYS(rename2("p/f", "q/d", RENAME_EXCHANGE));
	CHECK(mt_lstat("p/f").st_ino == dir_ino &&
	      S_ISDIR(mt_lstat("p/f").st_mode),
	      "p/f is not the directory after exchange");
	CHECK(mt_lstat("q/d").st_ino == file_ino &&
	      S_ISREG(mt_lstat("q/d").st_mode),
	      "q/d is not the file after exchange");
	expect_content("q/d", "file");
	expect_content("p/f/inner", "in");
	CHECK(mt_lstat("p/f/..").st_ino == mt_lstat("p").st_ino,
	      "'..' of the exchanged directory is not its new parent");
	CHECK(mt_lstat("p/f/sub/..").st_ino == dir_ino,
	      "'..' inside the exchanged directory changed");
	CHECK(nlink_of("p") == 3 && nlink_of("q") == 2,
	      "parent nlinks after exchange are %lu/%lu, expected 3/2",
	      nlink_of("p"), nlink_of("q"));
	CHECK(nlink_of("p/f") == 3, "exchanged directory nlink %lu",
	      nlink_of("p/f"));
	/* Exchange needs both names. */
	CHECK_ERRNO(rename2("p/f", "q/missing", RENAME_EXCHANGE), ENOENT);
	/* Exchanging two files in one directory swaps their contents. */
	mt_write_file("x", "x", 1);
	mt_write_file("y", "y", 1);
	CHECK_SYS(rename2("x", "y", RENAME_EXCHANGE));
	expect_content("x", "y");
	expect_content("y", "x");
	/* A directory cannot be exchanged with its own descendant. */
	CHECK_ERRNO(rename2("p", "p/f/sub", RENAME_EXCHANGE), EINVAL);
}

static void rename_onto_hard_link_of_itself_is_noop(void **state)
{
	(void)state;
	mt_write_file("a", "same", 4);
	CHECK_SYS(link("a", "b"));
	CHECK_SYS(rename("a", "b"));
	/* POSIX: when both names are the same file, nothing happens. */
	CHECK(access("a", F_OK) == 0 && access("b", F_OK) == 0,
	      "rename onto another link of the same file removed a name");
	CHECK(nlink_of("a") == 2, "nlink after no-op rename is %lu",
	      nlink_of("a"));
	CHECK_SYS(rename("a", "a"));
	expect_content("a", "same");
	CHECK_SYS(mkdir("d", 0755));
	CHECK_SYS(rename("d", "d"));
	CHECK(S_ISDIR(mt_lstat("d").st_mode), "rename of a dir to itself");
}

static void moving_dir_across_parents_updates_nlink(void **state)
{
	(void)state;
	CHECK_SYS(mkdir("p", 0755));
	CHECK_SYS(mkdir("q", 0755));
	CHECK_SYS(mkdir("p/d", 0755));
	mt_write_file("p/f", "f", 1);
	CHECK(nlink_of("p") == 3 && nlink_of("q") == 2,
	      "nlinks before move %lu/%lu", nlink_of("p"), nlink_of("q"));
	CHECK_SYS(rename("p/d", "q/d"));
	CHECK(nlink_of("p") == 2 && nlink_of("q") == 3,
	      "nlinks after moving a directory are %lu/%lu, expected 2/3",
	      nlink_of("p"), nlink_of("q"));
	CHECK(mt_lstat("q/d/..").st_ino == mt_lstat("q").st_ino,
	      "'..' of the moved directory is not q");
	/* Moving a file leaves the link counts alone. */
	CHECK_SYS(rename("p/f", "q/f"));
	CHECK(nlink_of("p") == 2 && nlink_of("q") == 3,
	      "moving a file changed parent nlinks to %lu/%lu",
	      nlink_of("p"), nlink_of("q"));
	/* Replacing an empty directory in another parent: q loses one. */
	CHECK_SYS(mkdir("p/e", 0755));
	CHECK_SYS(rename("q/d", "p/e"));
	CHECK(nlink_of("p") == 3 && nlink_of("q") == 2,
	      "nlinks after replacing a directory across parents %lu/%lu, "
	      "expected 3/2", nlink_of("p"), nlink_of("q"));
}

static void rename_keeps_open_descriptor_valid(void **state)
{
	char buf[8];
	int fd;

	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	fd = CHECK_SYS(open("d/f", O_CREAT | O_RDWR, 0644));
	CHECK_SYS(rename("d/f", "g"));
	CHECK_SYS(rename("d", "e"));
	mt_write_all(fd, "moved", 5, "renamed file");
	close(fd);
	CHECK(mt_read_file("g", buf, sizeof(buf)) == 5 &&
	      memcmp(buf, "moved", 5) == 0,
	      "write through a descriptor opened before rename is lost");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(rename_over_file_replaces_it),
		MT_CASE(rename_dir_over_empty_dir_replaces_it),
		MT_CASE(rename_over_nonempty_dir_fails_enotempty),
		MT_CASE(rename_type_mismatch_fails),
		MT_CASE(rename_dir_into_own_subtree_fails_einval),
		MT_CASE(rename_noreplace_on_existing_fails_eexist),
		MT_CASE(rename_exchange_file_and_dir_across_dirs),
		MT_CASE(rename_onto_hard_link_of_itself_is_noop),
		MT_CASE(moving_dir_across_parents_updates_nlink),
		MT_CASE(rename_keeps_open_descriptor_valid),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
