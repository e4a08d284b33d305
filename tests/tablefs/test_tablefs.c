/*
 * test_tablefs.c - tablefs's core called in-process, no kernel in between.
 *
 * Each case makes a fresh filesystem in a temporary RocksDB directory,
 * drives tfs_* calls, and where it changes things ends with fsck clean.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/tablefs/tablefs.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

struct fixture {
	char dir[64];
	char uri[96];
	struct tfs *fs;
	struct tfs_cred cred;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mixfs_err err = { 0 };
	int ret;

	strcpy(f->dir, "/tmp/mixfs-tfs-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->uri, sizeof(f->uri), "rocksdb:%s/db", f->dir);
	ret = tfs_mkfs(f->uri, 0, false, &err);
	if (ret) {
		fprintf(stderr, "mkfs: %s\n", mixfs_err_msg(&err, ret));
		return -1;
	}
	ret = tfs_open(f->uri, NULL, false, &f->fs, &err);
	if (ret) {
		fprintf(stderr, "open: %s\n", mixfs_err_msg(&err, ret));
		return -1;
	}
	f->cred.uid = 1000;
	f->cred.gid = 1000;
	*state = f;
	return 0;
}

static void assert_fsck_clean(struct fixture *f)
{
	struct fsd_buf out = { 0 };
	struct mixfs_err err = { 0 };
	int ret;

	tfs_close(f->fs);
	f->fs = NULL;
	ret = tfs_fsck(f->uri, false, &out, &err);
	if (ret != 0)
		fail_msg("fsck found %d problems: %.*s%s", ret, (int)out.len,
			 out.data ? out.data : "", mixfs_err_msg(&err, ret));
	fsd_buf_release(&out);
	assert_int_equal(tfs_open(f->uri, NULL, false, &f->fs, &err), 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	tfs_close(f->fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static uint64_t mk(struct fixture *f, uint64_t parent, const char *name,
		   mode_t mode)
{
	struct stat st;
	int ret;

	if (S_ISDIR(mode))
		ret = tfs_mkdir(f->fs, parent, name, mode & 07777, &f->cred,
				&st);
	else
		ret = tfs_mknod(f->fs, parent, name, mode, 0, &f->cred, &st);
	if (ret)
		fail_msg("creating %s: %s", name, strerror(-ret));
	return st.st_ino;
}

static void root_is_an_empty_directory(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(tfs_getattr(f->fs, TFS_ROOT_INO, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "x", &st), -ENOENT);
}

static void create_then_lookup_finds_same_inode(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "a", S_IFREG | 0640);
	struct stat st;

	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "a", &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(tfs_mknod(f->fs, TFS_ROOT_INO, "a", S_IFREG | 0600, 0,
				   &f->cred, &st), -EEXIST);
	assert_fsck_clean(f);
}

static void names_too_long_or_invalid_are_refused(void **state)
{
	struct fixture *f = *state;
	char name[300];
	struct stat st;

	memset(name, 'n', 255);
	name[255] = '\0';
	mk(f, TFS_ROOT_INO, name, S_IFREG | 0600);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(tfs_mknod(f->fs, TFS_ROOT_INO, name, S_IFREG | 0600,
				   0, &f->cred, &st), -ENAMETOOLONG);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, name, &st),
			 -ENAMETOOLONG);
	assert_int_not_equal(tfs_mkdir(f->fs, TFS_ROOT_INO, "a/b", 0755,
				       &f->cred, &st), 0);
}

static void small_write_stays_inline_and_reads_back(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "s", S_IFREG | 0644);
	char buf[64];
	struct stat st;

	assert_int_equal(tfs_write(f->fs, ino, 0, "hello", 5), 5);
	assert_int_equal(tfs_write(f->fs, ino, 10, "world", 5), 5);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_size, 15);
	assert_int_equal(tfs_read(f->fs, ino, 0, buf, sizeof(buf)), 15);
	assert_memory_equal(buf, "hello\0\0\0\0\0world", 15);
	assert_fsck_clean(f);
}

static void growing_past_inline_limit_moves_data_to_object(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "big", S_IFREG | 0644);
	size_t n = 3 * 1024 * 1024 + 17;
	char *data = malloc(n), *back = malloc(n);
	struct stat st;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 31 + 7);
	assert_int_equal(tfs_write(f->fs, ino, 0, data, 100), 100);
	for (size_t off = 100; off < n; off += 65536) {
		size_t len = n - off < 65536 ? n - off : 65536;

		assert_int_equal(tfs_write(f->fs, ino, off, data + off, len),
				 (ssize_t)len);
	}
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_size, n);
	assert_true(st.st_blocks >= (blkcnt_t)(n / 512));
	assert_int_equal(tfs_read(f->fs, ino, 0, back, n), (ssize_t)n);
	assert_memory_equal(back, data, n);
	assert_fsck_clean(f);
	/* and after a reopen */
	memset(back, 0, n);
	assert_int_equal(tfs_read(f->fs, ino, 0, back, n), (ssize_t)n);
	assert_memory_equal(back, data, n);
	free(data);
	free(back);
}

