/*
 * fuzz_tablefs.c - tablefs on a RocksDB database somebody else wrote:
 * its records (superblock, next-inode counter, inode records with inline
 * data and symlink targets, directory entries of dirlib's kv strategy,
 * xattrs, orphan marks) and the rocksdb: object store's records in the
 * same database (store header, counters, object meta, data chunks,
 * attributes).
 *
 * The decoders are static, so the target goes through the public path a
 * damaged filesystem meets: it writes the input's records into a fresh
 * database and then
 *   1. checks it with tfs_fsck() (no repair);
 *   2. opens it with tfs_open() (which frees orphans) and walks the tree
 *      from the root: readdir, lookup of every name, getattr, readlink,
 *      read, listxattr and getxattr; then makes, writes (past the inline
 *      size, so data moves to an object), renames and removes a file;
 *   3. repairs it with tfs_fsck(repair);
 *   4. when the repair left nothing, opens and walks it again, makes the
 *      same changes, and checks that it is clean: a repaired filesystem
 *      must be one that tablefs keeps consistent. (When this fails, a
 *      check right after the repair tells whether the repair or tablefs
 *      was wrong; the target leaves that check out to save an open.)
 *
 * Input: records [key length u16 LE][value length u16 LE][key][value].
 * A data-store record ('D', the URI of the file data store) is kept only
 * when it names a mem: store, so that no input makes the target open
 * stores elsewhere on the host. The database lives in $TMPDIR (default
 * /dev/shm, else /tmp), one per process, destroyed before every input.
 *
 * Properties: no crash, leak or sanitizer report; every call returns
 * 0, a count or a negative errno; what readdir lists, lookup finds with
 * the same inode; step 4 as said. Slow (a database per input: a few
 * hundred inputs a second), but it is the real thing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tablefs/tablefs.h"
#include "objstore/objstore_rocksdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WALK_MAX	256

static char db_path[256], db_uri[300];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Plain file removal, not rocksdb_destroy_db(): it also runs at exit,
 * when RocksDB's own static objects may be gone already. */
static void cleanup(void)
{
	nftw(db_path, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (db_path[0])
		return;
	if (!tmp)
		tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
	snprintf(db_path, sizeof(db_path), "%s/mixfs-fuzz-tablefs-%ld", tmp,
		 (long)getpid());
	snprintf(db_uri, sizeof(db_uri), "rocksdb:%s", db_path);
	atexit(cleanup);
}

/* A fresh database holding the input's records. */
static void write_db(const uint8_t *data, size_t size)
{
	rocksdb_options_t *o = objstore_rocksdb_options();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_t *db;
	size_t pos = 0;
	char *e = NULL;

	cleanup();
	rocksdb_options_set_create_if_missing(o, 1);
	rocksdb_options_set_write_buffer_size(o, 4u << 20);
	rocksdb_options_set_manifest_preallocation_size(o, 64u << 10);
	db = rocksdb_open(o, db_path, &e);
	if (e) {
		fprintf(stderr, "fuzz_tablefs: cannot make %s: %s\n", db_path,
			e);
		abort();
	}
	while (size - pos >= 4) {
		size_t kl = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		size_t vl = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
		const char *k = (const char *)data + pos + 4;

		pos += 4;
		if (kl + vl > size - pos)
			break;
		if (kl == 0 || !(kl == 1 && k[0] == 'D' &&
				 (vl < 4 || memcmp(k + 1, "mem:", 4))))
			rocksdb_writebatch_put(b, k, kl, k + kl, vl);
		pos += kl + vl;
	}
	rocksdb_write(db, wo, b, &e);
	if (e)
		abort();
	rocksdb_writebatch_destroy(b);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(db);
	rocksdb_options_destroy(o);
}

struct walk {
	struct tfs *fs;
	uint64_t queue[WALK_MAX];
	size_t n, seen;
	uint64_t parent;
};

static int walk_entry(void *arg, const char *name, uint64_t ino,
		      unsigned char type, uint64_t cookie)
{
	struct walk *w = arg;
	struct stat st;
	int ret;

	(void)cookie;
	if (++w->seen > 4 * WALK_MAX)
		return 1;
	ret = tfs_lookup(w->fs, w->parent, name, &st);
	if (ret > 0)
		abort();
	if (ret == 0 && st.st_ino != ino)
		abort();	/* readdir and lookup disagree */
	if (type == DT_DIR && w->n < WALK_MAX)
		w->queue[w->n++] = ino;
	return 0;
}

static void look_at(struct tfs *fs, uint64_t ino)
{
	static char buf[65536];
	struct stat st;
	ssize_t n;

	if (tfs_getattr(fs, ino, &st))
		return;
	if (S_ISLNK(st.st_mode)) {
		n = tfs_readlink(fs, ino, buf, sizeof(buf));
		if (n >= 0 && (size_t)n < sizeof(buf) && buf[n] != '\0')
			abort();
	}
	if (S_ISREG(st.st_mode)) {
		n = tfs_read(fs, ino, 0, buf, sizeof(buf));
		if (n > (ssize_t)sizeof(buf))
			abort();
		if (st.st_size > 16)
			tfs_read(fs, ino, (uint64_t)st.st_size - 16, buf, 64);
	}
	n = tfs_listxattr(fs, ino, buf, sizeof(buf) - 1);
	if (n > (ssize_t)sizeof(buf) - 1)
		abort();
	if (n > 0) {
		char names[4096], val[256];
		size_t len = (size_t)n < sizeof(names) ? (size_t)n :
			     sizeof(names) - 1;

		memcpy(names, buf, len);
		names[len] = '\0';
		for (char *p = names; p < names + len; p += strlen(p) + 1)
			tfs_getxattr(fs, ino, p, val, sizeof(val));
	}
}

static void walk(struct tfs *fs)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct statvfs sv;

	if (!w)
		return;
	w->fs = fs;
	w->queue[w->n++] = TFS_ROOT_INO;
	for (size_t i = 0; i < w->n; i++) {
		uint64_t p;

		w->parent = w->queue[i];
		look_at(fs, w->parent);
		tfs_parent(fs, w->parent, &p);
		if (tfs_readdir(fs, w->parent, 1, walk_entry, w) > 0)
			abort();
	}
	tfs_statfs(fs, &sv);
	free(w);
}

