/*
 * test_posix_xattr.c - extended attributes: user.* set, get, list and
 * remove on files and directories; XATTR_CREATE/XATTR_REPLACE; ERANGE for
 * short buffers; large values and many names; trusted.* as root; and the
 * Linux rule that user.* attributes are refused on symlinks and special
 * files.
 *
 * Run as root against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_xattr
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Does the NUL-separated list @list of @len bytes hold @name? */
static int list_has(const char *list, ssize_t len, const char *name)
{
	const char *p;

	for (p = list; p < list + len; p += strlen(p) + 1)
		if (!strcmp(p, name))
			return 1;
	return 0;
}

static void expect_xattr(const char *path, const char *name,
			 const void *want, size_t wlen)
{
	char buf[8192];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));

	CHECK(n == (ssize_t)wlen && memcmp(buf, want, wlen) == 0,
	      "%s %s: got %zd bytes (%s), expected %zu", path, name, n,
	      n < 0 ? mt_errname(errno) : "compared", wlen);
}

static void user_xattr_set_get_list_remove(void **state)
{
	char list[1024];
	ssize_t n;
	int fd;

	(void)state;
	mt_write_file("f", "data", 4);
	CHECK_SYS(mkdir("d", 0755));
	CHECK_SYS(setxattr("f", "user.colour", "blue", 4, 0));
	CHECK_SYS(setxattr("f", "user.empty", "", 0, 0));
	CHECK_SYS(setxattr("d", "user.dir", "yes", 3, 0));
	expect_xattr("f", "user.colour", "blue", 4);
	expect_xattr("f", "user.empty", "", 0);
	expect_xattr("d", "user.dir", "yes", 3);
	/* Size query with a zero-length buffer. */
	CHECK(getxattr("f", "user.colour", NULL, 0) == 4,
	      "size query returned %zd", getxattr("f", "user.colour", NULL, 0));
	n = CHECK_SYS(listxattr("f", list, sizeof(list)));
	CHECK(list_has(list, n, "user.colour") && list_has(list, n,
	      "user.empty"), "listxattr misses a set name");
	CHECK(listxattr("f", NULL, 0) == n, "list size query differs");
	/* Overwrite, then through a descriptor. */
	CHECK_SYS(setxattr("f", "user.colour", "green!", 6, 0));
	expect_xattr("f", "user.colour", "green!", 6);
	fd = CHECK_SYS(open("f", O_RDONLY));
	CHECK_SYS(fsetxattr(fd, "user.fd", "1", 1, 0));
	CHECK(fgetxattr(fd, "user.colour", list, sizeof(list)) == 6,
	      "fgetxattr size is wrong");
	close(fd);
	CHECK_SYS(removexattr("f", "user.colour"));
	CHECK_ERRNO(getxattr("f", "user.colour", list, sizeof(list)), ENODATA);
	CHECK_ERRNO(removexattr("f", "user.colour"), ENODATA);
	n = CHECK_SYS(listxattr("f", list, sizeof(list)));
	CHECK(!list_has(list, n, "user.colour") &&
	      list_has(list, n, "user.fd"), "list after remove is wrong");
	/* Data and attributes are separate. */
	CHECK(mt_lstat("f").st_size == 4, "xattrs changed the file size");
	/* Attributes follow the inode through rename and link. */
	CHECK_SYS(rename("f", "g"));
	CHECK_SYS(link("g", "h"));
	expect_xattr("h", "user.fd", "1", 1);
	CHECK_ERRNO(setxattr("h", "bogus.ns", "x", 1, 0), EOPNOTSUPP);
	CHECK_ERRNO(getxattr("missing", "user.x", list, 1), ENOENT);
}

static void xattr_create_and_replace_flags(void **state)
{
	(void)state;
	mt_write_file("f", "", 0);
	CHECK_SYS(setxattr("f", "user.a", "1", 1, XATTR_CREATE));
	CHECK_ERRNO(setxattr("f", "user.a", "2", 1, XATTR_CREATE), EEXIST);
	expect_xattr("f", "user.a", "1", 1);
	CHECK_ERRNO(setxattr("f", "user.b", "2", 1, XATTR_REPLACE), ENODATA);
	CHECK_ERRNO(getxattr("f", "user.b", NULL, 0), ENODATA);
	CHECK_SYS(setxattr("f", "user.a", "22", 2, XATTR_REPLACE));
	expect_xattr("f", "user.a", "22", 2);
}

static void short_buffers_fail_erange(void **state)
{
	char buf[4];

	(void)state;
	mt_write_file("f", "", 0);
	CHECK_SYS(setxattr("f", "user.long", "0123456789", 10, 0));
	CHECK_ERRNO(getxattr("f", "user.long", buf, sizeof(buf)), ERANGE);
	CHECK_ERRNO(listxattr("f", buf, sizeof(buf)), ERANGE);
	CHECK(getxattr("f", "user.long", buf, 0) == 10, "size query failed");
}

/* 64 names fit in the one 4 KiB block ext4 gives a file's xattrs. */
#define NMANY 64