static void truncate_down_then_up_reads_zeros(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "t", S_IFREG | 0644);
	char data[10000], back[10000];
	struct stat attr, st;

	memset(data, 'x', sizeof(data));
	assert_int_equal(tfs_write(f->fs, ino, 0, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	memset(&attr, 0, sizeof(attr));
	attr.st_size = 100;
	assert_int_equal(tfs_setattr(f->fs, ino, &attr, FUSE_SET_ATTR_SIZE,
				     &st), 0);
	assert_int_equal(st.st_size, 100);
	attr.st_size = 9000;
	assert_int_equal(tfs_setattr(f->fs, ino, &attr, FUSE_SET_ATTR_SIZE,
				     &st), 0);
	assert_int_equal(tfs_read(f->fs, ino, 0, back, sizeof(back)), 9000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(back[i], 'x');
	for (int i = 100; i < 9000; i++)
		if (back[i] != 0)
			fail_msg("byte %d is %d after truncate down and up", i,
				 back[i]);
	assert_fsck_clean(f);
}

static off_t seek(struct fixture *f, uint64_t ino, off_t off, int whence)
{
	off_t out = -1;
	int ret = tfs_lseek(f->fs, ino, off, whence, &out);

	return ret ? ret : out;
}

/* Holes are found in files with an object and in inline files alike. */
static void seek_data_and_hole_find_the_holes(void **state)
{
	struct fixture *f = *state;
	uint64_t big = mk(f, TFS_ROOT_INO, "sparse", S_IFREG | 0644);
	uint64_t small = mk(f, TFS_ROOT_INO, "small", S_IFREG | 0644);
	const off_t b = 4 << 20, size = 8 << 20;
	struct stat attr, st;
	char data[5000];
	off_t h;

	memset(data, 'x', sizeof(data));
	assert_int_equal(tfs_write(f->fs, big, 0, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	assert_int_equal(tfs_write(f->fs, big, b, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	memset(&attr, 0, sizeof(attr));
	attr.st_size = size;
	assert_int_equal(tfs_setattr(f->fs, big, &attr, FUSE_SET_ATTR_SIZE,
				     &st), 0);
	assert_int_equal(seek(f, big, 0, SEEK_DATA), 0);
	h = seek(f, big, 0, SEEK_HOLE);
	if (h < (off_t)sizeof(data) || h >= b)
		fail_msg("SEEK_HOLE from 0 is %lld, data at [0, 5000) and "
			 "[4 MiB, 4 MiB + 5000)", (long long)h);
	assert_int_equal(seek(f, big, h, SEEK_DATA), b);
	h = seek(f, big, b, SEEK_HOLE);
	if (h < b + (off_t)sizeof(data) || h >= size)
		fail_msg("SEEK_HOLE from 4 MiB is %lld", (long long)h);
	assert_int_equal(seek(f, big, b + (1 << 20), SEEK_DATA), -ENXIO);
	assert_int_equal(seek(f, big, size - 1, SEEK_HOLE), size - 1);
	assert_int_equal(seek(f, big, size, SEEK_HOLE), -ENXIO);
	assert_int_equal(seek(f, big, -1, SEEK_DATA), -ENXIO);

	/* Inline: 100 bytes kept, then a hole up to the size. */
	assert_int_equal(tfs_write(f->fs, small, 0, data, 100), 100);
	attr.st_size = 3000;
	assert_int_equal(tfs_setattr(f->fs, small, &attr, FUSE_SET_ATTR_SIZE,
				     &st), 0);
	assert_int_equal(seek(f, small, 0, SEEK_DATA), 0);
	h = seek(f, small, 0, SEEK_HOLE);
	if (h < 100 || h > 3000)
		fail_msg("inline SEEK_HOLE from 0 is %lld", (long long)h);
	assert_int_equal(seek(f, small, 3000, SEEK_DATA), -ENXIO);
	assert_int_equal(seek(f, TFS_ROOT_INO, 0, SEEK_DATA), -EISDIR);
	assert_fsck_clean(f);
}

static void unlink_removes_name_and_data(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "u", S_IFREG | 0644);
	char data[20000] = { 1 };
	struct stat st;

	assert_int_equal(tfs_write(f->fs, ino, 0, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "u"), 0);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "u", &st), -ENOENT);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "u"), -ENOENT);
	assert_fsck_clean(f);
}

static void unlinked_open_file_lives_until_closed(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "o", S_IFREG | 0644);
	char buf[8];
	struct stat st;

	assert_int_equal(tfs_open_file(f->fs, ino), 0);
	assert_int_equal(tfs_write(f->fs, ino, 0, "data", 4), 4);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "o"), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(tfs_read(f->fs, ino, 0, buf, 8), 4);
	assert_true(tfs_close_file(f->fs, ino));
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
	assert_fsck_clean(f);
}