/* What every mount does to a filesystem, on whatever it found. */
static void change(struct tfs *fs)
{
	static char buf[9000];
	struct tfs_cred c = { 0, 0 };
	struct stat st, d;

	memset(buf, 'z', sizeof(buf));
	if (tfs_mkdir(fs, TFS_ROOT_INO, "fuzz-dir", 0755, &c, &d) == 0 &&
	    tfs_create(fs, d.st_ino, "f", 0644, &c, &st) == 0) {
		tfs_write(fs, st.st_ino, 0, buf, 100);
		tfs_write(fs, st.st_ino, 100, buf, sizeof(buf));
		tfs_setxattr(fs, st.st_ino, "user.k", "v", 1, 0);
		tfs_close_file(fs, st.st_ino);
		tfs_rename(fs, d.st_ino, "f", TFS_ROOT_INO, "fuzz-f", 0);
		tfs_rmdir(fs, TFS_ROOT_INO, "fuzz-dir");
		tfs_unlink(fs, TFS_ROOT_INO, "fuzz-f");
	}
	tfs_symlink(fs, TFS_ROOT_INO, "fuzz-l", "target", &c, &st);
	tfs_unlink(fs, TFS_ROOT_INO, "fuzz-l");
}

static int check(bool repair)
{
	struct fsd_buf out = { 0 };
	struct mixfs_err err = { 0 };
	int ret = tfs_fsck(db_uri, repair, &out, &err);

	if (ret < 0 && !err.msg[0])
		abort();
	fsd_buf_release(&out);
	return ret;
}

static void open_walk_change(void)
{
	struct mixfs_err err = { 0 };
	struct tfs *fs;
	int ret = tfs_open(db_uri, NULL, false, &fs, &err);

	if (ret > 0 || (ret < 0 && !err.msg[0]))
		abort();
	if (ret)
		return;
	walk(fs);
	change(fs);
	walk(fs);
	tfs_close(fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (size > 256 * 1024)
		return 0;
	setup();
	write_db(data, size);
	check(false);
	open_walk_change();
	ret = check(true);
	if (ret != 0)
		return 0;	/* not repairable, or no filesystem at all */
	open_walk_change();
	if (check(false) != 0)
		abort();	/* repair was not clean, or tablefs broke it */
	return 0;
}
