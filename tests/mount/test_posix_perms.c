/*
 * test_posix_perms.c - permission checks and ownership, seen by processes
 * that dropped root to unprivileged users: read/write/search denials,
 * chmod/chown/utimes rules, set-user-ID and set-group-ID bits cleared by
 * writes and chown, sticky and set-group-ID directories, and the umask.
 *
 * Run as root against any directory that other users can reach (the
 * program forks children that become uid 12345 and 12346):
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_perms
 *
 * A FUSE filesystem must be mounted with allow_other (so that the
 * children may enter it) and default_permissions (or check permissions
 * itself). Each case works in a fresh subdirectory of MIXFS_TEST_DIR and
 * removes it afterwards.
 */
#include "mount_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static mode_t mode_of(const char *path)
{
	return mt_lstat(path).st_mode & 07777;
}

/* Make @path with @mode exactly (no umask), owned by @uid:@gid. */
static void make_file(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	mt_write_file(path, "data", 4);
	CHECK_SYS(chown(path, uid, gid));
	CHECK_SYS(chmod(path, mode));
}

static void make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	CHECK_SYS(mkdir(path, 0700));
	CHECK_SYS(chown(path, uid, gid));
	CHECK_SYS(chmod(path, mode));
}

static void child_denied_access(void *arg)
{
	struct stat st;
	char buf[8];
	int fd;

	(void)arg;
	CHILD_ERRNO(open("private", O_RDONLY), EACCES);
	CHILD_ERRNO(open("readonly", O_WRONLY), EACCES);
	CHILD_ERRNO(open("readonly", O_RDWR), EACCES);
	CHILD_ERRNO(truncate("readonly", 0), EACCES);
	fd = CHILD_SYS(open("readonly", O_RDONLY));
	CHILD_CHECK(read(fd, buf, 4) == 4, "cannot read a 0644 file");
	close(fd);
	CHILD_ERRNO(stat("closed/inside", &st), EACCES);
	CHILD_ERRNO(opendir("closed") ? 0 : -1, EACCES);
	CHILD_SYS(stat("searchonly/inside", &st));
	CHILD_ERRNO(opendir("searchonly") ? 0 : -1, EACCES);
	CHILD_ERRNO(open("new", O_CREAT | O_WRONLY, 0644), EACCES);
	CHILD_ERRNO(mkdir("newdir", 0755), EACCES);
	CHILD_ERRNO(unlink("readonly"), EACCES);
	CHILD_ERRNO(access("private", R_OK), EACCES);
	CHILD_SYS(access("readonly", R_OK));
}

static void other_user_is_denied_by_mode_bits(void **state)
{
	(void)state;
	make_file("private", 0600, 0, 0);
	make_file("readonly", 0644, 0, 0);
	make_dir("closed", 0700, 0, 0);
	make_file("closed/inside", 0644, 0, 0);
	make_dir("searchonly", 0711, 0, 0);
	make_file("searchonly/inside", 0644, 0, 0);
	mt_as_user(MT_UID1, MT_GID1, child_denied_access, NULL);
	CHECK(mt_lstat("readonly").st_size == 4, "a denied truncate changed "
	      "the file");
}

static void child_group_class(void *arg)
{
	int fd;

	(void)arg;
	/* Group members get the group bits ... */
	fd = CHILD_SYS(open("grp", O_RDONLY));
	close(fd);
	CHILD_ERRNO(open("grp", O_WRONLY), EACCES);
	/* ... but the owner gets only the owner bits, even when the group or
	 * other bits would allow more. */
	if (getuid() == MT_UID1)
		CHILD_ERRNO(open("owner_none", O_RDONLY), EACCES);
}

static void owner_and_group_classes_apply_in_order(void **state)
{
	(void)state;
	make_file("grp", 0640, 0, MT_GID1);
	make_file("owner_none", 0077, MT_UID1, MT_GID1);
	mt_as_user(MT_UID2, MT_GID1, child_group_class, NULL);
	mt_as_user(MT_UID1, MT_GID1, child_group_class, NULL);
	/* Root reads anything but executes only with some x bit. */
	CHECK_SYS(access("owner_none", R_OK | W_OK));
	make_file("noexec", 0644, 0, 0);
	CHECK_ERRNO(access("noexec", X_OK), EACCES);
	CHECK_SYS(chmod("noexec", 0645));
	CHECK_SYS(access("noexec", X_OK));
}

static void child_attr_changes(void *arg)
{
	struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };

	(void)arg;
	CHILD_ERRNO(chmod("roots", 0666), EPERM);
	CHILD_ERRNO(chown("roots", MT_UID1, MT_GID1), EPERM);
	CHILD_ERRNO(chown("mine", MT_UID2, -1), EPERM);
	CHILD_ERRNO(chown("mine", -1, 0), EPERM);
	CHILD_SYS(chown("mine", -1, MT_GID1));	/* own group: allowed */
	CHILD_SYS(chmod("mine", 0604));
	/* Explicit times need ownership; "now" needs only write access. */
	CHILD_ERRNO(utimensat(AT_FDCWD, "roots", ts, 0), EPERM);
	CHILD_SYS(utimensat(AT_FDCWD, "roots", NULL, 0));
	CHILD_ERRNO(utimensat(AT_FDCWD, "roots_ro", NULL, 0), EACCES);
	CHILD_SYS(utimensat(AT_FDCWD, "mine", ts, 0));
}