static void unlinked_open_file_is_freed_at_next_mount(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "o", S_IFREG | 0644);
	struct stat st;

	assert_int_equal(tfs_open_file(f->fs, ino), 0);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "o"), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_fsck_clean(f);	/* the close and reopen frees the orphan */
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
}

static void file_nobody_references_goes_with_its_last_name(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "o", S_IFREG | 0644);
	struct stat st;

	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "o"), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
	assert_fsck_clean(f);
}

/* The kernel may open an inode it looked up after a rename took its
 * name: it must still be there until the kernel forgets it. */
static void file_known_to_the_kernel_lives_until_forgotten(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "o", S_IFREG | 0644);
	uint64_t big = mk(f, TFS_ROOT_INO, "big", S_IFREG | 0644);
	static char data[20000];
	char buf[8];
	struct stat st;

	memset(data, 'b', sizeof(data));
	assert_int_equal(tfs_write(f->fs, ino, 0, "old", 3), 3);
	assert_int_equal(tfs_write(f->fs, big, 0, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	tfs_ref(f->fs, ino);	/* looked up, not open */
	tfs_ref(f->fs, big);
	mk(f, TFS_ROOT_INO, "new", S_IFREG | 0644);
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "new", TFS_ROOT_INO,
				    "o", 0), 0);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "big"), 0);
	/* The open that lost the race finds the file it looked up. */
	assert_int_equal(tfs_open_file(f->fs, ino), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(tfs_read(f->fs, ino, 0, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "old", 3);
	assert_int_equal(tfs_read(f->fs, big, 0, buf, sizeof(buf)), 8);
	assert_false(tfs_forget(f->fs, ino, 1));	/* still open */
	assert_true(tfs_close_file(f->fs, ino));
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
	assert_true(tfs_forget(f->fs, big, 1));
	assert_int_equal(tfs_getattr(f->fs, big, &st), -ENOENT);
	assert_fsck_clean(f);
}

/* A crash (here: a close without the forget) leaves the orphan to the
 * next mount. */
static void looked_up_orphan_is_freed_at_next_mount(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "o", S_IFREG | 0644);
	struct stat st;

	tfs_ref(f->fs, ino);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "o"), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_fsck_clean(f);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), -ENOENT);
}

