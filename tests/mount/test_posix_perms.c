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
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
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

static void child_no_write_on_dir(void *arg)
{
	(void)arg;
	/* ro/ is 0555 and root's; every change of its entries is refused. */
	CHILD_ERRNO(open("ro/new", O_CREAT | O_WRONLY, 0644), EACCES);
	CHILD_ERRNO(creat("ro/new", 0644), EACCES);
	CHILD_ERRNO(mkdir("ro/newdir", 0755), EACCES);
	CHILD_ERRNO(mknod("ro/fifo", S_IFIFO | 0644, 0), EACCES);
	CHILD_ERRNO(symlink("x", "ro/sym"), EACCES);
	CHILD_ERRNO(link("mine", "ro/link"), EACCES);
	CHILD_ERRNO(unlink("ro/file"), EACCES);
	CHILD_ERRNO(rmdir("ro/sub"), EACCES);
	CHILD_ERRNO(rename("ro/file", "rw/file"), EACCES);	/* out of */
	CHILD_ERRNO(rename("mine", "ro/mine"), EACCES);	/* into */
	CHILD_ERRNO(rename("ro/file", "ro/file2"), EACCES);	/* within */
	CHILD_ERRNO(renameat2(AT_FDCWD, "rw/x", AT_FDCWD, "ro/file",
			      RENAME_EXCHANGE), EACCES);
	/* Moving a directory to another parent rewrites its "..": that
	 * needs write permission on the directory itself. */
	CHILD_ERRNO(rename("rw/rootsub", "rw2/rootsub"), EACCES);
	CHILD_SYS(rename("rw/rootsub", "rw/rootsub2"));	/* same parent */
	/* The file inside stays writable: only the directory is locked. */
	CHILD_SYS(truncate("ro/file", 1));
}

static void every_entry_change_in_a_read_only_dir_fails_eacces(void **state)
{
	(void)state;
	make_dir("ro", 0777, 0, 0);
	make_file("ro/file", 0666, 0, 0);
	make_dir("ro/sub", 0777, 0, 0);
	CHECK_SYS(chmod("ro", 0555));
	make_dir("rw", 0777, 0, 0);
	make_dir("rw2", 0777, 0, 0);
	make_dir("rw/rootsub", 0755, 0, 0);
	make_file("rw/x", 0644, MT_UID1, MT_GID1);
	CHECK_SYS(chmod(".", 0777));
	make_file("mine", 0644, MT_UID1, MT_GID1);
	mt_as_user(MT_UID1, MT_GID1, child_no_write_on_dir, NULL);
	CHECK(access("ro/file", F_OK) == 0 && access("ro/sub", F_OK) == 0,
	      "a refused unlink or rmdir removed an entry");
	CHECK(access("ro/new", F_OK) < 0 && access("ro/mine", F_OK) < 0 &&
	      access("rw/file", F_OK) < 0, "a refused create or rename "
	      "made an entry");
	CHECK(mt_lstat("ro/file").st_size == 1, "truncate of a writable file "
	      "in a read-only directory did not happen");
}

static void child_xattrs(void *arg)
{
	char v[8];

	(void)arg;
	CHILD_ERRNO(setxattr("roots", "user.a", "1", 1, 0), EACCES);
	CHILD_ERRNO(removexattr("roots", "user.r"), EACCES);
	CHILD_SYS(getxattr("roots", "user.r", v, sizeof(v)));
	CHILD_ERRNO(getxattr("private", "user.r", v, sizeof(v)), EACCES);
	CHILD_SYS(setxattr("mine", "user.a", "1", 1, 0));
	CHILD_ERRNO(setxattr("mine", "trusted.a", "1", 1, 0), EPERM);
	/* trusted.* is invisible without CAP_SYS_ADMIN. */
	CHILD_ERRNO(getxattr("roots", "trusted.t", v, sizeof(v)), ENODATA);
	{
		char list[256];
		ssize_t n = listxattr("roots", list, sizeof(list));

		CHILD_CHECK(n >= 0, "listxattr: %s", mt_errname(errno));
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
			CHILD_CHECK(strncmp(list + i, "trusted.", 8),
				    "an unprivileged listxattr shows %s",
				    list + i);
		}
	}
}

static void xattrs_need_write_access_and_trusted_needs_root(void **state)
{
	(void)state;
	make_file("roots", 0644, 0, 0);
	make_file("private", 0600, 0, 0);
	make_file("mine", 0644, MT_UID1, MT_GID1);
	CHECK_SYS(setxattr("roots", "user.r", "r", 1, 0));
	CHECK_SYS(setxattr("private", "user.r", "r", 1, 0));
	CHECK_SYS(setxattr("roots", "trusted.t", "t", 1, 0));
	mt_as_user(MT_UID1, MT_GID1, child_xattrs, NULL);
	CHECK_ERRNO(getxattr("roots", "user.a", NULL, 0), ENODATA);
}

/* Run @fn as MT_UID1 with primary group MT_GID1 and supplementary groups
 * 4242 and 4343 (mt_as_user drops them all). */
static void child_with_groups(void *arg)
{
	static const gid_t groups[] = { 4242, 4343 };
	void (*fn)(void) = (void (*)(void))arg;

	CHILD_SYS(setgroups(2, groups));
	CHILD_SYS(setgid(MT_GID1));
	CHILD_SYS(setuid(MT_UID1));
	fn();
}