static void large_values_and_many_names(void **state)
{
	char val[4000], name[64], list[16384];
	ssize_t n;
	int i;

	(void)state;
	mt_write_file("f", "", 0);
	mt_pattern(val, sizeof(val), 0, 12);
	CHECK_SYS(setxattr("f", "user.big", val, sizeof(val), 0));
	expect_xattr("f", "user.big", val, sizeof(val));
	CHECK_SYS(mkdir("d", 0755));
	for (i = 0; i < NMANY; i++) {
		sprintf(name, "user.many%03d", i);
		CHECK_SYS(setxattr("d", name, name, strlen(name), 0));
	}
	n = CHECK_SYS(listxattr("d", list, sizeof(list)));
	for (i = 0; i < NMANY; i++) {
		sprintf(name, "user.many%03d", i);
		CHECK(list_has(list, n, name), "%s missing from the list", name);
		expect_xattr("d", name, name, strlen(name));
	}
	for (i = 0; i < NMANY; i += 2) {
		sprintf(name, "user.many%03d", i);
		CHECK_SYS(removexattr("d", name));
	}
	n = CHECK_SYS(listxattr("d", list, sizeof(list)));
	for (i = 0; i < NMANY; i++) {
		sprintf(name, "user.many%03d", i);
		CHECK(list_has(list, n, name) == (i % 2),
		      "%s is %s the list after removing the even ones", name,
		      i % 2 ? "missing from" : "still in");
	}
	/* A name of 255 bytes is the limit. */
	{
		char lname[300];

		strcpy(lname, "user.");
		memset(lname + 5, 'n', 250);
		lname[255] = '\0';
		mt_write_file("g", "", 0);
		CHECK_SYS(setxattr("g", lname, "v", 1, 0));
		expect_xattr("g", lname, "v", 1);
		lname[255] = 'n';
		lname[256] = '\0';
		CHECK_ERRNO(setxattr("g", lname, "v", 1, 0), ERANGE);
	}
}

static void trusted_xattr_as_root(void **state)
{
	char list[1024];
	ssize_t n;

	(void)state;
	mt_write_file("f", "", 0);
	CHECK_SYS(setxattr("f", "trusted.secret", "root", 4, 0));
	expect_xattr("f", "trusted.secret", "root", 4);
	n = CHECK_SYS(listxattr("f", list, sizeof(list)));
	CHECK(list_has(list, n, "trusted.secret"), "root does not see "
	      "trusted.secret in the list");
	CHECK_SYS(removexattr("f", "trusted.secret"));
	CHECK_ERRNO(getxattr("f", "trusted.secret", NULL, 0), ENODATA);
}

static void user_xattr_refused_on_symlinks_and_specials(void **state)
{
	(void)state;
	mt_write_file("f", "", 0);
	CHECK_SYS(symlink("f", "l"));
	CHECK_SYS(mkfifo("p", 0644));
	CHECK_ERRNO(lsetxattr("l", "user.x", "1", 1, 0), EPERM);
	CHECK_ERRNO(lsetxattr("p", "user.x", "1", 1, 0), EPERM);
	/* Through the link it is the target's attribute. */
	CHECK_SYS(setxattr("l", "user.x", "1", 1, 0));
	expect_xattr("f", "user.x", "1", 1);
	CHECK_ERRNO(lgetxattr("l", "user.x", NULL, 0), ENODATA);
	/* trusted.* is allowed on a symlink. */
	CHECK_SYS(lsetxattr("l", "trusted.t", "2", 1, 0));
	expect_xattr("l", "trusted.t", "2", 1);
}

static void child_xattr_rules(void *arg)
{
	char buf[16];

	(void)arg;
	CHILD_ERRNO(setxattr("rootfile", "user.x", "1", 1, 0), EACCES);
	CHILD_CHECK(getxattr("rootfile", "user.r", buf, sizeof(buf)) == 1,
		    "a reader cannot get user.* of a 0644 file");
	CHILD_ERRNO(getxattr("rootfile", "trusted.t", buf, sizeof(buf)),
		    ENODATA);
	CHILD_ERRNO(setxattr("rootfile", "trusted.t", "1", 1, 0), EPERM);
}

static void user_xattr_follows_file_permissions(void **state)
{
	(void)state;
	mt_write_file("rootfile", "", 0);
	CHECK_SYS(setxattr("rootfile", "user.r", "r", 1, 0));
	CHECK_SYS(setxattr("rootfile", "trusted.t", "t", 1, 0));
	mt_as_user(MT_UID1, MT_GID1, child_xattr_rules, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(user_xattr_set_get_list_remove),
		MT_CASE(xattr_create_and_replace_flags),
		MT_CASE(short_buffers_fail_erange),
		MT_CASE(large_values_and_many_names),
		MT_CASE(trusted_xattr_as_root),
		MT_CASE(user_xattr_refused_on_symlinks_and_specials),
		MT_CASE(user_xattr_follows_file_permissions),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