static void removed_directory_lives_until_forgotten(void **state)
{
	struct fixture *f = *state;
	uint64_t d = mk(f, TFS_ROOT_INO, "d", S_IFDIR | 0755);
	struct stat st;

	tfs_ref(f->fs, d);	/* e.g. someone's working directory */
	assert_int_equal(tfs_rmdir(f->fs, TFS_ROOT_INO, "d"), 0);
	assert_int_equal(tfs_getattr(f->fs, d, &st), 0);
	assert_true(tfs_forget(f->fs, d, 1));
	assert_int_equal(tfs_getattr(f->fs, d, &st), -ENOENT);
	assert_fsck_clean(f);
}

static void mkdir_rmdir_keep_link_counts(void **state)
{
	struct fixture *f = *state;
	uint64_t d = mk(f, TFS_ROOT_INO, "d", S_IFDIR | 0755);
	struct stat st;

	mk(f, d, "sub", S_IFDIR | 0755);
	mk(f, d, "file", S_IFREG | 0644);
	assert_int_equal(tfs_getattr(f->fs, TFS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(tfs_getattr(f->fs, d, &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(tfs_rmdir(f->fs, TFS_ROOT_INO, "d"), -ENOTEMPTY);
	assert_int_equal(tfs_rmdir(f->fs, d, "file"), -ENOTDIR);
	assert_int_equal(tfs_unlink(f->fs, d, "sub"), -EISDIR);
	assert_int_equal(tfs_rmdir(f->fs, d, "sub"), 0);
	assert_int_equal(tfs_unlink(f->fs, d, "file"), 0);
	assert_int_equal(tfs_rmdir(f->fs, TFS_ROOT_INO, "d"), 0);
	assert_int_equal(tfs_getattr(f->fs, TFS_ROOT_INO, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_fsck_clean(f);
}

static void hard_links_count_names(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "a", S_IFREG | 0644);
	uint64_t d = mk(f, TFS_ROOT_INO, "d", S_IFDIR | 0755);
	struct stat st;

	assert_int_equal(tfs_link(f->fs, ino, d, "b", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(tfs_link(f->fs, d, TFS_ROOT_INO, "dl", &st), -EPERM);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "a"), 0);
	assert_int_equal(tfs_lookup(f->fs, d, "b", &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_fsck_clean(f);
}

static void symlink_reads_back_target(void **state)
{
	struct fixture *f = *state;
	char target[TFS_SYMLINK_MAX + 2], buf[TFS_SYMLINK_MAX + 2];
	struct stat st;

	memset(target, 't', TFS_SYMLINK_MAX);
	target[TFS_SYMLINK_MAX] = '\0';
	assert_int_equal(tfs_symlink(f->fs, TFS_ROOT_INO, "l", target,
				     &f->cred, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, TFS_SYMLINK_MAX);
	assert_int_equal(tfs_readlink(f->fs, st.st_ino, buf, sizeof(buf)),
			 TFS_SYMLINK_MAX);
	assert_string_equal(buf, target);
	target[TFS_SYMLINK_MAX] = 't';
	target[TFS_SYMLINK_MAX + 1] = '\0';
	assert_int_equal(tfs_symlink(f->fs, TFS_ROOT_INO, "l2", target,
				     &f->cred, &st), -ENAMETOOLONG);
	assert_fsck_clean(f);
}

static void rename_follows_every_rule(void **state)
{
	struct fixture *f = *state;
	uint64_t a = mk(f, TFS_ROOT_INO, "a", S_IFREG | 0644);
	uint64_t d1 = mk(f, TFS_ROOT_INO, "d1", S_IFDIR | 0755);
	uint64_t d2 = mk(f, TFS_ROOT_INO, "d2", S_IFDIR | 0755);
	uint64_t sub = mk(f, d1, "sub", S_IFDIR | 0755);
	struct stat st;
	uint64_t p;

	mk(f, d2, "full", S_IFDIR | 0755);
	mk(f, TFS_ROOT_INO, "b", S_IFREG | 0644);
	/* file over file replaces it */
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "a", TFS_ROOT_INO,
				    "b", 0), 0);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "b", &st), 0);
	assert_int_equal(st.st_ino, a);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "a", &st), -ENOENT);
	/* type rules */
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "d1", TFS_ROOT_INO,
				    "b", 0), -ENOTDIR);
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "b", TFS_ROOT_INO,
				    "d1", 0), -EISDIR);
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "d1", TFS_ROOT_INO,
				    "d2", 0), -ENOTEMPTY);
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "d1", sub, "x", 0),
			 -EINVAL);
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "b", TFS_ROOT_INO,
				    "d2", RENAME_NOREPLACE), -EEXIST);
	/* a directory moving between parents */
	assert_int_equal(tfs_rename(f->fs, d1, "sub", d2, "sub", 0), 0);
	assert_int_equal(tfs_parent(f->fs, sub, &p), 0);
	assert_int_equal(p, d2);
	assert_int_equal(tfs_getattr(f->fs, d1, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(tfs_getattr(f->fs, d2, &st), 0);
	assert_int_equal(st.st_nlink, 4);
	/* exchange a file and a directory across parents */
	assert_int_equal(tfs_rename(f->fs, TFS_ROOT_INO, "b", d2, "sub",
				    RENAME_EXCHANGE), 0);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "b", &st), 0);
	assert_int_equal(st.st_ino, sub);
	assert_int_equal(tfs_parent(f->fs, sub, &p), 0);
	assert_int_equal(p, TFS_ROOT_INO);
	assert_int_equal(tfs_lookup(f->fs, d2, "sub", &st), 0);
	assert_int_equal(st.st_ino, a);
	assert_fsck_clean(f);
}