static void supplementary_checks(void)
{
	struct stat st;
	int fd;

	/* Group bits apply through a supplementary group. */
	fd = CHILD_SYS(open("grp_r", O_RDONLY));
	close(fd);
	CHILD_ERRNO(open("grp_r", O_WRONLY), EACCES);
	CHILD_ERRNO(open("other_grp", O_RDONLY), EACCES);
	/* A directory writable by a supplementary group. */
	fd = CHILD_SYS(open("gdir/made", O_CREAT | O_WRONLY, 0664));
	close(fd);
	CHILD_SYS(stat("gdir/made", &st));
	CHILD_CHECK(st.st_gid == MT_GID1, "a new file takes the primary "
		    "group, got %d", (int)st.st_gid);
	/* The owner may give a file to any group it is in, no other. */
	CHILD_SYS(chown("mine", -1, 4343));
	CHILD_ERRNO(chown("mine", -1, 4444), EPERM);
	/* chmod g+s by an owner outside the file's group drops S_ISGID. */
	CHILD_SYS(chmod("outside", 02755));
	CHILD_SYS(stat("outside", &st));
	CHILD_CHECK(!(st.st_mode & S_ISGID), "set-group-ID kept by an owner "
		    "outside the group: mode %o", st.st_mode & 07777);
	CHILD_SYS(chmod("mine", 02755));	/* 4343: a group of ours */
	CHILD_SYS(stat("mine", &st));
	CHILD_CHECK(st.st_mode & S_ISGID, "set-group-ID dropped for an owner "
		    "in the group: mode %o", st.st_mode & 07777);
}

static void supplementary_groups_grant_group_access(void **state)
{
	(void)state;
	make_file("grp_r", 0640, 0, 4242);
	make_file("other_grp", 0640, 0, 4444);
	make_dir("gdir", 0770, 0, 4343);
	make_file("mine", 0644, MT_UID1, MT_GID1);
	make_file("outside", 0755, MT_UID1, 4444);
	mt_as_user(0, 0, child_with_groups, (void *)supplementary_checks);
	CHECK(mt_lstat("mine").st_gid == 4343, "chgrp to a supplementary "
	      "group did not happen");
}

static void child_truncate_and_chown(void *arg)
{
	int fd;

	(void)arg;
	/* O_TRUNC by a non-owner with write permission clears set-user-ID. */
	fd = CHILD_SYS(open("suid_t", O_WRONLY | O_TRUNC));
	close(fd);
	CHILD_SYS(truncate("suid_t2", 1));
	/* The owner's chgrp to its own group clears both. */
	CHILD_SYS(chown("own_sid", -1, MT_GID1));
}

static void setid_cleared_by_truncate_and_owner_chgrp(void **state)
{
	(void)state;
	make_file("suid_t", 04777, 0, 0);
	make_file("suid_t2", 04777, 0, 0);
	make_file("own_sid", 06755, MT_UID1, 4242);
	mt_as_user(MT_UID1, MT_GID1, child_truncate_and_chown, NULL);
	CHECK(mode_of("suid_t2") == 0777, "truncate by another user left mode "
	      "%o", mode_of("suid_t2"));
	CHECK(mode_of("suid_t") == 0777, "open(O_TRUNC) by another user left "
	      "mode %o", mode_of("suid_t"));
	CHECK(mode_of("own_sid") == 0755, "the owner's chgrp left mode %o",
	      mode_of("own_sid"));
}

static void child_sticky_more(void *arg)
{
	(void)arg;
	/* In a sticky directory another's directory cannot be removed or
	 * moved, and another's file cannot be replaced by rename. */
	CHILD_ERRNO(rmdir("sticky/theirdir"), EPERM);
	CHILD_ERRNO(rename("sticky/theirdir", "sticky/moved"), EPERM);
	CHILD_ERRNO(rename("sticky/mine", "sticky/theirs"), EPERM);
	CHILD_SYS(rename("sticky/mine", "sticky/mine2"));
}

static void child_sticky_dir_owner(void *arg)
{
	(void)arg;
	/* The directory's owner removes anyone's entries. */
	CHILD_SYS(unlink("owned/theirs"));
	CHILD_SYS(rmdir("owned/theirdir"));
}

static void sticky_dir_protects_dirs_and_rename_targets(void **state)
{
	int fd;

	(void)state;
	make_dir("sticky", 01777, 0, 0);
	make_dir("sticky/theirdir", 0777, MT_UID2, MT_GID2);
	make_file("sticky/theirs", 0666, MT_UID2, MT_GID2);
	make_file("sticky/mine", 0644, MT_UID1, MT_GID1);
	mt_as_user(MT_UID1, MT_GID1, child_sticky_more, NULL);
	CHECK(access("sticky/theirdir", F_OK) == 0 &&
	      access("sticky/theirs", F_OK) == 0, "the sticky bit did not "
	      "protect another user's entries");
	make_dir("owned", 01777, MT_UID1, MT_GID1);
	fd = CHECK_SYS(open("owned/theirs", O_CREAT | O_WRONLY, 0644));
	close(fd);
	CHECK_SYS(chown("owned/theirs", MT_UID2, MT_GID2));
	make_dir("owned/theirdir", 0755, MT_UID2, MT_GID2);
	mt_as_user(MT_UID1, MT_GID1, child_sticky_dir_owner, NULL);
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
		MT_CASE(every_entry_change_in_a_read_only_dir_fails_eacces),
		MT_CASE(xattrs_need_write_access_and_trusted_needs_root),
		MT_CASE(supplementary_groups_grant_group_access),
		MT_CASE(setid_cleared_by_truncate_and_owner_chgrp),
		MT_CASE(sticky_dir_protects_dirs_and_rename_targets),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