static void chmod_chown_utimes_of_others_file_fail(void **state)
{
	struct stat st;

	(void)state;
	make_file("roots", 0666, 0, 0);
	make_file("roots_ro", 0644, 0, 0);
	make_file("mine", 0644, MT_UID1, 4242);
	mt_as_user(MT_UID1, MT_GID1, child_attr_changes, NULL);
	CHECK(mode_of("roots") == 0666, "denied chmod changed mode to %o",
	      mode_of("roots"));
	st = mt_lstat("mine");
	CHECK(st.st_uid == MT_UID1 && st.st_gid == MT_GID1,
	      "owner's chgrp gave %d:%d", (int)st.st_uid, (int)st.st_gid);
	CHECK((st.st_mode & 07777) == 0604, "owner's chmod gave %o",
	      st.st_mode & 07777);
	CHECK(st.st_mtim.tv_sec == 2000 && st.st_atim.tv_sec == 1000,
	      "owner's utimensat gave atime %ld mtime %ld",
	      (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
}

static void child_writes(void *arg)
{
	int fd;

	(void)arg;
	fd = CHILD_SYS(open("suid", O_WRONLY));
	CHILD_CHECK(write(fd, "x", 1) == 1, "write failed");
	close(fd);
	fd = CHILD_SYS(open("own_suid", O_WRONLY));
	CHILD_CHECK(write(fd, "x", 1) == 1, "write failed");
	close(fd);
}

static void setuid_setgid_cleared_by_non_owner_write(void **state)
{
	(void)state;
	make_file("suid", 06777, 0, 0);
	make_file("own_suid", 04744, MT_UID1, MT_GID1);
	mt_as_user(MT_UID1, MT_GID1, child_writes, NULL);
	CHECK(mode_of("suid") == 0777, "after a write by another user the "
	      "mode is %o, expected 777 (set-ID bits cleared)",
	      mode_of("suid"));
	/* The owner has no CAP_FSETID either. */
	CHECK(mode_of("own_suid") == 0744, "after a write by its unprivileged "
	      "owner the mode is %o, expected 744", mode_of("own_suid"));
	/* Root (CAP_FSETID) writing keeps the bits. */
	make_file("rootw", 06755, 0, 0);
	mt_write_file("rootw", "y", 1);
	CHECK(mode_of("rootw") == 06755, "a write by root changed mode to %o",
	      mode_of("rootw"));
}

static void chown_clears_setuid_setgid(void **state)
{
	(void)state;
	make_file("f", 06755, 0, 0);
	CHECK_SYS(chown("f", MT_UID1, MT_GID1));
	CHECK(mode_of("f") == 0755, "after chown the mode is %o, expected "
	      "755", mode_of("f"));
	make_file("g", 06755, 0, 0);
	CHECK_SYS(chown("g", -1, -1));	/* no change requested: still a chown */
	CHECK(mode_of("g") == 0755, "chown(-1, -1) left mode %o, expected 755",
	      mode_of("g"));
	/* Directories keep their set-group-ID bit through chown. */
	make_dir("d", 02755, 0, 0);
	CHECK_SYS(chown("d", MT_UID1, MT_GID1));
	CHECK(mode_of("d") == 02755, "chown of a directory changed mode to %o",
	      mode_of("d"));
}

static void child_sticky_owner_creates(void *arg)
{
	int fd;

	(void)arg;
	fd = CHILD_SYS(open("sticky/mine", O_CREAT | O_WRONLY, 0666));
	close(fd);
	fd = CHILD_SYS(open("open/mine", O_CREAT | O_WRONLY, 0666));
	close(fd);
}

static void child_sticky_other(void *arg)
{
	int fd;

	(void)arg;
	CHILD_ERRNO(unlink("sticky/mine"), EPERM);
	CHILD_ERRNO(rename("sticky/mine", "sticky/stolen"), EPERM);
	CHILD_ERRNO(rename("sticky/theirs2", "sticky/mine"), EPERM);
	fd = CHILD_SYS(open("sticky/theirs", O_CREAT | O_WRONLY, 0666));
	close(fd);
	CHILD_SYS(unlink("sticky/theirs"));
	/* Without the sticky bit, write permission on the directory is
	 * enough. */
	CHILD_SYS(unlink("open/mine"));
}

static void child_sticky_owner_removes(void *arg)
{
	(void)arg;
	CHILD_SYS(unlink("sticky/mine"));
}

static void sticky_dir_keeps_others_from_removing(void **state)
{
	int fd;

	(void)state;
	make_dir("sticky", 01777, 0, 0);
	make_dir("open", 0777, 0, 0);
	mt_as_user(MT_UID1, MT_GID1, child_sticky_owner_creates, NULL);
	fd = CHECK_SYS(open("sticky/theirs2", O_CREAT | O_WRONLY, 0666));
	close(fd);
	CHECK_SYS(chown("sticky/theirs2", MT_UID2, MT_GID2));
	mt_as_user(MT_UID2, MT_GID2, child_sticky_other, NULL);
	CHECK(access("sticky/mine", F_OK) == 0, "the sticky bit did not "
	      "protect another user's file");
	CHECK_ERRNO(access("open/mine", F_OK), ENOENT);
	mt_as_user(MT_UID1, MT_GID1, child_sticky_owner_removes, NULL);
	CHECK(mode_of("sticky") == 01777, "sticky dir mode %o",
	      mode_of("sticky"));
}

static void child_create_in_sgid_dir(void *arg)
{
	int fd;

	(void)arg;
	fd = CHILD_SYS(open("g/byuser", O_CREAT | O_WRONLY, 0644));
	close(fd);
	fd = CHILD_SYS(open("plain/byuser", O_CREAT | O_WRONLY, 0644));
	close(fd);
	CHILD_SYS(mkdir("plain/userdir", 0755));
}

static void setgid_dir_propagates_group(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	make_dir("g", 02777, 0, 4242);
	make_dir("plain", 0777, 0, 4242);
	fd = CHECK_SYS(open("g/f", O_CREAT | O_WRONLY, 0644));
	close(fd);
	CHECK_SYS(mkdir("g/sub", 0755));
	st = mt_lstat("g/f");
	CHECK(st.st_gid == 4242, "file in a set-group-ID directory has gid "
	      "%d, expected 4242", (int)st.st_gid);
	st = mt_lstat("g/sub");
	CHECK(st.st_gid == 4242 && (st.st_mode & S_ISGID),
	      "subdirectory of a set-group-ID directory has gid %d mode %o",
	      (int)st.st_gid, st.st_mode & 07777);
	mt_as_user(MT_UID1, MT_GID1, child_create_in_sgid_dir, NULL);
	st = mt_lstat("g/byuser");
	CHECK(st.st_uid == MT_UID1 && st.st_gid == 4242,
	      "user's file in a set-group-ID directory is %d:%d",
	      (int)st.st_uid, (int)st.st_gid);
	st = mt_lstat("plain/byuser");
	CHECK(st.st_uid == MT_UID1 && st.st_gid == MT_GID1,
	      "user's new file is owned by %d:%d, expected %d:%d",
	      (int)st.st_uid, (int)st.st_gid, MT_UID1, MT_GID1);
	st = mt_lstat("plain/userdir");
	CHECK(st.st_uid == MT_UID1 && st.st_gid == MT_GID1,
	      "user's new directory is owned by %d:%d", (int)st.st_uid,
	      (int)st.st_gid);
}

static void umask_applied_at_create(void **state)
{
	int fd;

	(void)state;
	umask(027);
	fd = CHECK_SYS(open("f", O_CREAT | O_WRONLY, 0666));
	close(fd);
	CHECK_SYS(mkdir("d", 0777));
	CHECK_SYS(mkfifo("p", 0666));
	CHECK_SYS(mknod("n", S_IFREG | 0777, 0));
	CHECK_SYS(symlink("f", "l"));
	CHECK(mode_of("f") == 0640, "file mode %o under umask 027",
	      mode_of("f"));
	CHECK(mode_of("d") == 0750, "directory mode %o under umask 027",
	      mode_of("d"));
	CHECK(mode_of("p") == 0640, "FIFO mode %o under umask 027",
	      mode_of("p"));
	CHECK(mode_of("n") == 0750, "mknod mode %o under umask 027",
	      mode_of("n"));
	CHECK(mode_of("l") == 0777, "symlink mode %o", mode_of("l"));
	umask(0);
	fd = CHECK_SYS(open("g", O_CREAT | O_WRONLY, 0777));
	close(fd);
	CHECK(mode_of("g") == 0777, "file mode %o under umask 0",
	      mode_of("g"));
	/* chmod ignores the umask. */
	umask(077);
	CHECK_SYS(chmod("f", 0666));
	CHECK(mode_of("f") == 0666, "chmod under umask 077 gave %o",
	      mode_of("f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(other_user_is_denied_by_mode_bits),
		MT_CASE(owner_and_group_classes_apply_in_order),
		MT_CASE(chmod_chown_utimes_of_others_file_fail),
		MT_CASE(setuid_setgid_cleared_by_non_owner_write),
		MT_CASE(chown_clears_setuid_setgid),
		MT_CASE(sticky_dir_keeps_others_from_removing),
		MT_CASE(setgid_dir_propagates_group),
		MT_CASE(umask_applied_at_create),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