struct names {
	char seen[64][16];
	int n;
	uint64_t last;
	int stop_after;
};

static int collect(void *arg, const char *name, uint64_t ino,
		   unsigned char type, uint64_t cookie)
{
	struct names *n = arg;

	(void)ino;
	(void)type;
	if (n->n < 64)
		snprintf(n->seen[n->n], 16, "%s", name);
	n->n++;
	n->last = cookie;
	return n->stop_after && n->n % n->stop_after == 0;
}

static void readdir_resumes_from_cookie_despite_removals(void **state)
{
	struct fixture *f = *state;
	struct names n = { .stop_after = 5 };
	char name[16];
	int ret;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		mk(f, TFS_ROOT_INO, name, S_IFREG | 0644);
	}
	ret = tfs_readdir(f->fs, TFS_ROOT_INO, 1, collect, &n);
	assert_int_equal(n.n, 5);
	assert_true(ret > 0);
	/* remove an entry already seen, and one not yet seen */
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, n.seen[0]), 0);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "f19"), 0);
	n.stop_after = 0;
	assert_int_equal(tfs_readdir(f->fs, TFS_ROOT_INO, n.last, collect, &n),
			 0);
	assert_int_equal(n.n, 19);
	for (int i = 0; i < n.n; i++)
		for (int j = i + 1; j < n.n; j++)
			if (!strcmp(n.seen[i], n.seen[j]))
				fail_msg("%s listed twice", n.seen[i]);
}

static void xattrs_set_get_list_remove(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "x", S_IFREG | 0644);
	char buf[256];

	assert_int_equal(tfs_setxattr(f->fs, ino, "user.a", "1", 1, 0), 0);
	assert_int_equal(tfs_setxattr(f->fs, ino, "user.b", "22", 2, 0), 0);
	assert_int_equal(tfs_setxattr(f->fs, ino, "user.a", "3", 1,
				      XATTR_CREATE), -EEXIST);
	assert_int_equal(tfs_setxattr(f->fs, ino, "user.c", "3", 1,
				      XATTR_REPLACE), -ENODATA);
	assert_int_equal(tfs_getxattr(f->fs, ino, "user.b", buf, sizeof(buf)),
			 2);
	assert_memory_equal(buf, "22", 2);
	assert_int_equal(tfs_getxattr(f->fs, ino, "user.b", buf, 1), -ERANGE);
	assert_int_equal(tfs_getxattr(f->fs, ino, "user.b", NULL, 0), 2);
	assert_int_equal(tfs_listxattr(f->fs, ino, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "user.a\0user.b\0", 14);
	assert_int_equal(tfs_removexattr(f->fs, ino, "user.a"), 0);
	assert_int_equal(tfs_getxattr(f->fs, ino, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.posix_acl_access",
				      "x", 1, 0), -EOPNOTSUPP);
	assert_int_equal(tfs_unlink(f->fs, TFS_ROOT_INO, "x"), 0);
	assert_fsck_clean(f);
}

/* What open(O_TRUNC) by an unprivileged caller asks: set-user-ID goes,
 * set-group-ID only where group-execute makes it a privilege. */
static void setattr_kill_bits_clear_setid_as_the_kernel_would(void **state)
{
	struct fixture *f = *state;
	uint64_t a = mk(f, TFS_ROOT_INO, "a", S_IFREG | 06755);
	uint64_t b = mk(f, TFS_ROOT_INO, "b", S_IFREG | 06745);
	int kill = FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID;
	struct stat attr = { .st_size = 0 }, st;

	assert_int_equal(tfs_write(f->fs, a, 0, "data", 4), 4);
	assert_int_equal(tfs_setattr(f->fs, a, &attr,
				     kill | FUSE_SET_ATTR_SIZE, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(tfs_setattr(f->fs, b, &attr, kill, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02745);
	assert_int_equal(tfs_getattr(f->fs, b, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02745);
	assert_fsck_clean(f);
}

/* POSIX: a write across the largest size stores what fits. */
static void write_across_the_largest_size_is_short(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "m", S_IFREG | 0644);
	uint64_t max = OBJSTORE_MAX_SIZE;
	struct stat st;
	char buf[2];

	assert_int_equal(tfs_write(f->fs, ino, max - 1, "XY", 2), 1);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_true((uint64_t)st.st_size == max);
	assert_int_equal(tfs_read(f->fs, ino, max - 1, buf, 2), 1);
	assert_int_equal(buf[0], 'X');
	assert_int_equal(tfs_write(f->fs, ino, max, "Y", 1), -EFBIG);
	assert_int_equal(tfs_write(f->fs, ino, max + 1, "Y", 1), -EFBIG);
	assert_int_equal(tfs_write(f->fs, ino, max, "", 0), 0);
	assert_int_equal(tfs_fallocate(f->fs, ino, 0, max - 1, 2), -EFBIG);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_true((uint64_t)st.st_size == max);
	assert_fsck_clean(f);
}

/* An ACL in xattr form from (tag, perm, id) triples; returns its size. */
static size_t acl_bytes(unsigned char *buf, const unsigned (*e)[3], size_t n)
{
	uint32_t version = 2;	/* little-endian hosts only, as the kernel's */

	memcpy(buf, &version, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = (uint16_t)e[i][0], perm = (uint16_t)e[i][1];
		uint32_t id = e[i][2];

		memcpy(buf + 4 + i * 8, &tag, 2);
		memcpy(buf + 6 + i * 8, &perm, 2);
		memcpy(buf + 8 + i * 8, &id, 4);
	}
	return 4 + n * 8;
}

/* -o acl: an access ACL sets the mode and chmod the ACL; a default ACL
 * is inherited in place of the umask. */
static void acls_tie_to_the_mode_and_are_inherited(void **state)
{
	struct fixture *f = *state;
	static const unsigned named[][3] = {
		{ 1, 6, 0 }, { 2, 4, 4001 }, { 4, 0, 0 }, { 0x10, 4, 0 },
		{ 0x20, 0, 0 },
	};
	static const unsigned plain[][3] = {
		{ 1, 7, 0 }, { 4, 5, 0 }, { 0x20, 1, 0 },
	};
	static const unsigned bad[][3] = {	/* named entry, no mask */
		{ 1, 6, 0 }, { 2, 4, 4001 }, { 4, 0, 0 }, { 0x20, 0, 0 },
	};
	unsigned char acl[64], back[64];
	size_t n;
	uint64_t ino, d, sub;
	struct stat attr = { .st_mode = 0600 }, st;

	f->fs->acl = true;
	ino = mk(f, TFS_ROOT_INO, "f", S_IFREG | 0600);
	n = acl_bytes(acl, named, 5);
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.posix_acl_access",
				      acl, n, 0), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);	/* mask in the group bits */
	/* chmod rewrites the mask */
	assert_int_equal(tfs_setattr(f->fs, ino, &attr, FUSE_SET_ATTR_MODE,
				     &st), 0);
	assert_int_equal(tfs_getxattr(f->fs, ino, "system.posix_acl_access",
				      back, sizeof(back)), (ssize_t)n);
	assert_int_equal(back[4 + 3 * 8 + 2], 0);	/* mask perm */
	/* an ACL the mode says all of sets the mode and is not kept */
	n = acl_bytes(acl, plain, 3);
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.posix_acl_access",
				      acl, n, 0), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0751);
	assert_int_equal(tfs_getxattr(f->fs, ino, "system.posix_acl_access",
				      back, sizeof(back)), -ENODATA);
	n = acl_bytes(acl, bad, 4);
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.posix_acl_access",
				      acl, n, 0), -EINVAL);
	n = acl_bytes(acl, named, 5);	/* default ACLs only on directories */
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.posix_acl_default",
				      acl, n, 0), -EACCES);
	assert_int_equal(tfs_setxattr(f->fs, ino, "system.other", "x", 1, 0),
			 -EOPNOTSUPP);

	/* Without a default ACL the umask applies; with one, the ACL. */
	d = mk(f, TFS_ROOT_INO, "d", S_IFDIR | 0755);
	assert_int_equal(tfs_create_umask(f->fs, d, "u", 0666, 022, &f->cred,
					  &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_true(tfs_close_file(f->fs, st.st_ino) == false);
	n = acl_bytes(acl, named, 5);
	assert_int_equal(tfs_setxattr(f->fs, d, "system.posix_acl_default",
				      acl, n, 0), 0);
	assert_int_equal(tfs_create_umask(f->fs, d, "i", 0666, 077, &f->cred,
					  &st), 0);
	assert_true(tfs_close_file(f->fs, st.st_ino) == false);
	assert_int_equal(st.st_mode & 0777, 0640);	/* u::rw- mask r-- o::--- */
	assert_int_equal(tfs_getxattr(f->fs, st.st_ino,
				      "system.posix_acl_access", back,
				      sizeof(back)), (ssize_t)n);
	assert_int_equal(tfs_mkdir_umask(f->fs, d, "sub", 0777, 077, &f->cred,
					 &st), 0);
	sub = st.st_ino;
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(tfs_getxattr(f->fs, sub, "system.posix_acl_default",
				      back, sizeof(back)), (ssize_t)n);
	assert_memory_equal(back, acl, n);
	assert_fsck_clean(f);
}

static void punch_hole_reads_zeros_and_keeps_size(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = mk(f, TFS_ROOT_INO, "p", S_IFREG | 0644);
	static char data[300000], back[300000];
	struct stat st;

	memset(data, 'p', sizeof(data));
	assert_int_equal(tfs_write(f->fs, ino, 0, data, sizeof(data)),
			 (ssize_t)sizeof(data));
	assert_int_equal(tfs_fallocate(f->fs, ino,
				       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       70000, 100000), 0);
	assert_int_equal(tfs_getattr(f->fs, ino, &st), 0);
	assert_int_equal(st.st_size, sizeof(data));
	assert_int_equal(tfs_read(f->fs, ino, 0, back, sizeof(back)),
			 (ssize_t)sizeof(back));
	memset(data + 70000, 0, 100000);
	assert_memory_equal(back, data, sizeof(data));
	assert_fsck_clean(f);
}

static void mkfs_refuses_to_overwrite_without_force(void **state)
{
	struct fixture *f = *state;
	struct mixfs_err err = { 0 };

	tfs_close(f->fs);
	f->fs = NULL;
	assert_int_equal(tfs_mkfs(f->uri, 0, false, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(tfs_open(f->uri, NULL, false, &f->fs, &err), 0);
}

static void second_open_fails_busy(void **state)
{
	struct fixture *f = *state;
	struct mixfs_err err = { 0 };
	struct tfs *again = NULL;

	assert_int_equal(tfs_open(f->uri, NULL, false, &again, &err), -EBUSY);
	assert_null(again);
}

static void data_survives_reopen(void **state)
{
	struct fixture *f = *state;
	uint64_t d = mk(f, TFS_ROOT_INO, "keep", S_IFDIR | 0700);
	uint64_t ino = mk(f, d, "file", S_IFREG | 0600);
	char buf[16];
	struct stat st;

	assert_int_equal(tfs_write(f->fs, ino, 0, "persist", 7), 7);
	assert_int_equal(tfs_fsync(f->fs, ino, false), 0);
	assert_fsck_clean(f);
	assert_int_equal(tfs_lookup(f->fs, TFS_ROOT_INO, "keep", &st), 0);
	assert_int_equal(tfs_lookup(f->fs, st.st_ino, "file", &st), 0);
	assert_int_equal(tfs_read(f->fs, st.st_ino, 0, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "persist", 7);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(root_is_an_empty_directory),
		T(create_then_lookup_finds_same_inode),
		T(names_too_long_or_invalid_are_refused),
		T(small_write_stays_inline_and_reads_back),
		T(growing_past_inline_limit_moves_data_to_object),
		T(truncate_down_then_up_reads_zeros),
		T(seek_data_and_hole_find_the_holes),
		T(unlink_removes_name_and_data),
		T(unlinked_open_file_lives_until_closed),
		T(unlinked_open_file_is_freed_at_next_mount),
		T(file_nobody_references_goes_with_its_last_name),
		T(file_known_to_the_kernel_lives_until_forgotten),
		T(looked_up_orphan_is_freed_at_next_mount),
		T(removed_directory_lives_until_forgotten),
		T(mkdir_rmdir_keep_link_counts),
		T(hard_links_count_names),
		T(symlink_reads_back_target),
		T(rename_follows_every_rule),
		T(readdir_resumes_from_cookie_despite_removals),
		T(xattrs_set_get_list_remove),
		T(setattr_kill_bits_clear_setid_as_the_kernel_would),
		T(write_across_the_largest_size_is_short),
		T(acls_tie_to_the_mode_and_are_inherited),
		T(punch_hole_reads_zeros_and_keeps_size),
		T(mkfs_refuses_to_overwrite_without_force),
		T(second_open_fails_busy),
		T(data_survives_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
